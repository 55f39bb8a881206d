"""A preallocated multichannel ring that the audio callback writes and readers take hops from.

Channel-major storage (channels x capacity) so that a hop of one channel is a contiguous
view, handed to aubio without a copy. The write offset only grows (Friture's habit): a
reader keeps its own cursor and can tell by how much it has been overrun. Every block's
capture time is kept beside it.

The ring is a few numpy arrays and nothing else, so it can live in shared memory
(:class:`SharedRing`): the capture process writes it, the show's process reads it, and the
count of frames written is published last, after the samples and their time.
"""

from __future__ import annotations

import numpy as np

# the counters, in one int64 array: frames written, blocks written, input overflows the device
# reported, and the capture process's id, how many have started, and the frame the newest began at
# (shared rings only: a reader knows a capture that started again by them)
WRITTEN, BLOCKS, OVERFLOWS, PID, STARTS, START_FRAME, LAPPED = range(7)
# times, in one float64 array: the last block's arrival, the device's input latency, the time the
# capture process's analysis has spent (for the HUD)
LAST_BLOCK, LATENCY, ANALYSIS_BUSY = range(3)


def _capacity(samplerate: int, seconds: float) -> int:
    cap = 1
    while cap < samplerate * seconds:
        cap <<= 1
    return cap


class Ring:
    def __init__(self, channels: int, samplerate: int, seconds: float = 2.0, max_blocks: int = 4096,
                 arrays=None):
        self.channels = channels
        self.samplerate = samplerate
        self.capacity = cap = _capacity(samplerate, seconds)
        self._nts = max_blocks
        if arrays is None:
            arrays = (np.zeros((channels, cap), np.float32), np.zeros(max_blocks, np.int64),
                      np.zeros(max_blocks, np.float64), np.zeros(8, np.int64), np.zeros(4, np.float64))
        self.buf, self._ts_end, self._ts_time, self.count, self.times = arrays

    @staticmethod
    def layout(channels: int, samplerate: int, seconds: float = 2.0, max_blocks: int = 4096):
        """(shape, dtype) of each array, in order: samples, block ends, block times, counters, times."""
        cap = _capacity(samplerate, seconds)
        return [((channels, cap), np.float32), ((max_blocks,), np.int64), ((max_blocks,), np.float64),
                ((8,), np.int64), ((4,), np.float64)]

    @property
    def written(self) -> int:
        """Frames written since the start (published last: a reader never sees frames not yet copied)."""
        return int(self.count[WRITTEN])

    @property
    def blocks(self) -> int:
        return int(self.count[BLOCKS])

    def write(self, block: np.ndarray, t_last: float) -> None:
        """Copy one (frames x channels) block in. Called from the audio callback: no allocation
        beyond numpy views, no locks, no waiting."""
        n = block.shape[0]
        nch = min(block.shape[1], self.channels)
        written, blocks = int(self.count[WRITTEN]), int(self.count[BLOCKS])
        start = written & (self.capacity - 1)
        first = min(n, self.capacity - start)
        self.buf[:nch, start:start + first] = block[:first, :nch].T
        if first < n:
            self.buf[:nch, :n - first] = block[first:, :nch].T
        k = blocks % self._nts
        self._ts_end[k] = written + n
        self._ts_time[k] = t_last
        self.count[BLOCKS] = blocks + 1
        self.count[WRITTEN] = written + n          # last

    def view(self, channel: int, start: int, n: int) -> np.ndarray:
        """Frames [start, start+n) of a channel; start must not straddle the wrap (hops that
        divide the capacity never do)."""
        s = start & (self.capacity - 1)
        return self.buf[channel, s:s + n]

    def read(self, start: int, n: int, out: np.ndarray | None = None) -> np.ndarray:
        """Frames [start, start+n) of every channel as (n x channels), across the wrap (for a
        recorder: a copy, since the writer goes on)."""
        out = np.empty((n, self.channels), np.float32) if out is None else out
        s = start & (self.capacity - 1)
        first = min(n, self.capacity - s)
        out[:first] = self.buf[:, s:s + first].T
        if first < n:
            out[first:] = self.buf[:, :n - first].T
        return out

    def time_of(self, end: int) -> float:
        """Capture time of sample ``end - 1`` (the last of the frames before ``end``), from the
        block that held it; extrapolated from the newest block if that one is forgotten."""
        blocks, n = self.blocks, self._nts
        newest = (blocks - 1) % n
        for back in range(min(blocks, n)):
            k = (blocks - 1 - back) % n
            block_end = int(self._ts_end[k])
            block_start = int(self._ts_end[(k - 1) % n]) if back + 1 < min(blocks, n) else 0
            if block_start < end <= block_end:
                return float(self._ts_time[k]) - (block_end - end) / self.samplerate
            if block_end < end:
                break
        return float(self._ts_time[newest]) - (int(self._ts_end[newest]) - end) / self.samplerate


class SharedRing(Ring):
    """A Ring in shared memory (multiprocessing.shared_memory), made by the show's process and
    written by the capture process, which attaches to it by name."""

    def __init__(self, channels: int, samplerate: int, seconds: float = 2.0, max_blocks: int = 4096,
                 name: str | None = None, create: bool = False):
        from multiprocessing import shared_memory
        parts = Ring.layout(channels, samplerate, seconds, max_blocks)
        sizes = [int(np.prod(shape)) * np.dtype(dt).itemsize for shape, dt in parts]
        self.shm = shared_memory.SharedMemory(name=name, create=create, size=sum(sizes))
        if not create:                   # the creator owns it; a child must not unlink it at exit
            _untrack(self.shm)
        arrays, off = [], 0
        for (shape, dt), size in zip(parts, sizes):
            arrays.append(np.ndarray(shape, dt, buffer=self.shm.buf, offset=off))
            off += size
        if create:
            for a in arrays:
                a.fill(0)
        self.name = self.shm.name
        super().__init__(channels, samplerate, seconds, max_blocks, arrays=tuple(arrays))

    def close(self, unlink: bool = False) -> None:
        self.buf = self._ts_end = self._ts_time = self.count = self.times = None
        try:
            self.shm.close()
            if unlink:
                self.shm.unlink()
        except (BufferError, FileNotFoundError):
            pass


def _untrack(shm) -> None:
    """Python's resource tracker would unlink a segment this process only attached to."""
    try:
        from multiprocessing import resource_tracker
        resource_tracker.unregister(shm._name, "shared_memory")
    except Exception:
        pass
