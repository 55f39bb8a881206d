"""The ghost of the last pass: what each player played at this moment of the film last time
round, drawn faintly in their lane, from the recorded analysis.

:class:`GhostStore` keeps the analysis rows the recorder wrote (stage.takes.records), by player,
cue and pass; or, for ``--ghost TAKE``, the rows of a take read back from its files (its last
whole pass). :class:`GhostLayer` draws, for each moment the lanes scroll through, the value of
the pass before at the same film position: a second trail, scrolled with the players' own and
painted under it. Pure data in, pixels out; it reads the transport, never moves it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pygame

from ..music import hz_to_midi

GHOST_ALPHA = 90


class GhostStore:
    """Analysis rows by (player, cue, pass): the recorder adds to it as it records."""

    def __init__(self, fixed: dict | None = None):
        self._lock = threading.Lock()
        self._rows: dict[tuple, list] = {}         # (player, cue, pass) -> [row arrays]
        self._sorted: dict[tuple, tuple] = {}       # the same, as (offsets, f0) sorted by offset
        self.fixed = fixed                          # player -> (offsets, f0): a chosen take's pass
        self._visits: dict[tuple, object] = {}      # (player, cue) -> the visit its rows are of

    def add(self, player: str, rows, cue: int | None = None, loop_in_s: float = 0.0, visit=None) -> None:
        """Rows of ``stage.takes.records.ANALYSIS_DTYPE`` (film_s, loop_pass, f0_hz ...) of one
        ``visit`` of the cue (when it began: its passes count from 1 again each time it is
        played): a new visit lets go of the last one's passes, which are no pass before any of
        its own (without this, every visit's first pass was drawn at once, and kept for good)."""
        if cue is None:
            return
        with self._lock:
            if visit is not None and self._visits.get((player, cue), visit) != visit:
                for k in [k for k in self._rows if k[0] == player and k[1] == cue]:
                    self._rows.pop(k, None)
                    self._sorted.pop(k, None)
            if visit is not None:
                self._visits[(player, cue)] = visit
            for p in np.unique(rows["loop_pass"]):
                sel = rows[rows["loop_pass"] == p]
                key = (player, cue, int(p))
                self._rows.setdefault(key, []).append(np.stack([sel["film_s"] - loop_in_s, sel["f0_hz"]], axis=1))
                self._sorted.pop(key, None)
            # a long evening: keep the last few passes only
            mine = sorted(k for k in self._rows if k[0] == player and k[1] == cue)
            for k in mine[:-4]:
                self._rows.pop(k, None)
                self._sorted.pop(k, None)

    def pass_of(self, player: str, cue: int, pass_no: int):
        """(offsets, f0) of that pass, sorted by offset, or None."""
        if self.fixed is not None:
            return self.fixed.get(player)
        key = (player, cue, pass_no)
        got = self._sorted.get(key)
        if got is None:
            with self._lock:
                parts = self._rows.get(key)
                if not parts:
                    return None
                a = np.concatenate(parts)
            a = a[np.argsort(a[:, 0], kind="stable")]
            got = (a[:, 0].copy(), a[:, 1].copy())
            self._sorted[key] = got
        return got

    @classmethod
    def from_take(cls, folder) -> "GhostStore":
        """A take's last whole pass (its only pass, if it has one) for every audio player."""
        import json
        folder = Path(folder)
        m = json.loads((folder / "manifest.json").read_text())
        loop = m.get("film", {}).get("loop")
        from fractions import Fraction
        fps = float(Fraction(str(m["film"]["fps"])))
        from ..film.timecode import TimecodeFormat
        tc = TimecodeFormat(Fraction(str(m["film"]["fps"])).limit_denominator(1001), bool(m["film"].get("drop_frame")))
        start = tc.label_to_count(m["film"]["first_frame"]) if m["film"].get("first_frame") else 0
        loop_in = (tc.label_to_count(loop[0]) - start) / fps if loop else 0.0
        fixed = {}
        for name, rel in m.get("files", {}).get("analysis", {}).items():     # player -> its .npy
            a = np.load(folder / rel)
            if not len(a):
                continue
            passes = np.unique(a["loop_pass"])
            whole = passes[:-1] if len(passes) > 1 else passes     # the last may be cut short
            sel = a[a["loop_pass"] == whole[-1]]
            off = sel["film_s"] - loop_in
            order = np.argsort(off, kind="stable")
            fixed[name] = (off[order], sel["f0_hz"][order])
        return cls(fixed)


class GhostLayer:
    """A faint second trail under the players' own: the pass before, at the same film time."""

    def __init__(self, lanes, store: GhostStore, transport, fps: float):
        self.lanes, self.store, self.transport = lanes, store, transport
        self.trail = pygame.Surface(lanes.trail.get_size(), pygame.SRCALPHA)
        self.trail.fill((0, 0, 0, 0))
        self.t_right = None
        self.prev = {}                                  # lane -> (x, y) of the last point drawn
        self.max_gap = 2.0 / fps + 0.02                 # a gap in the pass's rows this long is a rest

    def scroll_to(self, t_right: float) -> None:
        """Follow the lanes' trail (called after it has scrolled), then draw the new stretch."""
        lanes = self.lanes
        if self.t_right is None:
            self.t_right = lanes.t_right
            return
        dx = int(round((lanes.t_right - self.t_right) * lanes.pps))
        if dx <= 0:
            return
        w, h = self.trail.get_size()
        if dx >= w:
            self.trail.fill((0, 0, 0, 0))
        else:
            self.trail.scroll(-dx, 0)
            self.trail.fill((0, 0, 0, 0), (w - dx, 0, dx, h))
        t_from = self.t_right
        self.t_right = lanes.t_right
        self.prev = {k: (x - dx, y) for k, (x, y) in self.prev.items()}
        self._draw(t_from, self.t_right, dx)

    def _draw(self, t_from: float, t_to: float, dx: int) -> None:
        lanes, tr = self.lanes, self.transport
        w = self.trail.get_width()
        for k in range(dx):
            x = w - dx + k
            t = t_from + (k + 1) / lanes.pps
            pos = tr.at_past(t)
            if not pos.playing:
                continue
            for i, lv in enumerate(lanes.lanes):
                if getattr(lv.player, "is_midi", False):
                    continue
                got = self.store.pass_of(lv.player.name, pos.cue, pos.pass_no - 1)
                if got is None:
                    self.prev.pop(i, None)
                    continue
                offs, f0s = got
                j = int(np.searchsorted(offs, pos.offset))
                cand = [c for c in (j - 1, j) if 0 <= c < len(offs)]
                if not cand:
                    continue
                c = min(cand, key=lambda c: abs(offs[c] - pos.offset))
                if abs(offs[c] - pos.offset) > self.max_gap or f0s[c] <= 0:
                    self.prev.pop(i, None)
                    continue
                g = lv.geom
                y = g.y_for_midi(hz_to_midi(float(f0s[c]), g.a4) + g.shift)
                if not g.top <= y <= g.top + g.height:
                    self.prev.pop(i, None)
                    continue
                col = (*lv.player.colour, GHOST_ALPHA)
                p = self.prev.get(i)
                if p is not None and x - p[0] <= 2 and abs(p[1] - y) < g.height / (g.hi - g.lo) * 1.5:
                    pygame.draw.line(self.trail, col, p, (x, y), 3)
                else:
                    pygame.draw.line(self.trail, col, (x - 1, y), (x, y), 3)
                self.prev[i] = (x, y)

    def paint(self, surface) -> None:
        from .strips import blit_strips
        blit_strips(surface, self.trail)

    def paint_area(self, surface, area) -> None:
        surface.blit(self.trail, area.topleft, area)
