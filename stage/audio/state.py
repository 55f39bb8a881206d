"""What the analysis thread publishes and the draw loop reads, without either waiting.

One writer (the analysis thread) per feed. Each entry is written field by field and only
then counted, so a reader that looks at ``count`` first never sees a half-written entry.
Every entry carries the capture time of the last sample it used (CLOCK_MONOTONIC_RAW).
"""

from __future__ import annotations

import numpy as np


class PlayerFeed:
    def __init__(self, name: str, capacity: int = 8192):
        self.name = name
        self.capacity = capacity
        self.t = np.zeros(capacity, np.float64)
        self.f0 = np.zeros(capacity, np.float32)
        self.conf = np.zeros(capacity, np.float32)
        self.level = np.full(capacity, -120.0, np.float32)
        self.peak = np.full(capacity, -120.0, np.float32)
        self.onset = np.zeros(capacity, np.bool_)
        self.tp = np.zeros(capacity, np.float64)      # when each entry was handed over
        self.count = 0
        self.t_publish = 0.0       # when the newest entry was handed over (for the latency budget)

    def push(self, t_capture: float, frame, t_publish: float = 0.0) -> None:
        k = self.count % self.capacity
        self.t[k] = t_capture
        self.f0[k] = frame.f0_hz
        self.conf[k] = frame.confidence
        self.level[k] = frame.level_db
        self.peak[k] = frame.peak_db
        self.onset[k] = frame.onset
        self.tp[k] = t_publish
        self.t_publish = t_publish
        self.count += 1

    def latest(self):
        """(t_capture, f0, confidence, level_db, peak_db) of the newest entry, or None."""
        n = self.count
        if n == 0:
            return None
        k = (n - 1) % self.capacity
        return float(self.t[k]), float(self.f0[k]), float(self.conf[k]), float(self.level[k]), float(self.peak[k])

    def since(self, start: int, end: int | None = None) -> range:
        """Indices (absolute) of entries in [start, end) still held."""
        end = self.count if end is None else end
        return range(max(start, end - self.capacity + 1), end)

    def published(self, i: int) -> float:
        return float(self.tp[i % self.capacity])

    def at(self, i: int):
        k = i % self.capacity
        return float(self.t[k]), float(self.f0[k]), float(self.conf[k]), float(self.level[k]), bool(self.onset[k])


class InputStatus:
    """Counters and state of an input, read by the HUD. Each count has one writer: the device's
    callback (``blocks``, ``overflows``), the analysis thread (``lapped``), the input's watcher
    (``state``, ``reconnects``, ``gaps``)."""

    def __init__(self, device: str = "", state: str = "starting"):
        self.blocks = 0
        self.overflows = 0         # input overflows the device (or PortAudio) reported
        self.lapped = 0            # times the analysis found the ring had lapped it (hops lost)
        self.state = state         # starting | running | silent | lost...
        self.device = device
        self.latency_s = 0.0
        self.last_block_time = 0.0
        self.reconnects = 0
        self.gaps: list = []       # (lost at, back at) of each time the input went away

    @property
    def overruns(self) -> int:
        """Blocks lost on the way in: the device's overflows and the hops the analysis lost."""
        return self.overflows + self.lapped
