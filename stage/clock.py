"""The one clock every thread stamps with.

JACK's own time is CLOCK_MONOTONIC_RAW, so stage uses it too: an outside program
(a JACK client injecting sound, a benchmark) can line up its own times with ours.
"""

import time

_RAW = time.CLOCK_MONOTONIC_RAW


def now() -> float:
    """Seconds on CLOCK_MONOTONIC_RAW."""
    return time.clock_gettime(_RAW)


def sleep_until(deadline: float, clock=now) -> None:
    """Sleep until ``clock()`` reaches ``deadline`` (coarse sleep, then a short spin)."""
    while True:
        left = deadline - clock()
        if left <= 0:
            return
        if left > 0.0015:
            time.sleep(left - 0.001)
        else:
            time.sleep(0)
