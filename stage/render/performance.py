"""The performance view: the players' data as artwork over the film, for an audience.

No text at all. Each player is a ribbon of light across one shared pitch space (low notes low,
high notes high, on a log-frequency scale), flowing from the right (now) to the left; its
width and the bloom at its head follow the level; onsets throw sparks. It reads the same
feeds as the studio view and keeps no state of its own beyond the sparks.
"""

from __future__ import annotations

import math

import numpy as np
import pygame

from ..midi.players import MidiFeed, velocity_db
from ..music import hz_to_midi, midi_to_hz
from .lanes import FUNCTION_COLOURS

F_LOW, F_HIGH = 40.0, 2000.0          # the pitch space shown: E1 to about B6
SECONDS = 6.0                         # how much history a ribbon shows
SPARK_S = 0.6                         # how long a spark lives


class PerformanceView:
    def __init__(self, players, feeds, size, a4: float = 440.0):
        self.players, self.feeds, self.a4 = players, feeds, a4
        self.resize(size)
        self.sparks: list[tuple[float, float, float, tuple]] = []   # (t, x, y, colour)
        self._seen_onsets = [self._onset_count(f) for f in feeds]

    def resize(self, size):
        self.size = size
        self.overlay = pygame.Surface(size, pygame.SRCALPHA)
        self.semitone = size[1] * 0.84 / (12 * math.log2(F_HIGH / F_LOW))    # pixels

    def y_for_hz(self, hz: float) -> float:
        w, h = self.size
        f = (math.log(hz) - math.log(F_LOW)) / (math.log(F_HIGH) - math.log(F_LOW))
        return h * (0.92 - 0.84 * max(0.0, min(1.0, f)))

    @staticmethod
    def _onset_count(feed) -> int:
        return feed.ons if isinstance(feed, MidiFeed) else feed.count

    def _points(self, feed, now: float):
        """(x, y, level) along a ribbon, newest last, every few hops (enough for a smooth line)."""
        w, h = self.size
        if isinstance(feed, MidiFeed):
            return [[(w * (1 - min(SECONDS, now - n.t_on) / SECONDS), self.y_for_hz(midi_to_hz(n.note + feed.bend)),
                      velocity_db(n.velocity)), (w, self.y_for_hz(midi_to_hz(n.note + feed.bend)), velocity_db(n.velocity))]
                    for n in feed.sounding]
        end = feed.count
        start = max(0, end - feed.capacity + 1)
        lines, cur = [], []
        for i in range(max(start, end - 1200), end, 3):
            t, f0, conf, level, onset = feed.at(i)
            age = now - t
            if age > SECONDS or age < -0.05:
                continue
            if f0 <= 0 or conf < 0.6:
                if len(cur) > 1:
                    lines.append(cur)
                cur = []
                continue
            y = self.y_for_hz(f0)
            if cur and abs(y - cur[-1][1]) > self.semitone * 1.5:    # a new note: a new stroke
                if len(cur) > 1:
                    lines.append(cur)
                cur = []
            cur.append((w * (1 - age / SECONDS), y, level))
        if len(cur) > 1:
            lines.append(cur)
        return lines

    def _head_midi(self, feed) -> float | None:
        """The note a player sounds now (MIDI number, concert), or None."""
        if isinstance(feed, MidiFeed):
            n = feed.newest()
            return None if n is None else n.note + feed.bend
        latest = feed.latest()
        return hz_to_midi(latest[1], self.a4) if latest and latest[1] > 0 else None

    def tint(self, col, feed, chord) -> tuple:
        """The player's colour tinted by what its note is against the chord sounding now: half
        way toward the chord-tone, scale-tone or outside colour of the studio view."""
        m = self._head_midi(feed) if chord is not None else None
        if m is None:
            return col
        t = FUNCTION_COLOURS[chord.function(int(round(m)))]
        return tuple(int(0.5 * a + 0.5 * b) for a, b in zip(col, t))

    def draw(self, screen: pygame.Surface, now: float, palette=None, chord=None) -> None:
        """``palette``: the cue's colours for the players, in order (None: the players' own);
        ``chord``: the harmony's chord now (None: no harmony), which tints each player's colour
        by its note's function."""
        ov = self.overlay
        ov.fill((0, 0, 0, 0))
        strokes = []
        tinted = []
        for i, (p, feed) in enumerate(zip(self.players, self.feeds)):
            col = self.tint(tuple(palette[i % len(palette)]) if palette else p.colour, feed, chord)
            tinted.append(col)
            for line in self._points(feed, now):
                pts = [(x, y) for x, y, _ in line]
                level = max(lv for _, _, lv in line[-8:])
                width = int(3 + max(0.0, 60.0 + level) / 60.0 * 18)
                strokes.append((col, pts, width))
                hx, hy = pts[-1]
                if SECONDS * (1 - hx / self.size[0]) < 0.2:                  # the head, while it is sounding
                    r = int(width * 2.2)                                     # bloom first: the ribbon over it
                    pygame.draw.circle(ov, (*col, 70), (int(hx), int(hy)), r * 2)
                    pygame.draw.circle(ov, (*col, 160), (int(hx), int(hy)), r)
        for col, pts, width in strokes:
            pygame.draw.lines(ov, (*col, 45), False, pts, width * 2)       # glow
            pygame.draw.lines(ov, (*col, 140), False, pts, width)
            pygame.draw.aalines(ov, (255, 255, 255, 220), False, pts)       # the bright core
        for i, feed in enumerate(self.feeds):
            col = tinted[i]
            # onsets: sparks at the ribbon's head
            n = self._onset_count(feed)
            if n != self._seen_onsets[i]:
                new = range(max(self._seen_onsets[i], n - 64), n)
                self._seen_onsets[i] = n
                for k in new:
                    if isinstance(feed, MidiFeed):
                        j = k % feed.capacity
                        self.sparks.append((float(feed.on_t[j]), self.size[0] - 2,
                                            self.y_for_hz(midi_to_hz(int(feed.on_note[j]))), col))
                    else:
                        t, f0, conf, level, onset = feed.at(k)
                        if onset and f0 > 0:
                            self.sparks.append((t, self.size[0] - 2, self.y_for_hz(f0), col))
        alive = []
        for t, x, y, col in self.sparks:
            age = now - t
            if age > SPARK_S:
                continue
            alive.append((t, x, y, col))
            k = age / SPARK_S
            r = int(8 + 80 * k)
            a = int(220 * (1 - k))
            for ang in np.linspace(0, 2 * math.pi, 9)[:-1]:
                sx, sy = x - r * 1.2 * k * 2 + r * math.cos(ang), y + r * math.sin(ang)
                pygame.draw.circle(ov, (255, 255, 255, a), (int(sx), int(sy)), max(1, int(4 * (1 - k))))
            pygame.draw.circle(ov, (*col, a // 2), (int(x), int(y)), r, 3)
        self.sparks = alive[-200:]
        screen.blit(ov, (0, 0))
