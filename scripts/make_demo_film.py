#!/usr/bin/env python3
"""Make the demo film: a short night-time noir sequence, drawn procedurally.

Night, rain, a lift's floor indicator, a street, with real cuts between shots. 2.40:1 scope,
24 fps, H.264. Reproducible (fixed seeds); remake with:

    python scripts/make_demo_film.py assets/demo_film.mp4
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from fractions import Fraction

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import av  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402

W, H = 960, 400
FPS = 24


class Rain:
    def __init__(self, n, seed, slant=0.18, speed=(900, 1400), length=(10, 26), alpha=(60, 140)):
        r = np.random.default_rng(seed)
        self.x = r.uniform(-100, W + 100, n)
        self.y = r.uniform(-H, H, n)
        self.v = r.uniform(*speed, n)
        self.len = r.uniform(*length, n)
        self.a = r.integers(*alpha, n)
        self.slant = slant

    def draw(self, surf, t):
        y = (self.y + self.v * t) % (H + 60) - 30
        x = self.x + y * self.slant
        for xi, yi, li, ai in zip(x, y, self.len, self.a):
            pygame.draw.line(surf, (ai, ai, ai + 10, ai), (xi, yi), (xi + li * self.slant, yi + li), 1)


_GLOWS: dict = {}


def glow(surf, centre, radius, colour):
    """Light added onto the picture: a soft radial falloff, added (not painted over)."""
    radius = max(2, int(radius))
    key = (radius, colour)
    g = _GLOWS.get(key)
    if g is None:
        yy, xx = np.mgrid[-radius:radius, -radius:radius]
        d = np.sqrt(xx ** 2 + yy ** 2) / radius
        f = (np.clip(1.0 - d, 0, 1) ** 2.2) * (colour[3] / 255.0)
        rgb = (f[..., None] * np.array(colour[:3], np.float32)).astype(np.uint8)
        g = pygame.surfarray.make_surface(rgb.swapaxes(0, 1))
        _GLOWS[key] = g
    surf.blit(g, (int(centre[0]) - radius, int(centre[1]) - radius), special_flags=pygame.BLEND_RGB_ADD)


def shot_city(surf, t, rain, rng_windows):
    surf.fill((6, 8, 14))
    for i in range(H // 2):                                    # sky: a faint glow over the city
        c = int(10 + 26 * (i / (H / 2)) ** 2)
        pygame.draw.line(surf, (c // 2, c // 2, c), (0, i), (W, i))
    pan = t * 14
    for layer, (base, hmin, hmax, col, seed) in enumerate(((230, 60, 150, (20, 22, 30), 3), (300, 80, 220, (12, 13, 18), 5))):
        r = np.random.default_rng(seed)
        x = -200 + (pan * (0.5 + layer)) % 120 - 120
        while x < W + 100:
            bw = int(r.integers(50, 120))
            bh = int(r.integers(hmin, hmax))
            top = base - bh + layer * 40
            pygame.draw.rect(surf, col, (int(x), top, bw, H - top))
            if layer == 1:                                      # lit windows, a few flicker
                for wy in range(top + 10, H - 20, 16):
                    for wx in range(int(x) + 8, int(x) + bw - 8, 14):
                        k = (wx * 73 + wy * 37) % 97
                        if k < 23 and not (k == 5 and int(t * 3) % 2):
                            warm = 120 + k * 5
                            pygame.draw.rect(surf, (warm, int(warm * 0.8), 60), (wx, wy, 6, 8))
            x += bw + int(r.integers(2, 16))
    rain.draw(surf, t)


def shot_lift(surf, t, stuck: bool):
    surf.fill((18, 14, 10))
    for i in range(0, W, 6):                                   # panelled wall
        c = 22 + int(6 * math.sin(i * 0.05))
        pygame.draw.line(surf, (c, c - 4, c - 8), (i, 0), (i, H), 3)
    cx, cy, R = W // 2, int(H * 0.72), 230
    glow(surf, (cx, cy - 60), 380, (255, 200, 120, 110))
    pygame.draw.circle(surf, (70, 56, 30), (cx, cy), R + 18)           # brass dial
    pygame.draw.circle(surf, (150, 120, 60), (cx, cy), R + 10)
    pygame.draw.circle(surf, (28, 24, 18), (cx, cy), R)
    pygame.draw.rect(surf, (18, 14, 10), (cx - R - 30, cy + 2, 2 * R + 60, R + 40))
    font = pygame.font.Font(None, 56)
    labels = ["R", "1", "2", "3", "4", "5", "6"]
    for i, lab in enumerate(labels):
        a = math.pi * (1 - i / (len(labels) - 1))
        x, y = cx + math.cos(a) * (R - 45), cy - math.sin(a) * (R - 45)
        img = font.render(lab, True, (220, 190, 120))
        surf.blit(img, img.get_rect(center=(x, y)))
    if stuck:
        pos = 3.45 + 0.04 * math.sin(t * 23) * (t % 1.7 < 0.3)       # between floors, shuddering
        flick = (int(t * 12) % 7) != 0
    else:
        pos = min(5.0, 0.4 + t * 0.95)
        flick = True
    a = math.pi * (1 - pos / 6)
    tip = (cx + math.cos(a) * (R - 80), cy - math.sin(a) * (R - 80))
    pygame.draw.line(surf, (230, 210, 160), (cx, cy), tip, 6)
    pygame.draw.circle(surf, (180, 150, 80), (cx, cy), 16)
    if not flick:
        surf.fill((0, 0, 0, 120), special_flags=pygame.BLEND_RGBA_MULT)


def shot_street(surf, t, rain, car: bool):
    surf.fill((5, 6, 10))
    horizon = int(H * 0.42)
    for i in range(horizon, H):                                   # wet road
        c = 10 + int(18 * (i - horizon) / (H - horizon))
        pygame.draw.line(surf, (c, c, c + 6), (0, i), (W, i))
    pygame.draw.rect(surf, (14, 14, 20), (0, 60, 260, horizon - 60))   # buildings
    pygame.draw.rect(surf, (10, 10, 15), (700, 30, 260, horizon - 30))
    flick = 1.0 if (int(t * 9) % 23) else 0.35
    lamp = (620, 70)
    pygame.draw.line(surf, (30, 30, 34), (lamp[0], lamp[1]), (lamp[0], horizon + 40), 6)
    cone = pygame.Surface((W, H), pygame.SRCALPHA)
    pygame.draw.polygon(cone, (255, 220, 150, int(40 * flick)), [(lamp[0] - 8, lamp[1]), (lamp[0] + 8, lamp[1]),
                                                                  (lamp[0] + 170, H), (lamp[0] - 170, H)])
    surf.blit(cone, (0, 0))
    glow(surf, lamp, 70, (255, 230, 170, int(230 * flick)))
    glow(surf, (lamp[0], H - 70), 150, (255, 210, 140, int(80 * flick)))   # reflection in the wet road
    neon_on = (int(t * 2.3) % 5) != 0
    font = pygame.font.Font(None, 70)
    img = font.render("HOTEL", True, (255, 60, 70) if neon_on else (60, 20, 24))
    surf.blit(img, (40, 90))
    if neon_on:
        ref = pygame.transform.flip(img, False, True)
        ref.set_alpha(70)
        surf.blit(ref, (40, horizon + 70))
    if car:
        x = -300 + t * 260
        glow(surf, (x + 200, horizon + 36), 150, (255, 250, 220, 200))
        pygame.draw.rect(surf, (8, 8, 10), (int(x), horizon + 10, 190, 50), border_radius=14)
        pygame.draw.rect(surf, (8, 8, 10), (int(x) + 40, horizon - 20, 100, 40), border_radius=10)
        pygame.draw.circle(surf, (255, 250, 230), (int(x) + 182, horizon + 35), 7)
        pygame.draw.circle(surf, (170, 20, 20), (int(x) + 6, horizon + 35), 5)
    rain.draw(surf, t)


def shot_window(surf, t, rain, drops):
    surf.fill((10, 10, 16))
    blink = (int(t * 1.6) % 3) != 2
    glow(surf, (W * 0.7, H * 0.45), 340, (255, 40, 70, 220 if blink else 60))
    glow(surf, (W * 0.25, H * 0.6), 220, (60, 120, 255, 130))
    pygame.draw.rect(surf, (4, 4, 6), (0, 0, W, 26))           # window frame
    pygame.draw.rect(surf, (4, 4, 6), (0, H - 26, W, 26))
    pygame.draw.rect(surf, (4, 4, 6), (W // 2 - 10, 0, 20, H))
    for (x0, y0, v, r) in drops:                                 # drops running down the glass
        y = (y0 + v * t) % (H + 40) - 20
        pygame.draw.circle(surf, (150, 150, 170), (int(x0), int(y)), int(r))
        pygame.draw.line(surf, (60, 60, 80), (x0, y - 30), (x0, y), 2)
    # a figure: hat and shoulders against the light
    fx = W * 0.68
    pygame.draw.ellipse(surf, (0, 0, 0), (fx - 55, 120, 110, 130))
    pygame.draw.ellipse(surf, (0, 0, 0), (fx - 110, 105, 220, 36))
    pygame.draw.rect(surf, (0, 0, 0), (fx - 45, 60, 90, 60), border_radius=8)
    pygame.draw.ellipse(surf, (0, 0, 0), (fx - 150, 230, 300, 260))
    if 1.2 < t < 1.7 or 3.1 < t < 3.4:                          # a cigarette's glow
        glow(surf, (fx + 40, 215), 16, (255, 120, 40, 220))
    rain.draw(surf, t)


def title(surf, t, text, start, end):
    if start <= t < end:
        a = min(1.0, (t - start) / 0.8, (end - t) / 0.8)
        font = pygame.font.Font(None, 92)
        img = font.render(text, True, (235, 235, 235))
        img.set_alpha(int(255 * a))
        surf.blit(img, img.get_rect(center=(W // 2, H // 2)))


SHOTS = [  # (start s, end s, name)
    (0.0, 6.0, "city"), (6.0, 11.0, "lift"), (11.0, 16.5, "street-car"), (16.5, 21.0, "window"),
    (21.0, 25.5, "lift-stuck"), (25.5, 30.0, "street"),
]


def make(path, seconds: float = 30.0, crf: int = 32):
    pygame.init()
    pygame.display.set_mode((1, 1))
    surf = pygame.Surface((W, H), pygame.SRCALPHA)
    rain_far = Rain(200, 1, alpha=(40, 90))
    rain_near = Rain(110, 2, speed=(1400, 1900), length=(24, 44), alpha=(90, 170))
    r = np.random.default_rng(7)
    drops = [(r.uniform(0, W), r.uniform(0, H), r.uniform(30, 120), r.uniform(2, 5)) for _ in range(40)]
    yy, xx = np.mgrid[0:H, 0:W]
    vignette = (1.0 - 0.55 * (((xx - W / 2) / (W / 2)) ** 2 + ((yy - H / 2) / (H / 2)) ** 2) / 2).clip(0.3, 1.0)
    vignette = vignette[..., None].astype(np.float32)
    tint = np.array([0.92, 0.97, 1.08], np.float32)              # a cold night grade
    grain = np.random.default_rng(11)
    n = int(seconds * FPS)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=Fraction(FPS))
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.options = {"crf": str(crf), "preset": "slow", "g": str(FPS * 2), "tune": "grain"}
        for i in range(n):
            t = i / FPS
            shot = next(sh for sh in SHOTS if sh[0] <= t < sh[1])
            ts = t - shot[0]
            name = shot[2]
            if name == "city":
                shot_city(surf, t, rain_far, None)
                title(surf, ts, "NIGHT LIFT", 1.0, 5.2)
            elif name.startswith("lift"):
                shot_lift(surf, ts, name == "lift-stuck")
            elif name.startswith("street"):
                shot_street(surf, ts, rain_near, name == "street-car")
            else:
                shot_window(surf, ts, rain_near, drops)
            rgb = pygame.surfarray.pixels3d(surf).swapaxes(0, 1).astype(np.float32)
            lum = rgb.mean(axis=2, keepdims=True)
            rgb = (0.55 * lum + 0.45 * rgb) * tint * vignette          # mostly black and white
            rgb += grain.normal(0, 3.0, (H // 4, W // 4, 1)).repeat(4, 0).repeat(4, 1).astype(np.float32)
            fr = av.VideoFrame.from_ndarray(rgb.clip(0, 255).astype(np.uint8), format="rgb24")
            fr.pts = i
            for p in s.encode(fr):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    pygame.quit()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default="assets/demo_film.mp4")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--crf", type=int, default=32)
    a = ap.parse_args()
    make(a.out, a.seconds, a.crf)
    print(f"wrote {a.out} ({os.path.getsize(a.out) / 1e6:.2f} MB)", file=sys.stderr)
