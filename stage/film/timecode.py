"""SMPTE timecode (non-drop labels) and frame arithmetic.

Labels count at the nominal integer rate of the film (24 for 23.976, 30 for 29.97);
drop-frame labelling belongs to the cue/timecode issue.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

_TC_RE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})[:;.](\d{2})$")


class TimecodeError(ValueError):
    pass


def nominal_rate(fps: Fraction | float) -> int:
    return int(round(float(fps)))


def parse_position(value, fps: Fraction | float) -> int:
    """A position given as 'HH:MM:SS:FF' or as seconds (int/float) -> frame index."""
    if isinstance(value, bool):
        raise TimecodeError(f"expected timecode 'HH:MM:SS:FF' or seconds, got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0 or math.isnan(value):
            raise TimecodeError(f"position must be 0 seconds or later, got {value!r}")
        return int(round(value * float(fps)))
    m = _TC_RE.match(str(value).strip())
    if not m:
        raise TimecodeError(f"expected timecode 'HH:MM:SS:FF' or seconds, got {value!r}")
    h, mi, s, f = (int(x) for x in m.groups())
    nom = nominal_rate(fps)
    if mi > 59 or s > 59:
        raise TimecodeError(f"timecode {value!r}: minutes and seconds run 00-59")
    if f >= nom:
        raise TimecodeError(f"timecode {value!r}: frames run 00-{nom - 1:02d} at {float(fps):g} fps")
    return ((h * 60 + mi) * 60 + s) * nom + f


def format_timecode(frame: int, fps: Fraction | float) -> str:
    nom = nominal_rate(fps)
    frame = max(0, int(frame))
    f = frame % nom
    s = frame // nom
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}:{f:02d}"
