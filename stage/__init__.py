"""stage: the film loop on the projector with every player's live pitch and intensity over it."""

import os as _os

_os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
_os.environ.setdefault("SDL_AUDIODRIVER", "dummy")      # pygame.mixer is not used (it cannot use JACK)

__version__ = "0.1.0"
