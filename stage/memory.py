"""Memory that a long show gives back.

Decoded film frames are large (8 MB at 1080p in BGRA) and come and go by the hundred as cues
switch. glibc's malloc serves such blocks by mmap, and returns them to the system when freed,
only while they are above its mmap threshold; but after the first such block is freed it raises
that threshold to the block's size (up to 32 MB), and from then on the frames come from the
heaps of the decoder threads, where freed frames stay as holes that the process keeps.
Fixing the threshold turns that off: every frame is its own mapping, and a closed film player's
frames go back to the system at once. (Measured: 200 cue switches at 1080p, BENCHMARKS.md.)
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3
THRESHOLD = 1 << 20          # 1 MiB: every film frame, and the audio rings, are mapped on their own


def keep_big_blocks_mapped() -> bool:
    """Fix malloc's mmap threshold (glibc only; elsewhere nothing is done). True if set."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD))
    except (OSError, AttributeError):
        return False


def resident_mb() -> float:
    """This process's resident memory, in MB (from /proc; 0 where there is none)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0
