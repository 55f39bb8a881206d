"""MIDI learn saves its mappings in the session file through tomlkit: in the form the file
already uses ([[control.map]] tables or an inline map = [...]), first among the mappings (so
after a reload the learned one still wins, as it does live), with every other line of the file
as it was, and by replacing the file whole."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from stage.control.actions import ControlQueue
from stage.control.midi import Mapping, MidiControl, append_mapping
from stage.session import SessionError, load_session

from .conftest import ROOT

HEAD = f"""\
# the band's session (comments stay)
[film]
file = "{ROOT / 'assets' / 'demo_film.mp4'}"   # the reel

[[players]]
name = "Keys"       # the keyboard
midi = "keys"
"""

AOT = HEAD + """
[control]
midi = "pedal"      # the foot pedal

# the pedal's own mapping
[[control.map]]
action = "pause"    # press to pause
note = 48
channel = 1

[[control.map]]
action = "hud"
cc = 20
"""

INLINE = HEAD + """
[control]
midi = "pedal"
map = [{action = "pause", note = 48, channel = 1}, {action = "hud", cc = 20}]   # on one line
"""

MULTILINE = HEAD + """
[control]
midi = "pedal"
map = [
    {action = "pause", note = 48, channel = 1},   # the pedal
    {action = "hud", cc = 20},
]
"""

NONE = HEAD

INLINE_TABLE = 'control = { midi = "pedal" }   # at the top\n' + HEAD


def _subsequence(old: str, new: str) -> bool:
    """Every line of ``old`` is in ``new``, in order (but the one line that holds an inline map:
    the new mapping is written into it)."""
    it = iter(new.splitlines())
    kept = [line for line in old.splitlines() if not line.startswith(("map = [{", "control = {"))]
    return all(any(line == n for n in it) for line in kept)


@pytest.mark.parametrize("form,text", [("aot", AOT), ("inline", INLINE), ("multiline", MULTILINE),
                                       ("no map yet", NONE), ("inline control table", INLINE_TABLE)])
def test_a_learned_mapping_is_saved_first_and_the_file_keeps_its_lines(tmp_path, form, text):
    p = tmp_path / "s.toml"
    p.write_text(text)
    os.chmod(p, 0o640)
    before = load_session(p).control.maps
    append_mapping(p, Mapping("play", note=48, channel=1))          # the same note as "pause" above
    after = p.read_text()
    assert _subsequence(text, after), after                         # comments and layout as they were
    maps = load_session(p).control.maps
    assert maps[0] == {"action": "play", "cc": None, "note": 48, "channel": 1, "arg": None}
    assert maps[1:] == before
    if form in ("aot", "no map yet"):
        assert "[[control.map]]" in after and after.count("[[control.map]]") == len(maps)
    elif form != "inline control table":
        assert after.count("map = [") == 1 and "[[control.map]]" not in after
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o640
    assert [f.name for f in tmp_path.iterdir()] == ["s.toml"]        # no temporary file left
    # live, the learned mapping wins; after the reload it still does
    q = ControlQueue()
    MidiControl(maps, q).take(0, [0x90, 48, 100])
    assert [c.action for c in q.drain()] == ["play"]


def test_the_single_line_array_is_written_as_one_line(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(INLINE)
    append_mapping(p, Mapping("blackout", cc=7, channel=3))
    line = next(x for x in p.read_text().splitlines() if x.startswith("map = "))
    assert line == ('map = [{action = "blackout", cc = 7, channel = 3}, {action = "pause", note = 48, channel = 1}, '
                    '{action = "hud", cc = 20}]   # on one line')


def test_learning_many_at_once_loses_none(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(AOT)
    threads = [threading.Thread(target=append_mapping, args=(p, Mapping("marker", cc=n))) for n in range(30, 42)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    ccs = {m["cc"] for m in load_session(p).control.maps if m["action"] == "marker"}
    assert ccs == set(range(30, 42))


def test_a_file_that_will_not_parse_is_left_alone(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(AOT + "\n[control\n")
    before = p.read_bytes()
    with pytest.raises(SessionError, match="cannot save the learned mapping"):
        append_mapping(p, Mapping("play", note=1))
    assert p.read_bytes() == before


def test_a_failed_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    p = tmp_path / "s.toml"
    p.write_text(AOT)
    before = p.read_bytes()

    def refuse(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(SessionError, match="No space left on device"):
        append_mapping(p, Mapping("play", note=1))
    assert p.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["s.toml"]
