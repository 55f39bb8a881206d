"""The kinds of value a session setting can hold: each checks a value read from TOML, turns it
into what the program uses, and says what it expects in words a music director reads.

A kind raises :class:`Invalid` with a message; the loader adds the file, line and key. The
message says what was wrong with the value and what is valid (the choices, or the range).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from pathlib import Path

from ..music import NoteError, note_name, parse_note

COLOURS = {
    "amber": (255, 176, 0), "red": (255, 72, 72), "orange": (255, 140, 40),
    "yellow": (255, 230, 60), "green": (80, 230, 110), "cyan": (60, 220, 255),
    "blue": (90, 150, 255), "violet": (190, 120, 255), "magenta": (255, 90, 220),
    "white": (245, 245, 245), "pink": (255, 150, 190), "teal": (40, 200, 170),
}
DEFAULT_COLOURS = ("amber", "cyan", "magenta", "green", "orange", "violet", "yellow", "pink")

# concert to written pitch, in semitones, for the instruments that read transposed parts
# (Bb: trumpet, clarinet; Bb tenor: tenor sax, bass clarinet; Eb: alto sax; F: horn; A: clarinet
# in A; G: alto flute; D: D trumpet; octave: guitar and double bass, written an octave up)
TRANSPOSITIONS = {"C": 0, "Bb": 2, "Bb tenor": 14, "Eb": 9, "Eb baritone": 21, "F": 7, "A": 3, "G": 5,
                  "D": -2, "octave": 12}

TIMECODE_PLACES = ("off", "top-left", "top-right", "bottom-left", "bottom-right")

MAX_SECONDS = 100 * 3600          # a position in seconds: below 100 hours (the largest timecode label)


class Invalid(ValueError):
    """A value that is not valid for its setting. ``at`` names an element inside it (``[2]``),
    whose line the error points to; the key stays the setting's."""

    def __init__(self, message: str, at: str = ""):
        super().__init__(message)
        self.message, self.at = message, at


def got(v, room: int = 60) -> str:
    """A value as an error message quotes it: short, whatever it is (a 10 MB string, an array
    nested 300 deep, a table, a date)."""
    if isinstance(v, dict):
        keys = ", ".join(list(v)[:4])
        return f"a table {{{keys}{', ...' if len(v) > 4 else ''}}}" if v else "an empty table"
    if isinstance(v, (_dt.date, _dt.time)):
        return f"the date/time {v.isoformat()}"
    text = _short(v, room)
    if isinstance(v, str) and len(v) > room:
        text += f" ({len(v)} characters)"
    return text


def _short(v, room: int) -> str:
    if isinstance(v, list):
        out, used = [], 1
        for e in v:
            if used >= room:
                out.append("...")
                break
            s = _short(e, max(8, room - used)) if room > 8 else "..."
            out.append(s)
            used += len(s) + 2
        return "[" + ", ".join(out) + "]"
    if isinstance(v, dict):
        return "{...}"
    if isinstance(v, str) and len(v) > room:
        return repr(v[:room]) + "..."
    if _is_number(v):
        return _num(v)
    return repr(v)


def toml_text(v) -> str:
    """A value written as TOML (for `stage check`'s listing of the settings)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Path):
        v = str(v)
    if isinstance(v, tuple):
        v = list(v)
    try:
        import tomlkit
        return tomlkit.item(v).as_string()
    except Exception:             # a value tomlkit cannot write (it never comes from TOML)
        return repr(v)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _num(v) -> str:
    """A number as a message quotes it (an integer of 400 digits is cut short; Python will not
    even write one of more than 4300)."""
    if _is_int(v) and abs(v) >= 10 ** 24:
        try:
            digits = len(str(abs(v)))
        except ValueError:                 # more than 4300 digits (hexadecimal in the file): about
            digits = int(abs(v).bit_length() * 0.30103) + 1
        return f"{'a negative' if v < 0 else 'an'} integer of {digits} digits"
    return repr(v) if isinstance(v, float) else str(v)


def span(lo, hi) -> str:
    """'0-1000', '-40 to 60'."""
    return f"{lo} to {hi}" if lo < 0 or hi < 0 else f"{lo}-{hi}"


class Kind:
    expects = "a value"

    def check(self, v, ctx):
        raise NotImplementedError

    def wrong_type(self, v) -> Invalid:
        return Invalid(f"expected {self.expects}, got {got(v)}")

    def show(self, value) -> str:
        """A resolved value as TOML text (a default, in `stage check`)."""
        return toml_text(value)

    def show_given(self, raw, value) -> str:
        """A value as given in the file, as TOML text."""
        return toml_text(raw)


class Bool(Kind):
    expects = "true or false"

    def check(self, v, ctx):
        if not isinstance(v, bool):
            raise self.wrong_type(v)
        return v


class Str(Kind):
    expects = "a string"

    def __init__(self, max_len: int | None = None, too_long: str = "", nonempty: str = "", strip=False):
        self.max_len, self.too_long, self.nonempty, self.strip = max_len, too_long, nonempty, strip

    def check(self, v, ctx):
        if not isinstance(v, str):
            raise self.wrong_type(v)
        if self.max_len is not None and len(v) > self.max_len:
            raise Invalid(self.too_long.format(n=len(v), max=self.max_len)
                          or f"at most {self.max_len} characters, got {len(v)}")
        if self.strip:
            v = v.strip()
        if self.nonempty and not v.strip():
            raise Invalid(self.nonempty)
        return v


class Int(Kind):
    """An integer, in a range (``what``: what it counts, for the message) or one of ``choices``."""
    expects = "an integer"

    def __init__(self, lo=None, hi=None, what: str = "", message: str = "", choices=None):
        self.lo, self.hi, self.what, self.message, self.choices = lo, hi, what, message, choices

    def check(self, v, ctx):
        if not _is_int(v):
            raise self.wrong_type(v)
        if self.choices is not None:
            if v not in self.choices:
                raise Invalid(self.message.format(v=_num(v)) if self.message
                              else f"{_num(v)} is not allowed; valid: {', '.join(map(str, self.choices))}")
        elif not ((self.lo is None or self.lo <= v) and (self.hi is None or v <= self.hi)):
            raise Invalid(self.out_of_range(v))
        return v

    def out_of_range(self, v) -> str:
        v = _num(v)
        if self.message:
            return self.message.format(v=v)
        if self.hi is None:
            return f"{self.what} from {self.lo}, got {v}"
        return f"{self.what}, {span(self.lo, self.hi)}, got {v}"


class Number(Int):
    """A number (integer or decimal; stored as float), finite, in a range; ``above_lo``: the
    range is open at the bottom (0 < x); ``approx``: one of the values to within 0.01."""
    expects = "a number"

    def __init__(self, lo=None, hi=None, what: str = "", message: str = "", above_lo=False, approx=None):
        super().__init__(lo, hi, what, message)
        self.above_lo, self.approx = above_lo, approx

    def check(self, v, ctx):
        if not _is_number(v):
            raise self.wrong_type(v)
        try:
            f = float(v)
        except OverflowError:              # an integer of 400 digits (copysign would convert it too)
            f = math.inf if v > 0 else -math.inf
        if self.approx is not None:
            if not any(abs(f - r) < 0.01 for r in self.approx):
                raise Invalid(self.message.format(v=_num(v)))
            return f
        if not math.isfinite(f):
            raise Invalid(self.out_of_range(v) if self.lo is not None else f"expected a finite number, got {_num(v)}")
        low_ok = self.lo is None or (self.lo < f if self.above_lo else self.lo <= f)
        if not (low_ok and (self.hi is None or f <= self.hi)):
            raise Invalid(self.out_of_range(v))
        return f


class OneOf(Kind):
    """One string of a list."""
    expects = "a string"

    def __init__(self, choices, message: str = ""):
        self.choices, self.message = tuple(choices), message

    def check(self, v, ctx):
        if not isinstance(v, str):
            raise Invalid(f"expected one of {', '.join(map(repr, self.choices))}, got {got(v)}")
        if v not in self.choices:
            raise Invalid(self.message.format(v=got(v)) if self.message
                          else f"{got(v)} is not allowed; valid: {', '.join(map(repr, self.choices))}")
        return v


class Size(Kind):
    expects = "[width, height] in pixels"

    def check(self, v, ctx):
        if not (isinstance(v, list) and len(v) == 2 and all(_is_int(x) and 64 <= x <= 16384 for x in v)):
            raise Invalid(f"expected [width, height] in pixels (64-16384 each), got {got(v)}")
        return (v[0], v[1])


def parse_colour(value) -> tuple[int, int, int]:
    if isinstance(value, str):
        v = value.strip().lower()
        if v in COLOURS:
            return COLOURS[v]
        m = re.fullmatch(r"#?([0-9a-f]{6})", v)
        if m:
            h = m.group(1)
            return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    if isinstance(value, list) and len(value) == 3 and all(_is_int(c) and 0 <= c <= 255 for c in value):
        return tuple(value)
    raise ValueError(f"{got(value)} is not a colour; use '#rrggbb', [r, g, b] or one of: {', '.join(COLOURS)}")


class Colour(Kind):
    expects = "a colour"

    def check(self, v, ctx):
        try:
            return parse_colour(v)
        except ValueError as e:
            raise Invalid(str(e)) from None

    def show(self, value) -> str:
        for name, rgb in COLOURS.items():
            if rgb == tuple(value):
                return toml_text(name)
        return toml_text("#%02x%02x%02x" % tuple(value))


class Note(Kind):
    expects = "a note name (E1, Bb4, F#3)"

    def check(self, v, ctx):
        if not isinstance(v, str):
            raise self.wrong_type(v)
        if len(v) > 12:
            raise Invalid(f"not a note name: {got(v)} (expected a letter A-G, optional # or b, and an octave, "
                          f"e.g. E1, Bb4, F#3)")
        try:
            return parse_note(v)
        except NoteError as e:
            raise Invalid(str(e)) from None

    def show(self, value) -> str:
        return toml_text(note_name(value))


class Transposition(Kind):
    expects = "a transposition (\"Bb\", \"Eb\", \"F\" ...) or semitones"

    def check(self, v, ctx):
        if isinstance(v, str):
            if v not in TRANSPOSITIONS:
                raise Invalid(f"{got(v)} is not a transposition; valid: "
                              f"{', '.join(repr(k) for k in TRANSPOSITIONS)}, or semitones")
            return TRANSPOSITIONS[v]
        if not _is_int(v):
            raise self.wrong_type(v)
        if not -36 <= v <= 36:
            raise Invalid(f"semitones from concert to written pitch, -36 to 36, got {_num(v)}")
        return v


def check_position(v, timecode_only=False) -> None:
    """A position: a timecode label 'HH:MM:SS:FF' (its frames are checked against the film's
    rate when the film is opened) or seconds from the film's first frame."""
    from ..film.timecode import TimecodeError, parse_position
    if _is_number(v) and not timecode_only:
        if not 0 <= v < MAX_SECONDS:              # (NaN and inf fail it too)
            raise Invalid(f"a position in seconds from the film's first frame, 0 to {MAX_SECONDS}, got {_num(v)}")
        return
    if not isinstance(v, str) or len(v.strip()) > 12:      # (longer is no label; not quoted whole)
        raise Invalid(f"expected timecode 'HH:MM:SS:FF'{'' if timecode_only else ' or seconds'}, got {got(v)}")
    try:                           # the shape, at the highest rate (the film's own is checked when it is
        parse_position(v, 60)      # opened: frame 30 is fine at 60 fps, not at 24)
    except TimecodeError as e:
        raise Invalid(str(e)) from None


class Position(Kind):
    expects = "timecode 'HH:MM:SS:FF' or seconds"

    def __init__(self, timecode_only=False):
        self.timecode_only = timecode_only

    def check(self, v, ctx):
        check_position(v, self.timecode_only)
        return v


class Address(Kind):
    """'host:port' or a port number -> (host, port); OSC stays on localhost unless told."""
    expects = "a port number or 'host:port'"

    def __init__(self, default_host="127.0.0.1"):
        self.default_host = default_host

    def check(self, v, ctx):
        if _is_int(v):
            host, port = self.default_host, v
        elif isinstance(v, str) and v.rpartition(":")[2].isdigit() and v.rpartition(":")[2].isascii():
            host, _, port = v.rpartition(":")
            host, port = host or self.default_host, int(port)
        else:
            raise Invalid(f"expected {Address.expects}, got {got(v)}")
        if not 1 <= port <= 65535:
            raise Invalid(f"ports run 1-65535, got {_num(port)}")
        return host, port

    def show(self, value) -> str:
        return toml_text(f"{value[0]}:{value[1]}")


class Addresses(Address):
    """One address or a list of them."""
    expects = "a port number, 'host:port', or a list of them"

    def check(self, v, ctx):
        items = v if isinstance(v, list) else [v]
        out = []
        for j, x in enumerate(items):
            try:
                out.append(super().check(x, ctx))
            except Invalid as e:
                raise Invalid(f"address {j + 1}: {e.message}" if isinstance(v, list) else e.message,
                              f"[{j}]" if isinstance(v, list) else "") from None
        return out

    def show(self, value) -> str:
        return toml_text([f"{h}:{p}" for h, p in value])


class Device(Kind):
    expects = "a device name (part of it) or its index"

    def check(self, v, ctx):
        if isinstance(v, str):
            return v
        if not _is_int(v):
            raise self.wrong_type(v)
        if v < 0:
            raise Invalid(f"devices are numbered from 0 (see `stage devices`), got {_num(v)}")
        return v


class FilePath(Kind):
    """A file, relative to the session file's folder (or absolute, or from ~); it must exist."""
    expects = "a file name"

    def __init__(self, what: str):
        self.what = what

    def check(self, v, ctx):
        if not isinstance(v, str):
            raise self.wrong_type(v)
        if not v.strip() or "\x00" in v:
            raise Invalid(f"expected the {self.what}'s file name, got {got(v)}")
        p = Path(v).expanduser()
        p = p if p.is_absolute() else ctx.base / p
        try:
            found = p.exists()
        except (OSError, ValueError) as e:       # a name too long for the system, a NUL in it
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise Invalid(f"{self.what} cannot be looked for: {got(str(p), 200)}: {why}") from None
        if not found:
            raise Invalid(f"{self.what} not found: {got(str(p), 300)}" if len(str(p)) > 300
                          else f"{self.what} not found: {p}")
        return p

    def show_given(self, raw, value) -> str:
        return toml_text(str(value))


class FolderPath(Kind):
    """A folder, relative to the session file's folder (or absolute, or from ~); made when it is
    needed, so it need not exist yet (whether it can be written is checked before it is used)."""
    expects = "a folder name"

    def __init__(self, what: str):
        self.what = what

    def check(self, v, ctx):
        if not isinstance(v, str):
            raise self.wrong_type(v)
        if not v.strip() or "\x00" in v:
            raise Invalid(f"expected the {self.what}'s folder name, got {got(v)}")
        p = Path(v).expanduser()
        return p if p.is_absolute() else ctx.base / p

    def show_given(self, raw, value) -> str:
        return toml_text(str(value))


class ListOf(Kind):
    """A list of values of one kind (``what``: what each one is, for the message)."""

    def __init__(self, kind: Kind, what: str):
        self.kind, self.what = kind, what
        self.expects = f"a list of {what}s"

    def check(self, v, ctx):
        if not isinstance(v, list):
            raise self.wrong_type(v)
        out = []
        for j, x in enumerate(v):
            try:
                out.append(self.kind.check(x, ctx))
            except Invalid as e:
                raise Invalid(f"{self.what} {j + 1}: {e.message}", f"[{j}]") from None
        return out

    def show(self, value) -> str:
        return "[" + ", ".join(self.kind.show(x) for x in value) + "]"


class Action(Kind):
    expects = "an action name"

    def check(self, v, ctx):
        from ..control.actions import ACTIONS
        if not isinstance(v, str):
            raise self.wrong_type(v)
        if v not in ACTIONS:
            raise Invalid(f"no action {got(v)}; the actions are: {', '.join(ACTIONS)}")
        return v


MAX_BARS = 10_000                 # a cue's chord sequence: bars, with their repeats
MAX_BAR = 200                     # characters in a bar
MAX_CHORD = 40                    # characters in a chord symbol


class Harmony(Kind):
    """A chord sequence in bars ("Dm7 | G7 | Cmaj7*2"), spread over the cue at its tempo, or
    chords at positions ([["00:00:06:00", "Dm7"], [10.5, "G7"]]). Checked here as far as it
    can be without the cue's tempo; the cue turns it into spans (see model.CueConfig)."""
    expects = 'a chord sequence ("Dm7 | G7 | Cmaj7*2") or a list of [timecode, "chord"]'

    def check(self, v, ctx):
        from ..harmony import HarmonyError, parse_chord
        if isinstance(v, str):
            bars = 0
            for b, bar in enumerate(v.split("|"), 1):
                if len(bar) > MAX_BAR:
                    raise Invalid(f"bar {b} is {len(bar)} characters long: a bar holds a few chords "
                                  f"(\"Dm7 G7\", \"Cmaj7*2\"), bars are divided by |")
                m = re.search(r"\*\s*(\d{1,6})\s*$", bar)
                bars += int(m.group(1)) if m else 1
            if bars > MAX_BARS:
                raise Invalid(f"at most {MAX_BARS} bars (with their repeats) in a cue, got {bars}")
            return ("bars", v)
        if not isinstance(v, list):
            raise self.wrong_type(v)
        if not v:
            raise Invalid("no chords in the list")
        at = []
        for j, entry in enumerate(v, 1):
            where = f"[{j - 1}]"
            if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], str)
                    and (isinstance(entry[0], str) or _is_number(entry[0]))):
                raise Invalid(f"chord {j}: expected [timecode, \"chord\"] (\"HH:MM:SS:FF\" or seconds), "
                              f"got {got(entry)}", where)
            try:
                check_position(entry[0])
            except Invalid as e:
                raise Invalid(f"chord {j}: {e.message}", where) from None
            if len(entry[1]) > MAX_CHORD:
                raise Invalid(f"chord {j}: {got(entry[1])} is not a chord symbol (a root A-G, # or b, a "
                              f"quality: Dm7, Eb7, G7#9)", where)
            try:
                at.append((entry[0], parse_chord(entry[1])))
            except HarmonyError as e:
                raise Invalid(f"chord {j} ({got(entry[1])}): {e}", where) from None
        return ("at", at)


class Section(Kind):
    """A table of settings declared by a dataclass (``[display]``)."""

    def __init__(self, cls):
        self.cls = cls
        self.expects = f"a table ({cls._title})"

    def check(self, v, ctx):
        if not isinstance(v, dict):
            raise Invalid(f"{self.cls._title} must be a table, got {got(v)}")
        return ctx.table(self.cls, v)


class Tables(Kind):
    """An array of tables declared by a dataclass (``[[players]]``), or an array of inline
    tables (``map = [{action = "play", cc = 64}]``): the same data. ``as_dict``: each one is
    handed on as a plain dict of its settings."""

    def __init__(self, cls, not_a_list: str, as_dict: bool = False):
        self.cls, self.not_a_list, self.as_dict = cls, not_a_list, as_dict
        self.expects = f"{cls._title} tables"

    def check(self, v, ctx):
        if not isinstance(v, list):
            raise Invalid(f"{self.not_a_list}, got {got(v)}")
        out = []
        for i, t in enumerate(v):
            if not isinstance(t, dict):
                raise ctx.error_at(f"[{i}]", f"expected a table (one of {self.cls._title}), got {got(t)}")
            out.append(ctx.table(self.cls, t, i, out))
        if self.as_dict:
            import dataclasses
            out = [dataclasses.asdict(o) for o in out]
        return out
