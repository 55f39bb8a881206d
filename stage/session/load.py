"""Reading a session file against its declaration (model.py): every mistake is a SessionError
that names the file, the line and the key, and says what is valid.

Every table is read the same way: keys it does not declare are refused with the list of those
it does; each declared key's value is checked by its kind; a key that is not there takes its
default; then the table's own ``_after`` checks what spans keys. The key of an error is the
path the walk is at (``players[2].lowest``, ``cues[1].hits[0].time``, ``control.map[0].action``),
and its line comes from lines.py, which spells paths the same way.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from .kinds import Invalid, Section
from .lines import index, join, key_lines, line_of
from .model import _SAME, Session, SessionError, settings

MAX_BYTES = 16 * 1024 * 1024          # a session file is a few kB; anything near this is not one
MAX_KEY = 200                         # characters of a key an error quotes


def load_session(path, base_dir: Path | None = None) -> Session:
    """Read and validate a session file. Raises SessionError naming file, line and key."""
    path = Path(path)
    text, data = read_toml(path)
    walk = _Walk(path, key_lines(text), base_dir or path.parent)
    session = walk.table(Session, data, "", path=path)
    session.lines, session.raw = walk.lines, data
    return session


def read_toml(path: Path) -> tuple[str, dict]:
    """The file's text and what TOML makes of it; SessionError for a file that is not there,
    not text, or not TOML (with its line)."""
    try:
        with open(path, "rb") as f:
            blob = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise SessionError(path, 0, "", "no such session file") from None
    except IsADirectoryError:
        raise SessionError(path, 0, "", "is a folder, not a session file") from None
    except (OSError, ValueError) as e:
        raise SessionError(path, 0, "", f"cannot read it: {e}") from None
    if len(blob) > MAX_BYTES:
        raise SessionError(path, 0, "", f"is larger than {MAX_BYTES // (1024 * 1024)} MB: not a session file")
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError as e:
        line = blob.count(b"\n", 0, e.start) + 1
        column = e.start - blob.rfind(b"\n", 0, e.start)
        raise SessionError(path, line, "", f"not UTF-8 text: byte {blob[e.start]:#04x} at column {column} "
                                           f"(save the file as UTF-8)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        raise SessionError(path, int(m.group(1)) if m else 0, "", f"not valid TOML: {e}") from None
    except RecursionError:
        raise SessionError(path, _deepest_line(text), "", "not a session file: arrays or tables nested too "
                                                          "deeply for TOML to read") from None
    except ValueError as e:               # Python reads no integer of more than 4300 digits
        m = re.search(r"\d{4300,}", text)
        if m is None:
            raise SessionError(path, 0, "", f"not valid TOML: {e}") from None
        raise SessionError(path, text.count("\n", 0, m.start()) + 1, "",
                           f"a number of {len(m.group())} digits: not a session file") from None
    return text, data


def _deepest_line(text: str) -> int:
    depth = best = 0
    line = best_line = 1
    for ch in text:                        # brackets in strings count too: this only points near it
        if ch == "\n":
            line += 1
        elif ch in "[{":
            depth += 1
            if depth > best:
                best, best_line = depth, line
        elif ch in "]}":
            depth -= 1
    return best_line


class _Walk:
    def __init__(self, path: Path, lines: dict, base: Path):
        self.path, self.lines, self.base = path, lines, base

    def error(self, key: str, message: str, at: str = "") -> SessionError:
        line = line_of(self.lines, key + at) if at else line_of(self.lines, key)
        if len(key) > MAX_KEY:            # a key of 10 000 characters is named by its start
            key = key[:MAX_KEY] + "..."
        return SessionError(self.path, line, key, message)

    def table(self, cls, raw: dict, key: str, i: int | None = None, siblings=(), label: str = "", **extra):
        """Read one table of ``cls`` from ``raw`` (at path ``key``; element ``i`` of an array)."""
        specs = settings(cls)
        valid = [k for s in specs for k in (s.key, *s.aliases)]
        for k in raw:
            if k not in valid:
                msg = getattr(cls, "_unknown", "") or f"unknown key; valid keys in {cls._title}: {{valid}}"
                names = ", ".join(valid) if getattr(cls, "_unknown", "") else ", ".join(sorted(valid))
                raise self.error(join(key, k), msg.format(valid=names))
        label_field, label_format = getattr(cls, "_label", (None, ""))
        values = dict(extra)
        for s in specs:
            present = [k for k in (s.key, *s.aliases) if k in raw]
            at = _At(self, key, label, i, siblings)
            if len(present) > 1:
                raise self.error(join(key, present[1]), f"{label}{present[1]!r} is another spelling of "
                                                        f"{present[0]!r}: give one of them")
            if present:
                k = join(key, present[0])
                try:
                    values[s.name] = s.kind.check(raw[present[0]], at.inside(k))
                except Invalid as e:
                    raise self.error(k, label + e.message, e.at) from None
            elif s.required:
                msg = s.required if isinstance(s.required, str) else f"missing required key '{s.key}'"
                raise self.error(key or s.key, label + msg)
            elif isinstance(s.kind, Section):
                values[s.name] = s.kind.check({}, at.inside(join(key, s.key)))
            elif s.toml is not _SAME:
                default = s.toml(i or 0) if callable(s.toml) else s.toml
                values[s.name] = None if default is None else s.kind.check(default, at.inside(join(key, s.key)))
            if s.name == label_field:
                label = label_format.format(values[s.name])
        obj = cls(**values)
        after = getattr(obj, "_after", None)
        if after is not None:
            after(_At(self, key, label, i, siblings, raw))
        return obj


class _At:
    """Where the walk is: what a kind and a table's ``_after`` are handed."""

    def __init__(self, walk: _Walk, key: str, label: str, i, siblings, raw=None):
        self.walk, self.key, self.label, self.index, self.siblings, self.raw = walk, key, label, i, siblings, raw

    @property
    def base(self) -> Path:
        return self.walk.base

    @property
    def line(self) -> int:
        return line_of(self.walk.lines, self.key)

    def inside(self, key: str) -> "_At":
        return _At(self.walk, key, self.label, self.index, self.siblings)

    def given(self, toml_key: str) -> bool:
        return self.raw is not None and toml_key in self.raw

    def fail(self, toml_key: str, message: str, label: bool = True) -> SessionError:
        """An error at a key of this table ("" for the table itself)."""
        return self.walk.error(join(self.key, toml_key) if toml_key else self.key,
                               (self.label if label else "") + message)

    # for Section and Tables
    def table(self, cls, raw: dict, i: int | None = None, siblings=()):
        return self.walk.table(cls, raw, self.key if i is None else index(self.key, i), i, siblings, self.label)

    def error_at(self, at: str, message: str) -> SessionError:
        return self.walk.error(self.key + at, self.label + message)
