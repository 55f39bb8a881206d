"""SMPTE timecode, exact in both directions: frames to labels and back.

Rates: 23.976 and 24 (labels at 24), 25, 29.97 and 30 (labels at 30), 59.94 and 60. At 29.97
and 59.94 labels may be drop-frame (`HH:MM:SS;FF`): frame numbers 00-01 (00-03 at 59.94) are
skipped at the start of every minute except every tenth, so the labels keep to the clock.
A film whose first frame is not 00:00:00:00 (a reel starting at 01:00:00:00) has a start
label; frame indices are always counted from the file's first frame.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

_TC_RE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2})$")
FRAMES_PER_FOOT_35MM = 16


class TimecodeError(ValueError):
    pass


def nominal_rate(fps: Fraction | float) -> int:
    return int(round(float(fps)))


@dataclass(frozen=True)
class TimecodeFormat:
    fps: Fraction
    drop_frame: bool = False
    start: int = 0                     # the first frame's label, as a label count (see label_count)

    def __post_init__(self):
        if self.drop_frame and self.dropped == 0:
            raise TimecodeError(f"drop-frame timecode exists only at 29.97 and 59.94 fps, not {float(self.fps):g}")

    @property
    def nominal(self) -> int:
        return nominal_rate(self.fps)

    @property
    def dropped(self) -> int:
        """Frame numbers skipped per minute in drop-frame (0 where there is no drop-frame)."""
        f = Fraction(self.fps).limit_denominator(1001)
        if f.denominator == 1001 and f.numerator in (30000, 60000):
            return 2 if f.numerator == 30000 else 4
        return 0

    # -- label counts: frames counted the way labels count them (no gaps)
    def count_to_label(self, count: int) -> str:
        if count < 0:
            raise TimecodeError(f"no timecode before 00:00:00:00 (frame count {count})")
        nom = self.nominal
        if self.drop_frame:
            d = self.dropped
            per10 = nom * 600 - 9 * d
            per1 = nom * 60 - d
            tens, rem = divmod(count, per10)
            count += 9 * d * tens + (d * ((rem - d) // per1) if rem > d else 0)
        f = count % nom
        s = count // nom
        sep = ";" if self.drop_frame else ":"
        return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}{sep}{f:02d}"

    def label_to_count(self, text: str) -> int:
        m = _TC_RE.match(str(text).strip())
        if not m:
            raise TimecodeError(f"expected timecode 'HH:MM:SS:FF' (or HH:MM:SS;FF drop-frame), got {text!r}")
        h, mi, s, _sep, f = m.groups()
        h, mi, s, f = int(h), int(mi), int(s), int(f)
        nom = self.nominal
        if mi > 59 or s > 59:
            raise TimecodeError(f"timecode {text!r}: minutes and seconds run 00-59")
        if f >= nom:
            raise TimecodeError(f"timecode {text!r}: frames run 00-{nom - 1:02d} at {float(self.fps):g} fps")
        count = ((h * 60 + mi) * 60 + s) * nom + f
        if self.drop_frame:
            d = self.dropped
            if s == 0 and f < d and mi % 10 != 0:
                raise TimecodeError(f"timecode {text!r} does not exist in drop-frame at {float(self.fps):g} fps: "
                                    f"frames 00-{d - 1:02d} are skipped at the start of each minute but every tenth")
            minutes = h * 60 + mi
            count -= d * (minutes - minutes // 10)
        return count

    # -- frames of the file
    def label(self, frame: int) -> str:
        return self.count_to_label(self.start + max(0, int(frame)))

    def frame(self, text: str) -> int:
        n = self.label_to_count(text) - self.start
        if n < 0:
            raise TimecodeError(f"timecode {text!r} is before the film's first frame ({self.count_to_label(self.start)})")
        return n

    def position(self, value) -> int:
        """A session position: a timecode label, or seconds from the film's first frame."""
        if isinstance(value, bool):
            raise TimecodeError(f"expected timecode 'HH:MM:SS:FF' or seconds, got {value!r}")
        if isinstance(value, (int, float)):
            if value < 0 or math.isnan(value):
                raise TimecodeError(f"position must be 0 seconds or later, got {value!r}")
            return int(round(value * float(self.fps)))
        return self.frame(value)


def feet_frames(frame: int, per_foot: int = FRAMES_PER_FOOT_35MM) -> str:
    """35 mm feet+frames (16 frames a foot), as cutting rooms count: '90+08'."""
    feet, f = divmod(max(0, int(frame)), per_foot)
    return f"{feet}+{f:02d}"


def parse_position(value, fps: Fraction | float) -> int:
    """A position as 'HH:MM:SS:FF' (non-drop, from 00:00:00:00) or seconds -> frame index."""
    return TimecodeFormat(Fraction(fps).limit_denominator(1001)).position(value)

