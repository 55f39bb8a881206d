"""The session loader under random and broken files: whatever it is given, it loads the file or
raises a SessionError that names the file (and the line and key where there is one, the line
being where that key is written) - never another exception.

The files start from the shipped sessions and one that uses every section and form, and are
broken the ways files are: values of the wrong type, NaN and inf, numbers of hundreds of
digits, strings of 100 000 characters, arrays and tables nested thousands deep, keys written
twice, lines lost or doubled or swapped, bytes that are not UTF-8, and plain noise.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from pathlib import Path

import pytest
import tomlkit
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from stage.session import SessionError, describe, load_session
from stage.session.lines import join, key_lines

from .conftest import ROOT

ASSETS = ROOT / "assets"

EVERYTHING = """\
# every section, and the inline forms
[film]
file = "demo_film.mp4"
in = "00:00:01:00"
out = 20.5
start = "00:00:00:00"
switch = "now"

[display]
screen = 0
fullscreen = false
size = [1280, 720]
timecode = "bottom-left"
latency_ms = 40
a4 = 442
monitor = true
monitor_size = [640, 360]

[audio]
file = "demo_performance.flac"
blocksize = 128
hop = 256

[[players]]
name = "Trumpet"
colour = [255, 176, 0]
channel = 1
lowest = "E3"
highest = "C6"
transpose = "Bb"
gain_db = 6

[[players]]
name = "Keys"
midi = "keys"
midi_channel = 2
bend_range = 12
color = "violet"

[control]
midi = "pedal"
osc_listen = "127.0.0.1:9000"
osc_send = ["127.0.0.1:9001", 9002]
map = [
  {action = "toggle_play", cc = 64},   # the pedal
  {action = "nudge", note = 60, channel = 1, arg = -0.5},
]

[[cues]]
name = "1M1"
in = "00:00:01:00"
out = "00:00:09:00"
palette = ["amber", "#00ff00"]
harmony = [["00:00:02:00", "Dm7"], ["00:00:04:12", "G7"], [7.0, "C dorian"]]
title = "The lift"

[[cues.hits]]
time = "00:00:03:00"
label = "door"
flutter = 4
tempo = 96

[[cues]]
name = "1M2"
in = 10
out = 20
harmony = "Dm7*2 | G7 | Cmaj7"
tempo = 120
beats_per_bar = 3

[sync]
mtc_out = "stage-mtc"
mtc_rate = 25
clock_out = "stage-mtc"
clock_bpm = 100
"""

SEEDS = [(ASSETS / "example_session.toml").read_text(), (ASSETS / "demo_session.toml").read_text(), EVERYTHING]

# 150 examples a test keeps the suite quick (about 30 s in all); STAGE_FUZZ_EXAMPLES=5000 searches longer
EXAMPLES = int(os.environ.get("STAGE_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                             HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def where():
    with tempfile.TemporaryDirectory(prefix="stage-fuzz-") as d:
        yield Path(d) / "session.toml"


def test_the_seeds_load():
    """The starting points are good sessions (so a mutation is what breaks them)."""
    with tempfile.TemporaryDirectory() as d:
        for text in SEEDS:
            p = Path(d) / "s.toml"
            p.write_text(text)
            s = load_session(p, base_dir=ASSETS)
            assert s.players and describe(s)


def loads_or_says_where(path: Path, blob: bytes):
    """Load ``blob`` as a session file: a Session, or a SessionError that is right about where."""
    path.write_bytes(blob)
    try:
        session = load_session(path, base_dir=ASSETS)
    except SessionError as e:
        text = str(e)
        assert e.path == path and text.startswith(str(path)), text
        assert len(text) < len(str(path)) + 3000, f"a message of {len(text)} characters"
        lines = blob.split(b"\n")
        assert 0 <= e.line <= len(lines), (e.line, len(lines))
        if e.key:
            assert f": {e.key}: " in text
            _the_line_names_the_key(blob, e)
        event(f"error at {re.sub(r'[.[].*', '', e.key) or '(no key)'}{' (no line)' if not e.line else ''}")
        return e
    assert describe(session)
    event("loaded")
    return session


def _the_line_names_the_key(blob: bytes, e: SessionError):
    """If the key of the error is written in the file as a plain name, its line shows that name."""
    data = tomllib.loads(blob.decode("utf-8"))
    node, name = data, None
    for part in re.findall(r"\[(\d+)\]|\.?([A-Za-z0-9_-]+)|\.?(\"(?:[^\"\\]|\\.)*\")", e.key):
        i, bare, quoted = part
        if quoted:
            return                          # a quoted key: its spelling in the file may differ
        if i:
            if not (isinstance(node, list) and int(i) < len(node)):
                return
            node, name = node[int(i)], None
        else:
            if not (isinstance(node, dict) and bare in node):
                return                      # not written (a default's error): the table's line is used
            node, name = node[bare], bare
    if name is None or isinstance(node, (list, dict)):
        return                              # a table, or an element of a list: its own line
    line = blob.split(b"\n")[e.line - 1].decode("utf-8")
    assert name in line, f"{e} points at line {e.line}: {line!r}"


# -- values of every kind TOML has, and of none a session expects

LONG = st.integers(1000, 100_000).map(lambda n: "x" * n)
KEYS = st.one_of(st.sampled_from(["name", "channel", "in", "out", "file", "colour", "harmony", "hits", "map",
                                  "lowest", "fps", "size", "x", "players", "cues"]),
                 st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=12))
SCALARS = st.one_of(
    st.integers(-(10 ** 30), 10 ** 30), st.sampled_from([0, -1, 1, 2 ** 63 - 1, -(2 ** 63), 10 ** 20]),
    st.floats(), st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e308, -0.0, 5e-324]),
    st.booleans(), st.text(max_size=40), LONG,
    st.sampled_from(["00:00:01:00", "99:59:59:29", "00:00:01;02", "E3", "H9", "C99999999999", "Bb", "#ffb000",
                     "amber", "Dm7 | G7", "Dm7*999999", "D7#10", "127.0.0.1:9000", ":0", "x:99999", "", " ",
                     "/nonexistent/film.mp4", "~/x.mp4", "\x00", "a" * 300 + "/" + "b" * 300]),
    st.datetimes(), st.dates(), st.times(),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(KEYS, inner, max_size=4)), max_leaves=10)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _dump(data) -> bytes:
    try:
        return tomlkit.dumps(data).encode("utf-8")
    except Exception:                       # a structure tomlkit will not write (not the loader's test)
        assume(False)


@FUZZ
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_wrong_values_anywhere(where, seed, data):
    """Take a good session, and at any key or element put any value, remove it, or add a key."""
    tree = tomllib.loads(seed)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(list(_paths(tree))[1:]))
        parent = tree
        for p in path[:-1]:
            parent = parent[p]
        op = data.draw(st.sampled_from(["replace", "replace", "delete", "add", "wrap"]))
        if op == "replace":
            parent[path[-1]] = data.draw(VALUES)
        elif op == "delete":
            del parent[path[-1]]
        elif op == "add" and isinstance(parent[path[-1]], dict):
            parent[path[-1]][data.draw(KEYS)] = data.draw(VALUES)
        elif op == "wrap":
            parent[path[-1]] = [parent[path[-1]]]
        if not tree:
            break
    loads_or_says_where(where, _dump(tree))


@FUZZ
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_broken_text(where, seed, data):
    """Lines lost, doubled (keys written twice), swapped or cut; noise and stray brackets typed in."""
    lines = seed.split("\n")
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        op = data.draw(st.sampled_from(["delete", "double", "swap", "cut", "type", "value", "noise"]))
        if op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "double":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "cut":
            lines[i] = lines[i][:data.draw(st.integers(0, len(lines[i])))]
        elif op == "type":
            at = data.draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + data.draw(st.text(alphabet='[]{}="\'#.,:;-_ \\\nax01', max_size=6)) + lines[i][at:]
        elif op == "value" and "=" in lines[i]:
            key = lines[i].split("=")[0]
            lines[i] = key + "= " + data.draw(st.sampled_from(
                ["nan", "-nan", "inf", "-inf", "1e400", "-1e400", "0x" + "f" * 300, "9" * 5000, "9" * 4000, "-0",
                 "1_000", "true", "[]", "{}", "[[]]", '""', "'''\n\n'''", "1979-05-27T07:32:00Z", "07:32:00",
                 '"' + "y" * 100_000 + '"', "[" * 500 + "]" * 500, "{a = " * 200 + "1" + "}" * 200,
                 '"\\u0000"', '["00:00:01:00"]', "[[1, 2], [3]]", '[{x = 1}, {y = [1, {z = 2}]}]']))
        elif op == "noise":
            lines.insert(i, data.draw(st.text(max_size=30)))
    loads_or_says_where(where, "\n".join(lines).encode("utf-8", "surrogatepass"))


@FUZZ
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_bytes_that_are_not_utf8(where, seed, data):
    blob = bytearray(seed.encode("utf-8"))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(blob) - 1))
        blob[at:at + 1] = data.draw(st.binary(min_size=1, max_size=3))
    e = loads_or_says_where(where, bytes(blob))
    try:
        bytes(blob).decode("utf-8")
    except UnicodeDecodeError as bad:
        assert isinstance(e, SessionError) and "not UTF-8" in e.message
        assert e.line == bytes(blob).count(b"\n", 0, bad.start) + 1          # the line with the bad byte


@FUZZ
@given(blob=st.one_of(st.binary(max_size=400), st.text(max_size=400).map(lambda t: t.encode("utf-8", "replace"))))
def test_noise(where, blob):
    e = loads_or_says_where(where, blob)
    assert isinstance(e, SessionError)                  # noise is never a session (it has no [film])


@settings(max_examples=40, deadline=None)
@given(depth=st.integers(1, 5000), form=st.sampled_from(["array", "inline", "header", "aot", "mixed"]),
       seed=st.sampled_from(SEEDS), key=st.sampled_from(["harmony", "size", "x"]))
def test_deep_nesting(where, depth, form, seed, key):
    if form == "array":
        text = f"{key} = " + "[" * depth + "]" * depth
    elif form == "inline":
        text = f"{key} = " + "{a = " * depth + "1" + "}" * depth
    elif form == "header":
        text = "[" + ".".join(["a"] * depth) + "]\nx = 1"
    elif form == "aot":
        text = "[[" + ".".join(["cues"] * min(depth, 1000)) + "]]\nx = 1"
    else:
        text = f"{key} = " + "[{a = " * depth + "1" + "}]" * depth
    # inside a table the session has, and at the top
    for blob in (seed.replace("[display]", "[display]\n" + text), seed + "\n" + text + "\n"):
        loads_or_says_where(where, blob.encode("utf-8"))


# -- the line scanner: every key of any TOML text is found on its line

SCAN_KEYS = st.text(st.sampled_from("abcxyz019_- ."), min_size=1, max_size=6)
SCAN_VALUES = st.recursive(
    st.one_of(st.integers(-5, 5), st.booleans(), st.floats(allow_nan=False), st.dates(),
              st.sampled_from(["x", "a = 1", "[t]\nk = 2", "[[a]]", "'q'", '"', "#", "\\", "\n x = [\n"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(SCAN_KEYS, inner, max_size=3),
                            st.lists(st.dictionaries(SCAN_KEYS, inner, min_size=1, max_size=3), min_size=1,
                                     max_size=3)),
    max_leaves=20)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=st.dictionaries(SCAN_KEYS, SCAN_VALUES, max_size=5))
def test_the_scanner_finds_every_key_on_its_line(tree):
    text = _dump(tree).decode("utf-8")
    data = tomllib.loads(text)             # what the text says (tomlkit may order it its own way)
    lines = key_lines(text)
    rows = text.split("\n")

    def walk(node, prefix, name):
        if prefix:
            assert prefix in lines, (prefix, text)
            if name is not None:
                row = rows[lines[prefix] - 1]
                spelled = join("", name)
                # a value's key is on its line as `key =`; a table's in its header or as `key = {`
                assert (spelled + " =" if not isinstance(node, (dict, list)) else spelled) in row, \
                    (prefix, lines[prefix], row, text)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, join(prefix, k), k)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{prefix}[{i}]", None)
    walk(data, "", None)


def test_a_multiline_string_holds_no_keys(tmp_path):
    """A key = value or a [table] inside a multi-line string is text, not a key (positive control
    for the scanner: the old line-by-line reader took them for keys)."""
    text = ('[[players]]\nname = """\nfps = 1\n[display]\n"""\nchannel = 1\n'
            "[display]\nnote = '''\nscreen = 2\n'''\nfps = 5\n")
    lines = key_lines(text)
    assert lines["players[0].channel"] == 6 and lines["display"] == 7 and lines["display.fps"] == 11
    assert "players[0].fps" not in lines and "display.screen" not in lines
