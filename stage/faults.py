"""Faults a test (or a rehearsal) can cause on purpose, from STAGE_FAULTS, as OBS's test
sources do: ``STAGE_FAULTS="slow_disk=0.3,stall_draw=2.0:0.5"``.

- ``slow_disk=S``: every write of a take's files takes S seconds longer (a disk that cannot
  keep up).
- ``stall_draw=AT:S``: the draw loop stops dead for S seconds, AT seconds into the run (a window
  dragged, a machine that hiccups).
- ``slow_analysis=S``: every hop's analysis takes S seconds longer (an analysis that cannot
  keep up).

Nothing is faulted unless the variable says so.
"""

from __future__ import annotations

import os
import time


def faults() -> dict[str, str]:
    spec = os.environ.get("STAGE_FAULTS", "")
    out = {}
    for item in filter(None, (x.strip() for x in spec.split(","))):
        k, _, v = item.partition("=")
        out[k.strip()] = v.strip()
    return out


def seconds(name: str) -> float:
    try:
        return float(faults().get(name, 0.0))
    except ValueError:
        return 0.0


def draw_stall():
    """(at, seconds) of a draw-loop stall asked for, or None."""
    v = faults().get("stall_draw")
    if not v:
        return None
    at, _, s = v.partition(":")
    return float(at), float(s or 0.5)


def slow_io(delay: float):
    """A take's write calls, each ``delay`` seconds slower."""
    from .takes import OsIO

    class SlowIO(OsIO):
        def write(self, fd, data):
            time.sleep(delay)
            return super().write(fd, data)

    return SlowIO()
