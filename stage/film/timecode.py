"""SMPTE timecode, exact in both directions: frames to labels and back.

Rates: 23.976 and 24 (labels at 24), 25, 29.97 and 30 (labels at 30), 59.94 and 60. At 29.97
and 59.94 labels may be drop-frame (`HH:MM:SS;FF`): frame numbers 00-01 (00-03 at 59.94) are
skipped at the start of every minute except every tenth, so the labels keep to the clock.
A film whose first frame is not 00:00:00:00 (a reel starting at 01:00:00:00) has a start
label; frame indices are always counted from the file's first frame.

Where the start comes from (``film_timecode``): the session's ``[film] start`` if it has one,
else the timecode the file carries (a QuickTime ``tmcd`` track, or the ``timecode`` tag FFmpeg
shows on the video stream, a data stream or the container: ``EmbeddedTimecode``), else
00:00:00:00. Drop-frame: the session's ``drop_frame`` if it sets one, else the file's (written
with ``;``), else non-drop. The start is a frame, not a string of digits: a file written
01:00:00;00 and a session saying ``drop_frame = false`` label that same frame 00:59:56:12.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

_TC_RE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2})$")
FRAMES_PER_FOOT_35MM = 16


class TimecodeError(ValueError):
    """A timecode that cannot be; ``setting`` names the session's [film] setting at fault
    ("start", "drop_frame"), None where it is the file's own."""

    def __init__(self, *args, setting: str | None = None):
        super().__init__(*args)
        self.setting = setting


DROP_SEPARATOR = ";"            # HH:MM:SS;FF: how drop-frame is written (FFmpeg writes it so)

# where a film's start timecode came from: TimecodeFormat.source, EmbeddedTimecode.source
SOURCES = {
    "session": "the session's [film] start",
    "tmcd": "the file's tmcd track",
    "stream": "the video stream's timecode tag",
    "data": "a data stream's timecode tag",
    "container": "the container's timecode tag",
    "none": "the file carries none",
}


@dataclass(frozen=True)
class EmbeddedTimecode:
    """The start timecode a file carries, as FFmpeg shows it ("01:00:00:00", "00:59:59;00"),
    and where: "tmcd" (a QuickTime timecode track), "stream" (the video stream's tag), "data"
    (a data stream's tag) or "container" (the container's tag)."""
    label: str
    source: str

    @property
    def drop_frame(self) -> bool:
        return DROP_SEPARATOR in self.label

    @property
    def where(self) -> str:
        return SOURCES[self.source]


def nominal_rate(fps: Fraction | float) -> int:
    return int(round(float(fps)))


@dataclass(frozen=True)
class TimecodeFormat:
    fps: Fraction
    drop_frame: bool = False
    start: int = 0                     # the first frame's label, as a label count (see label_count)
    source: str = "none"               # where the start came from: a key of SOURCES
    embedded: EmbeddedTimecode | None = None   # what the file said (also when the session overrode it)
    drop_from: str = "default"         # who decided drop-frame: "session", "file" or "default" (non-drop)

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
            raise TimecodeError(f"timecode {text!r} is before the film's first frame "
                                f"({self.count_to_label(self.start)}, {self.describe_source()})")
        return n

    def offset(self, value) -> int:
        """A session position as a frame of the file, which may be before its first (negative):
        for callers that say where the film runs. Malformed positions raise TimecodeError."""
        if isinstance(value, bool):
            raise TimecodeError(f"expected timecode 'HH:MM:SS:FF' or seconds, got {value!r}")
        if isinstance(value, (int, float)):
            if value < 0 or math.isnan(value):
                raise TimecodeError(f"position must be 0 seconds or later, got {value!r}")
            return int(round(value * float(self.fps)))
        return self.label_to_count(value) - self.start

    def position(self, value) -> int:
        """A session position: a timecode label, or seconds from the film's first frame."""
        n = self.offset(value)
        if n < 0:
            return self.frame(value)       # says why
        return n

    def describe_source(self) -> str:
        """Where the first frame's label came from, as `stage check` says it."""
        e = self.embedded
        if self.source == "session":
            text = "from " + SOURCES["session"]
            if e is not None:
                text += f", over {e.where} ({e.label})"
        elif self.source == "none" or e is None:
            text = SOURCES["none"] if self.start == 0 else "given"
        else:
            text = f"from {e.where}"
            if e.label != self.count_to_label(self.start):
                text += f", written {e.label}"
        if self.drop_from == "session" and e is not None and e.drop_frame != self.drop_frame:
            text += f", labelled {'drop-frame' if self.drop_frame else 'non-drop'} as the session's drop_frame says"
        elif self.drop_from == "file" and self.source == "session":
            text += f"; drop-frame as {e.where} is written"
        return text


def film_timecode(fps, embedded: EmbeddedTimecode | None = None, start: str | None = None,
                  drop_frame: bool | None = None) -> TimecodeFormat:
    """A film's timecode from the session's ``start`` and ``drop_frame`` (None: not set) and
    the timecode the file carries (None: none).

    | session start | session drop_frame | the file's  | first frame's label, drop-frame         |
    | none          | not set            | 01:00:00;00 | 01:00:00;00, drop-frame (the file's)    |
    | none          | false              | 01:00:00;00 | 00:59:56:12: that frame, counted non-drop |
    | none          | true               | 01:00:00:00 | 01:00:03;18: that frame, counted drop   |
    | 02:00:00:00   | not set            | 01:00:00;00 | 02:00:00;00 (drop-frame from the file)  |
    | 02:00:00:00   | any                | none        | 02:00:00:00, as drop_frame says         |
    | none          | any                | none        | 00:00:00:00, as drop_frame says         |

    TimecodeError.setting names the session setting at fault; None: the file's timecode."""
    fps = Fraction(fps).limit_denominator(1001)
    if drop_frame is not None:
        drop, drop_from = bool(drop_frame), "session"
    elif embedded is not None and embedded.drop_frame:
        drop, drop_from = True, "file"
    else:
        drop, drop_from = False, "default"
    try:
        fmt = TimecodeFormat(fps, drop)
    except TimecodeError as e:
        if drop_from == "session":
            raise TimecodeError(str(e), setting="drop_frame") from None
        raise TimecodeError(f"its timecode {embedded.label} ({embedded.where}) is written drop-frame, which exists "
                            f"only at 29.97 and 59.94 fps, and the film runs at {float(fps):g} fps; "
                            f"set [film] drop_frame = false (and start, if that label is wrong too)") from None
    if start is not None:
        try:
            count = fmt.label_to_count(start)
        except TimecodeError as e:
            raise TimecodeError(str(e), setting="start") from None
        source = "session"
    elif embedded is not None:
        own = TimecodeFormat(fps, embedded.drop_frame and fmt.dropped > 0)   # the file's own way of counting
        try:
            count = own.label_to_count(embedded.label)
        except TimecodeError as e:
            raise TimecodeError(f"its timecode {embedded.label!r} ({embedded.where}) cannot be used: {e}; "
                                f"give the first frame's timecode as [film] start") from None
        source = embedded.source
    else:
        count, source = 0, "none"
    return TimecodeFormat(fps, drop, count, source, embedded, drop_from)


def feet_frames(frame: int, per_foot: int = FRAMES_PER_FOOT_35MM) -> str:
    """35 mm feet+frames (16 frames a foot), as cutting rooms count: '90+08'."""
    feet, f = divmod(max(0, int(frame)), per_foot)
    return f"{feet}+{f:02d}"


def parse_position(value, fps: Fraction | float) -> int:
    """A position as 'HH:MM:SS:FF' (non-drop, from 00:00:00:00) or seconds -> frame index."""
    return TimecodeFormat(Fraction(fps).limit_denominator(1001)).position(value)

