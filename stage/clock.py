"""The one clock every thread stamps with.

JACK's own time is CLOCK_MONOTONIC_RAW, so stage uses it too: an outside program
(a JACK client injecting sound, a benchmark) can line up its own times with ours.
"""

import time

_RAW = time.CLOCK_MONOTONIC_RAW


def now() -> float:
    """Seconds on CLOCK_MONOTONIC_RAW."""
    return time.clock_gettime(_RAW)


def sleep_until(deadline: float, clock=now, spin: float = 0.0001) -> None:
    """Sleep until ``clock()`` reaches ``deadline``: sleep, then yield, then spin the last
    ``spin`` seconds without letting go (a thread that gives up the GIL this close to its
    deadline may wait a switch interval to get it back)."""
    while True:
        left = deadline - clock()
        if left <= 0:
            return
        if left > 0.0015:
            time.sleep(left - 0.001)
        elif left > spin:
            time.sleep(0)
        else:
            while clock() < deadline:
                pass
            return


def raise_thread_priority(nice: int) -> bool:
    """Ask for a better share of the CPU for the calling thread (a negative nice value).
    Allowed for root or with a raised RLIMIT_NICE (audio users often have one); returns
    whether it was granted. Never raises."""
    import os
    import threading
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
        return True
    except (OSError, AttributeError):
        return False


def place_thread(first_core: bool) -> None:
    """Keep the calling thread on the first core (``first_core``) or off it (the rest), where
    there are two or more. The draw loop takes the first; the film decoder and its codec
    threads the rest; the display server and the audio threads go where they are free.
    Never raises."""
    import os
    import threading
    try:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) >= 2:
            os.sched_setaffinity(threading.get_native_id(), cpus[:1] if first_core else cpus[1:])
    except (OSError, AttributeError):
        pass
