"""Text, rendered once and kept: large, high-contrast type for a projector five metres away."""

from __future__ import annotations

import pygame


class Text:
    def __init__(self, scale: float = 1.0, limit: int = 1024):
        self.scale = scale
        self._fonts: dict[int, pygame.font.Font] = {}
        self._cache: dict[tuple, pygame.Surface] = {}
        self._limit = limit

    def close(self) -> None:
        """Let go of the fonts (each holds its font file open) and what they rendered."""
        self._fonts.clear()
        self._cache.clear()

    def font(self, px: int) -> pygame.font.Font:
        px = max(8, int(px))
        f = self._fonts.get(px)
        if f is None:
            f = pygame.font.Font(None, px)      # pygame's bundled sans, no system fonts needed
            self._fonts[px] = f
        return f

    def render(self, s: str, px: int, colour, shadow: bool = True) -> pygame.Surface:
        key = (s, int(px), tuple(colour), shadow)
        surf = self._cache.get(key)
        if surf is None:
            if len(self._cache) >= self._limit:
                self._cache.clear()
            f = self.font(px)
            fg = f.render(s, True, colour)
            if shadow:
                off = max(1, int(px) // 16)
                surf = pygame.Surface((fg.get_width() + off, fg.get_height() + off), pygame.SRCALPHA)
                sh = f.render(s, True, (0, 0, 0))
                surf.blit(sh, (off, off))
                surf.blit(fg, (0, 0))
            else:
                surf = fg
            self._cache[key] = surf
        return surf
