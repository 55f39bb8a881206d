"""What the analysis thread publishes and the draw loop reads, without either waiting.

One writer (the analysis thread) per feed. Each entry is written field by field and only
then counted, so a reader that looks at ``count`` first never sees a half-written entry.
Every entry carries the capture time of the last sample it used (CLOCK_MONOTONIC_RAW).
"""

from __future__ import annotations

import numpy as np


FEED_FIELDS = (("t", np.float64, 0.0), ("f0", np.float32, 0.0), ("conf", np.float32, 0.0),
               ("level", np.float32, -120.0), ("peak", np.float32, -120.0), ("onset", np.bool_, False),
               ("tp", np.float64, 0.0), ("_n", np.int64, 0), ("_tpub", np.float64, 0.0))


def feed_layout(capacity: int):
    """(name, shape, dtype, fill) of a feed's arrays: its entries, then its count and the time
    its newest entry was handed over (one each), so a feed can live in shared memory."""
    return [(n, (1,) if n in ("_n", "_tpub") else (capacity,), dt, fill) for n, dt, fill in FEED_FIELDS]


class PlayerFeed:
    def __init__(self, name: str, capacity: int = 8192, arrays: dict | None = None):
        self.name = name
        self.capacity = capacity
        if arrays is None:
            arrays = {n: np.full(shape, fill, dt) for n, shape, dt, fill in feed_layout(capacity)}
        self.t, self.f0, self.conf = arrays["t"], arrays["f0"], arrays["conf"]       # capture times, pitch
        self.level, self.peak, self.onset = arrays["level"], arrays["peak"], arrays["onset"]
        self.tp = arrays["tp"]                        # when each entry was handed over
        self._n, self._tpub = arrays["_n"], arrays["_tpub"]

    @property
    def count(self) -> int:
        """Entries written (published last: a reader never sees an entry not yet written)."""
        return int(self._n[0])

    @property
    def t_publish(self) -> float:
        """When the newest entry was handed over (for the latency budget)."""
        return float(self._tpub[0])

    @t_publish.setter
    def t_publish(self, v: float) -> None:
        self._tpub[0] = v

    def push(self, t_capture: float, frame, t_publish: float = 0.0) -> None:
        k = int(self._n[0]) % self.capacity
        self.t[k] = t_capture
        self.f0[k] = frame.f0_hz
        self.conf[k] = frame.confidence
        self.level[k] = frame.level_db
        self.peak[k] = frame.peak_db
        self.onset[k] = frame.onset
        self.tp[k] = t_publish
        self._tpub[0] = t_publish
        self._n[0] += 1

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
        self.analysis_busy_s = 0.0   # (where the analysis runs elsewhere: its time, as it says)

    @property
    def overruns(self) -> int:
        """Blocks lost on the way in: the device's overflows and the hops the analysis lost."""
        return self.overflows + self.lapped


class SharedFeeds:
    """Every audio player's feed in one block of shared memory: the capture process's analysis
    writes them, the show reads them."""

    def __init__(self, names: list[str], capacity: int = 8192, name: str | None = None, create: bool = False):
        from multiprocessing import shared_memory
        layout = feed_layout(capacity)
        sizes = [int(np.prod(shape)) * np.dtype(dt).itemsize for _, shape, dt, _ in layout]
        per = sum(sizes)
        self.shm = shared_memory.SharedMemory(name=name, create=create, size=max(1, per * len(names)))
        if not create:
            from .ring import _untrack
            _untrack(self.shm)
        self.name = self.shm.name
        self.feeds = []
        off = 0
        for player in names:
            arrays = {}
            for (n, shape, dt, fill), size in zip(layout, sizes):
                a = np.ndarray(shape, dt, buffer=self.shm.buf, offset=off)
                if create:
                    a.fill(fill)
                arrays[n] = a
                off += size
            self.feeds.append(PlayerFeed(player, capacity, arrays))

    def close(self, unlink: bool = False) -> None:
        for f in self.feeds:                 # readers after this see the last of it, in copies
            for n in ("t", "f0", "conf", "level", "peak", "onset", "tp", "_n", "_tpub"):
                setattr(f, n, np.array(getattr(f, n)))
        try:
            self.shm.close()
            if unlink:
                self.shm.unlink()
        except (BufferError, FileNotFoundError):
            pass
