"""Whole-screen blits in strips: pygame holds the GIL through a blit, and the audio callback
(Python) needs it every few milliseconds."""

from __future__ import annotations

import pygame

STRIP = 256   # rows per blit


def blit_strips(dst: "pygame.Surface", src: "pygame.Surface", pos=(0, 0)) -> None:
    """Blit in horizontal strips, so no single call holds the GIL for a whole-screen copy
    (a 1920x1080 alpha blit holds it ~1 ms; the audio callback's period is 5.3 ms). A clip
    set on ``dst`` is kept: strips outside it cost nothing."""
    x, y = pos
    w, h = src.get_size()
    clip = dst.get_clip()
    for top in range(0, h, STRIP):
        band = pygame.Rect(x, y + top, w, min(STRIP, h - top))
        if band.colliderect(clip):
            dst.blit(src, band.topleft, (0, top, w, band.height))
