"""A preallocated multichannel ring that the audio callback writes and one reader takes hops from.

Channel-major storage (channels x capacity) so that a hop of one channel is a contiguous
view, handed to aubio without a copy. The write offset only grows (Friture's habit): a
reader keeps its own cursor and can tell by how much it has been overrun.
"""

from __future__ import annotations

import numpy as np


class Ring:
    def __init__(self, channels: int, samplerate: int, seconds: float = 2.0, max_blocks: int = 4096):
        cap = 1
        while cap < samplerate * seconds:
            cap <<= 1
        self.channels = channels
        self.samplerate = samplerate
        self.capacity = cap
        self.buf = np.zeros((channels, cap), dtype=np.float32)
        self.written = 0                                   # frames written since start
        self._nts = max_blocks
        self._ts_end = np.zeros(max_blocks, dtype=np.int64)     # frame count after each block
        self._ts_time = np.zeros(max_blocks, dtype=np.float64)  # capture time of its last sample
        self.blocks = 0

    def write(self, block: np.ndarray, t_last: float) -> None:
        """Copy one (frames x channels) block in. Called from the audio callback: no allocation
        beyond numpy views, no locks, no waiting."""
        n = block.shape[0]
        nch = min(block.shape[1], self.channels)
        start = self.written & (self.capacity - 1)
        first = min(n, self.capacity - start)
        self.buf[:nch, start:start + first] = block[:first, :nch].T
        if first < n:
            self.buf[:nch, :n - first] = block[first:, :nch].T
        k = self.blocks % self._nts
        self._ts_end[k] = self.written + n
        self._ts_time[k] = t_last
        self.blocks += 1
        self.written += n          # published last: a reader never sees frames not yet copied

    def view(self, channel: int, start: int, n: int) -> np.ndarray:
        """Frames [start, start+n) of a channel; start must not straddle the wrap (hops that
        divide the capacity never do)."""
        s = start & (self.capacity - 1)
        return self.buf[channel, s:s + n]

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
