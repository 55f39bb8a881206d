"""stage: the film loop on the projector with every player's live pitch and intensity over it."""

__version__ = "0.1.0"
