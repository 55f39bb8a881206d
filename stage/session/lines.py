"""Where each key of a TOML text is written: 'display.fps', 'players[1].lowest',
'cues[0].hits[2].time', 'control.map[0].action' -> line number.

The text has already been parsed by tomllib (so it is valid TOML); this scanner only follows
its structure far enough to know which key, table header, array element or inline-table
entry starts on which line. It reads strings properly (a ``key = 1`` inside a multi-line
string is not a key), counts arrays of tables ([[players]] is players[0], players[1] ...;
[[cues.hits]] belongs to the last [[cues]]), and follows arrays and inline tables with an
explicit stack, so deep nesting cannot overflow it.

Key paths are spelled by :func:`join` and :func:`index`, which the loader uses too: a key is
found here exactly when the loader names it.
"""

from __future__ import annotations

import bisect
import re
import tomllib

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_BARE_FULL = re.compile(r"[A-Za-z0-9_-]+\Z")


def join(prefix: str, key: str) -> str:
    """The path of ``key`` inside the table at ``prefix``."""
    part = key if _BARE_FULL.match(key) else _quote(key)
    return f"{prefix}.{part}" if prefix else part


def index(prefix: str, i: int) -> str:
    return f"{prefix}[{i}]"


def parent(key: str) -> str:
    """'cues[0].hits[1].time' -> 'cues[0].hits[1]' -> 'cues[0].hits' -> 'cues[0]' -> 'cues' -> ''."""
    if key.endswith("]"):
        return key[:key.rindex("[")]
    cut = max(key.rfind("."), key.rfind("]"))
    if cut < 0:
        return ""
    return key[:cut] if key[cut] == "." else key[:cut + 1]


def line_of(lines: dict[str, int], key: str) -> int:
    """The line ``key`` is written on, else the line of the nearest table that holds it (0: none)."""
    while key:
        if key in lines:
            return lines[key]
        key = parent(key)
    return 0


def _quote(key: str) -> str:
    out = ['"']
    for ch in key:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class _Scanner:
    def __init__(self, text: str):
        self.s = text
        self.n = len(text)
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.lines: dict[str, int] = {}
        self.aot: dict[str, int] = {}          # array-of-tables path -> how many tables so far

    def line(self, pos: int) -> int:
        return bisect.bisect_right(self.starts, pos)

    def note(self, key: str, pos: int) -> None:
        self.lines.setdefault(key, self.line(pos))

    # -- characters
    def skip_ws(self, pos: int, newlines: bool) -> int:
        """Skip blanks (and, if ``newlines``, line ends and comments)."""
        s, n = self.s, self.n
        while pos < n:
            c = s[pos]
            if c in " \t":
                pos += 1
            elif newlines and c in "\r\n":
                pos += 1
            elif newlines and c == "#":
                end = s.find("\n", pos)
                pos = n if end < 0 else end + 1
            else:
                break
        return pos

    def skip_line(self, pos: int) -> int:
        end = self.s.find("\n", pos)
        return self.n if end < 0 else end + 1

    def skip_string(self, pos: int) -> int:
        """``pos`` at an opening quote; returns the position after the closing one."""
        s = self.s
        q = s[pos]
        if s.startswith(q * 3, pos):
            pos += 3
            while pos < self.n:
                if q == '"' and s[pos] == "\\":
                    pos += 2
                    continue
                if s.startswith(q * 3, pos):
                    pos += 3
                    while pos < self.n and s[pos] == q and pos < self.n:   # up to two more quotes
                        pos += 1                                          # belong to the content
                    return pos
                pos += 1
            return pos
        pos += 1
        while pos < self.n:
            c = s[pos]
            if q == '"' and c == "\\":
                pos += 2
                continue
            if c == q or c == "\n":
                return pos + 1
            pos += 1
        return pos

    def key(self, pos: int) -> tuple[list[str], int]:
        """A dotted key at ``pos``: its parts and the position after it."""
        parts = []
        s = self.s
        while True:
            pos = self.skip_ws(pos, False)
            if pos < self.n and s[pos] in "\"'":
                end = self.skip_string(pos)
                parts.append(_decode_key(s[pos:end]))
                pos = end
            else:
                m = _BARE.match(s, pos)
                if not m:
                    return parts, pos
                parts.append(m.group())
                pos = m.end()
            pos = self.skip_ws(pos, False)
            if pos < self.n and s[pos] == ".":
                pos += 1
                continue
            return parts, pos

    # -- the document
    def scan(self) -> dict[str, int]:
        s, n = self.s, self.n
        table = ""
        pos = 0
        while pos < n:
            pos = self.skip_ws(pos, True)
            if pos >= n:
                break
            if s[pos] == "[":
                aot = s.startswith("[[", pos)
                parts, end = self.key(pos + (2 if aot else 1))
                table = self.header(parts, aot, pos)
                pos = self.skip_line(end)
                continue
            parts, end = self.key(pos)
            if not parts:                  # cannot happen in valid TOML; move on
                pos = self.skip_line(pos)
                continue
            path = table
            for p in parts:
                path = join(path, p)
                self.note(path, pos)
            end = self.skip_ws(end, False)
            if end < n and s[end] == "=":
                end = self.value(path, self.skip_ws(end + 1, False))
            pos = self.skip_line(end) if end < n and s[end] not in "\r\n" else end
        return self.lines

    def header(self, parts: list[str], aot: bool, pos: int) -> str:
        path = ""
        for i, p in enumerate(parts):
            path = join(path, p)
            last = i == len(parts) - 1
            if last and aot:
                k = self.aot.get(path, 0)
                self.aot[path] = k + 1
                self.note(path, pos)
                path = index(path, k)
            elif path in self.aot:         # [[cues.hits]] and [cues.x]: in the last [[cues]]
                path = index(path, self.aot[path] - 1)
            self.note(path, pos)
        return path

    def value(self, path: str, pos: int) -> int:
        """Scan the value at ``pos`` (of the key at ``path``); returns the position after it."""
        s, n = self.s, self.n
        stack: list[list] = []             # [kind, path, next index]
        while True:
            # one value starts at pos
            if pos >= n:
                return pos
            c = s[pos]
            if c in "\"'":
                pos = self.skip_string(pos)
            elif c == "[":
                stack.append(["[", path, 0])
                pos += 1
            elif c == "{":
                stack.append(["{", path, 0])
                pos += 1
            else:                          # a number, a date, true/false, inf, nan
                while pos < n and s[pos] not in ",]}#\r\n":
                    pos += 1
            # then: close what ends here, and find where the next value starts
            while True:
                if not stack:
                    return pos
                kind, base, count = stack[-1]
                pos = self.skip_ws(pos, True)
                if pos >= n:
                    return pos
                c = s[pos]
                if c == ",":
                    pos += 1
                    continue
                if c in "]}":
                    stack.pop()
                    pos += 1
                    continue
                if kind == "[":
                    stack[-1][2] = count + 1
                    path = index(base, count)
                    self.note(path, pos)
                    break
                parts, end = self.key(pos)
                if not parts:
                    pos += 1
                    continue
                path = base
                for p in parts:
                    path = join(path, p)
                    self.note(path, pos)
                end = self.skip_ws(end, False)
                pos = self.skip_ws(end + 1, False) if end < n and s[end] == "=" else end
                break


def _decode_key(quoted: str) -> str:
    try:
        return next(iter(tomllib.loads(f"{quoted} = 0")))
    except (tomllib.TOMLDecodeError, StopIteration):
        return quoted.strip("\"'")


def key_lines(text: str) -> dict[str, int]:
    """Map every key path of a (valid) TOML text to the line it starts on."""
    return _Scanner(text).scan()
