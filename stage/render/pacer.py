"""The frame pacer: the draw loop, its cadence, its statistics and its trace.

Each frame is drawn for the moment it will be shown (its deadline). Without a flip that waits
for the display, the loop paces itself: it wakes early enough to draw everything that does not
depend on the players (the film, the grid and trail so far, the text layers), then waits until
just before the deadline to read the players' feeds and draw what they add, and flips at once.
Frames leave at an even cadence however long each took, and what they show of the players is
as fresh as that last step's few hundred microseconds allow.

The loop reads: the transport, the controller's view state, the director's players, the feeds.
It moves nothing; key presses go onto the control queue like any other action.
"""

from __future__ import annotations

import collections
import json
import queue
import sys
import threading

import numpy as np
import pygame

from .. import clock as _clock


class TraceWriter:
    """One JSON object per presented frame, written by its own thread."""

    def __init__(self, path):
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._f = open(path, "w", encoding="utf-8")
        self._t = threading.Thread(target=self._run, name="stage-trace", daemon=True)
        self._t.start()

    def put(self, obj):
        self._q.put(obj)

    def _run(self):
        while True:
            obj = self._q.get()
            if obj is None:
                break
            self._f.write(json.dumps(obj, separators=(",", ":")) + "\n")
        self._f.close()

    def close(self):
        self._q.put(None)
        self._t.join(timeout=5)


def percentile(xs, q):
    return float(np.percentile(np.asarray(xs), q)) if len(xs) else None


class Series:
    """The newest ``capacity`` values (or rows of ``width``), in a numpy ring made and written
    through when the show starts: a whole evening of frames adds nothing to the memory (a deque
    of Python floats grew by about 80 MB an hour at 60 fps with 8 players)."""

    def __init__(self, capacity: int, width: int | None = None):
        shape = (capacity,) if width is None else (capacity, width)
        self._a = np.empty(shape, np.float64)
        self._a.fill(0.0)                       # its pages are taken now, not one by one later
        self.capacity = capacity
        self.count = 0                          # values ever appended

    def append(self, value) -> None:
        self._a[self.count % self.capacity] = value
        self.count += 1

    def extend(self, values) -> None:
        for v in values:
            self.append(v)

    def __len__(self) -> int:
        return min(self.count, self.capacity)

    def __bool__(self) -> bool:
        return self.count > 0

    def values(self) -> np.ndarray:
        """What is kept, oldest first (a copy)."""
        n = len(self)
        if self.count <= self.capacity:
            return self._a[:n].copy()
        k = self.count % self.capacity
        return np.concatenate([self._a[k:], self._a[:k]])

    def __array__(self, dtype=None, copy=None):
        v = self.values()
        return v if dtype is None else v.astype(dtype)

    def __getitem__(self, i: int):
        n = len(self)
        if not -n <= i < n:
            raise IndexError(i)
        i = i % n
        return self._a[(self.count - n + i) % self.capacity]


LATE_MARGIN = 0.0003       # seconds kept in hand before the deadline for the last step


class FramePacer:
    def __init__(self, window, renderer, controls, view=lambda: None, pending=lambda: None,
                 on_resize=None, fps: int = 60, clock=_clock.now, trace_path=None, stall=None):
        self.window, self.renderer, self.controls = window, renderer, controls
        self.view, self.pending, self.on_resize = view, pending, on_resize
        self.fps, self.clock = fps, clock
        self.trace = TraceWriter(trace_path) if trace_path else None
        self.stall = stall                          # tests: (after s, for s) the loop stops dead once
        self.frames = 0
        self.frames_late = 0
        # bounded, and allocated now: a long show keeps the last ~4.6 hours of frames (8 MB),
        # the last ~17 minutes of results at 8 players (4 MB) and of the frames' work (4 MB)
        self.present_times = Series(1_000_000)
        self.latencies = Series(500_000)
        self.recent_latencies: collections.deque[float] = collections.deque(maxlen=2000)   # for the HUD
        # (early draw, late draw, flip, latch to present, how early/late the flip started) in seconds
        self.work_times = Series(100_000, 5)
        self.t_start = None
        self._pacing = True
        self.fs = None                              # the last frame's state

    def run(self, seconds: float | None = None, snapshot=None) -> dict:
        period = 1.0 / self.fps
        # the analysis and film threads hold the GIL in short bursts; a 5 ms switch interval
        # (Python's default) would let one of them delay a frame by that much
        sys.setswitchinterval(0.0005)
        _clock.raise_thread_priority(-5)       # where allowed: the picture before background work
        _clock.place_thread(first_core=True)   # and a core of its own (the decoder keeps off it)
        win, ren = self.window, self.renderer
        t_start = self.t_start = self.clock()
        deadline = t_start + period
        early_times: collections.deque[float] = collections.deque(maxlen=240)
        late_times: collections.deque[float] = collections.deque(maxlen=240)

        def budget(times, default, margin):
            # the slowest of the last 4 s, less outliers, and a margin
            return (float(np.percentile(times, 99)) if len(times) >= 10 else default) + margin

        flip_times = []
        stalled = False
        try:
            while win.running:
                pacing = self._pacing
                late_budget = budget(late_times, period / 4, LATE_MARGIN)
                if pacing:
                    _clock.sleep_until(deadline - min(period, budget(early_times, period / 4, 0.001) + late_budget),
                                       self.clock)
                t_begin = self.clock()
                win.handle_events(self.controls, self.clock)
                if win.resized:
                    win.resized = False
                    if self.on_resize is not None:
                        self.on_resize(win.size)
                shown_at = deadline if pacing else t_begin
                fs = ren.state(shown_at, self.view(), self.pending())
                self.fs = fs
                ren.draw_early(win.screen, fs)
                t_early = self.clock()
                if pacing:
                    _clock.sleep_until(deadline - late_budget, self.clock)
                t_latch = self.clock()
                drawn = ren.draw_late(win.screen, fs)
                t1 = self.clock()
                win.flip()
                t_present = self.clock()
                early_times.append(t_early - t_begin)
                late_times.append(t1 - t_latch)
                flip_times.append(t_present - t1)
                self.work_times.append((t_early - t_begin, t1 - t_latch, t_present - t1, t_present - t_latch,
                                        t1 - deadline if pacing else 0.0))
                self.frames += 1
                if self.present_times and t_present - self.present_times[-1] > 1.5 * period:
                    self.frames_late += 1
                self.present_times.append(t_present)
                # every analysis result drawn in this frame: capture of its last sample -> this flip
                lat = [t_present - t for t in drawn]
                self.latencies.extend(lat)
                self.recent_latencies.extend(lat)
                if self.trace is not None:
                    self.trace.put(self._trace_obj(fs, t_present, t_latch))
                # the operator's monitor: after the projector's flip (never delaying it), at half
                # the projector's rate (the operator reads it; the audience watches the other)
                if win.monitor is not None and self.frames % 2 == 0:
                    self._draw_monitor(fs)
                if seconds is not None and t_present - t_start >= seconds:
                    break
                if self.stall is not None and not stalled and t_present - t_start >= self.stall[0]:
                    stalled = True                   # a window dragged, a machine hiccup: stop dead
                    _clock.sleep_until(self.clock() + self.stall[1], self.clock)
                if win.vsync and len(flip_times) == 30:
                    self._pacing = float(np.median(flip_times)) < 0.002   # flips do not wait: pace ourselves
                deadline += period
                if self.clock() > deadline:          # fell behind by a whole frame: skip to the present
                    deadline += period * int((self.clock() - deadline) / period + 1)
            if snapshot:
                pygame.image.save(win.screen, str(snapshot))
            if win.monitor is not None and win.opt.monitor_snapshot:
                pygame.image.save(win.monitor.get_surface(), str(win.opt.monitor_snapshot))
        finally:
            if self.trace is not None:
                self.trace.close()
        return self.stats()

    def _draw_monitor(self, fs) -> None:
        win, ren = self.window, self.renderer
        surf = win.monitor.get_surface()
        canvas = surf if surf.get_size() == ren.size else getattr(self, "_canvas", None)
        if canvas is None or canvas.get_size() != ren.size:
            canvas = self._canvas = pygame.Surface(ren.size)
        v = fs.view
        shows = "BLACKOUT" if v.blackout else f"{v.view} view" + (f", faded {int(100 * fs.fade)}%" if fs.fade > 0 else "")
        ren.draw_monitor(canvas, fs, shows)
        if canvas is not surf:
            pygame.transform.scale(canvas, surf.get_size(), surf)
        win.monitor.flip()

    def _trace_obj(self, fs, t_present, t_latch):
        """What this frame showed: the film's frame, and each player's newest result drawn."""
        players = {}
        for lv in self.renderer.lanes.lanes:
            t, f0, level = lv.last_drawn
            players[lv.player.name] = {"f0_hz": round(f0, 3), "level_db": None if t is None else round(level, 2),
                                       "t_capture": t, "t_publish": lv.last_publish,
                                       "t_note": list(getattr(lv, "note_start", (None, None))), "status": lv.status}
        film = None
        if fs.pos is not None:
            shown = self.renderer.film_layer.shown()           # what is on screen (None: nothing yet,
            frame, pass_no = shown if shown is not None else (fs.pos.frame, fs.pos.pass_no)   # the frame due)
            film = {"frame": frame, "timecode": self.renderer.film.tc.label(frame), "pass": pass_no,
                    "playing": fs.pos.playing, "blackout": fs.view.blackout, "cue": fs.pos.cue,
                    "epoch": fs.pos.epoch, "shown": shown is not None}
        return {"t_present": t_present, "t_latch": t_latch, "frame": self.frames, "players": players,
                "film": film, "view": fs.view.view, "fade": round(fs.fade, 3)}

    def stats(self) -> dict:
        iv = np.diff(self.present_times.values()) * 1000 if len(self.present_times) > 1 else []
        lat = self.latencies.values() * 1000
        w = self.work_times.values().reshape(-1, 5)
        r = lambda v: None if v is None else round(v, 2)  # noqa: E731
        ms = lambda i, q: r(percentile(w[:, i] * 1000, q))   # noqa: E731
        return {
            "frames_drawn": self.frames,
            "frames_dropped": self.renderer.film_layer.dropped,
            "frames_late": self.frames_late,
            "frame_interval_p50_ms": r(percentile(iv, 50)),
            "frame_interval_p99_ms": r(percentile(iv, 99)),
            "latency_p50_ms": r(percentile(lat, 50)),
            "latency_p99_ms": r(percentile(lat, 99)),
            "draw_p50_ms": r(percentile((w[:, 0] + w[:, 1]) * 1000, 50)),
            "draw_p99_ms": r(percentile((w[:, 0] + w[:, 1]) * 1000, 99)),
            "late_draw_p50_ms": ms(1, 50),
            "late_draw_p99_ms": ms(1, 99),
            "flip_p50_ms": ms(2, 50),
            "flip_p99_ms": ms(2, 99),
            "read_to_present_p50_ms": ms(3, 50),
            "read_to_present_p99_ms": ms(3, 99),
            "flip_start_late_p99_ms": ms(4, 99),
            "vsync": self.window.vsync,
        }
