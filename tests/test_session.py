"""Session files: the examples load; every mistake names the file, the line and the key."""

import subprocess

import pytest

from stage.session import SessionError, load_session

from .conftest import ROOT, stage_cmd

GOOD = """\
[film]
file = "{film}"
in = "00:00:01:00"
out = 20.5

[display]
screen = 1
fullscreen = false
size = [1920, 1080]

[audio]
input = "Scarlett"
samplerate = 48000
blocksize = 128

[[players]]
name = "Trumpet"
colour = "#ffb000"
channel = 1
lowest = "E3"
highest = "C6"

[[players]]
name = "Bass"
channel = 2
lowest = "E1"
highest = "G3"
"""


@pytest.fixture
def write(tmp_path):
    film = ROOT / "assets" / "demo_film.mp4"

    def w(text, **repl):
        p = tmp_path / "session.toml"
        t = GOOD.format(film=film)
        for old, new in repl.items():
            t = t.replace(old, new)
        p.write_text(text.format(film=film) if text else t)
        return p
    return w


def test_a_good_session(write):
    s = load_session(write(None))
    assert s.film.loop_in == "00:00:01:00" and s.film.loop_out == 20.5
    assert s.display.screen == 1 and not s.display.fullscreen and s.display.size == (1920, 1080)
    assert s.audio.input == "Scarlett" and s.audio.samplerate == 48000 and s.audio.blocksize == 128
    assert [p.name for p in s.players] == ["Trumpet", "Bass"]
    assert s.players[0].colour == (255, 176, 0) and s.players[0].lowest == 52 and s.players[1].lowest == 28
    assert s.players[1].colour != s.players[0].colour          # a default colour of its own
    assert s.display.a4 == 440.0 and s.players[0].transpose == 0
    assert s.players[0].gain_db == 0.0 and s.players[0].noise_floor == -50.0


def test_tuning_transposition_gain_and_noise_floor(write):
    s = load_session(write(None, **{"screen = 1": "screen = 1\na4 = 442",
                                    'highest = "C6"': 'highest = "C6"\ntranspose = "Bb"\ngain_db = 12\nnoise_floor = -62',
                                    'highest = "G3"': 'highest = "G3"\ntranspose = 12'}))
    assert s.display.a4 == 442.0
    assert (s.players[0].transpose, s.players[0].gain_db, s.players[0].noise_floor) == (2, 12.0, -62.0)
    assert s.players[1].transpose == 12           # a double bass reads an octave up


@pytest.mark.parametrize("old,new,line,key,says", [
    ('colour = "#ffb000"', 'colour = "purpel"', 18, "players[0].colour", "amber"),
    ('lowest = "E1"', 'lowest = "H1"', 26, "players[1].lowest", "not a note name"),
    ("channel = 2", "channel = 0", 25, "players[1].channel", "numbered from 1"),
    ("samplerate = 48000", "samplerate = 47000", 13, "audio.samplerate", "44100, 48000"),
    ("blocksize = 128", "blocksize = 100", 14, "audio.blocksize", "64, 128, 256"),
    ('in = "00:00:01:00"', 'in = "00:00:01"', 3, "film.in", "HH:MM:SS:FF"),
    ("fullscreen = false", "fullscreen = \"no\"", 8, "display.fullscreen", "true or false"),
    ("size = [1920, 1080]", "size = [1920]", 9, "display.size", "[width, height]"),
    ('highest = "G3"', 'highest = "C1"', 27, "players[1].highest", "above lowest"),
    ("screen = 1", "scren = 1", 7, "display.scren", "valid keys in [display]: a4, analysis_offset_ms, feet_frames"),
    ('name = "Bass"', 'name = "Trumpet"', 24, "players[1].name", "two players are called"),
    ('highest = "C6"', 'highest = "C6"\ntranspose = "B flat"', 22, "players[0].transpose", "'Bb', 'Bb tenor', 'Eb'"),
    ('highest = "C6"', 'highest = "C6"\ngain_db = 90', 22, "players[0].gain_db", "-40 to 60"),
    ('highest = "C6"', 'highest = "C6"\nnoise_floor = 0', 22, "players[0].noise_floor", "dBFS"),
    ("screen = 1", "screen = 1\na4 = 880", 8, "display.a4", "400-480"),
    ('highest = "G3"', 'highest = "G3"\n\n[sync]\nclock_out = "x"\nclock_bpm = 9', 31, "sync.clock_bpm", "20-400"),
    ("screen = 1", "screen = 1\nmonitor = true\nmonitor_size = [640]", 9, "display.monitor_size", "[width, height]"),
])
def test_errors_name_file_line_key_and_choices(write, old, new, line, key, says):
    path = write(None, **{old: new})
    with pytest.raises(SessionError) as e:
        load_session(path)
    err = e.value
    assert err.path == path and err.line == line and err.key == key
    assert says in str(err)
    assert str(err).startswith(f"{path}:{line}: {key}:")


def test_missing_film_and_bad_toml(write, tmp_path):
    with pytest.raises(SessionError, match=r"session.toml:2: film.file: film not found: .*nowhere.mp4"):
        load_session(write(GOOD.replace("{film}", "/nowhere/nowhere.mp4")))
    p = tmp_path / "bad.toml"
    p.write_text("[film]\nfile = 'x.mp4'\nin = \n")
    with pytest.raises(SessionError, match=r"bad.toml:3: not valid TOML"):
        load_session(p)
    with pytest.raises(SessionError, match="no such session file"):
        load_session(tmp_path / "none.toml")


def test_no_players(write, tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(f'[film]\nfile = "{ROOT / "assets" / "demo_film.mp4"}"\n')
    with pytest.raises(SessionError, match="no players"):
        load_session(p)


@pytest.mark.parametrize("name", ["demo_session.toml", "example_session.toml"])
def test_shipped_sessions_load(name):
    s = load_session(ROOT / "assets" / name)
    assert len(s.players) >= 2


def test_check_prints_what_it_will_use():
    r = subprocess.run(stage_cmd("check", ROOT / "assets" / "demo_session.toml"), capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "960x400" in r.stdout and "24.000 fps" in r.stdout
    assert "00:00:00:00 - 00:00:30:00" in r.stdout
    assert "Trumpet" in r.stdout and "E3-C6" in r.stdout and "Bass" in r.stdout
    assert r.stdout.strip().endswith("ok")


def test_check_reports_a_film_loop_past_the_end(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(GOOD.format(film=ROOT / "assets" / "demo_film.mp4").replace("out = 20.5", "out = 95.0"))
    r = subprocess.run(stage_cmd("check", p), capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert f"{p}:4: film.out:" in r.stderr and "past the end of the film" in r.stderr


# -- the array-of-tables and inline forms, and values of every wrong kind

FORMS = """\
[film]
file = "{film}"

[[players]]
name = "Trumpet"
channel = 1

[control]
midi = "pedal"
map = [
  {action = "play", cc = 64},
  {action = "pause", note = 60},
]

[[cues]]
name = "1M1"
in = 0
out = 4

[[cues]]
name = "1M2"
in = 4
out = 8
harmony = [
  ["00:00:05:00", "Dm7"],
  ["00:00:06:00", "G7"],
]

[[cues.hits]]
time = "00:00:05:00"
label = "door"

[[cues.hits]]
time = 6.5
flutter = 2

[sync]
mtc_out = "stage-mtc"
"""


@pytest.mark.parametrize("old,new,line,key,says", [
    ("time = 6.5", 'time = "00:00:06"', 34, "cues[1].hits[1].time", "cue '1M2': expected timecode 'HH:MM:SS:FF'"),
    ("flutter = 2", "flutter = 17", 35, "cues[1].hits[1].flutter", "beats of flutter before the hit, 0-16, got 17"),
    ('label = "door"', 'label = "door"\nspeed = 2', 32, "cues[1].hits[0].speed",
     "valid keys in [[cues.hits]]: color, colour, flutter, label, punch, streamer, tempo, time"),
    ('{action = "pause", note = 60}', '{action = "jump", note = 60}', 12, "control.map[1].action",
     "no action 'jump'; the actions are: toggle_play, play, pause"),
    ('{action = "pause", note = 60}', '{action = "pause", note = 600}', 12, "control.map[1].note", "expected 0-127, got 600"),
    ('{action = "pause", note = 60}', '{action = "pause"}', 12, "control.map[1]", "one of 'cc'"),
    ('["00:00:06:00", "G7"]', '["00:00:06:00", "Gx7"]', 26, "cues[1].harmony", "cue '1M2': chord 2 ('Gx7'): unknown"),
    ('["00:00:06:00", "G7"]', '["00:00:06:00"]', 26, "cues[1].harmony", "chord 2: expected [timecode, \"chord\"]"),
    ("in = 4\n", "", 20, "cues[1]", "cue '1M2': missing 'in'"),
    ('name = "1M2"', 'name = "1M1"', 21, "cues[1].name", "two cues are called '1M1'"),
    ('mtc_out = "stage-mtc"', "mtc_rate = 26", 38, "sync.mtc_rate", "valid: 23.976, 24, 25, 29.97, 30"),
    ('midi = "pedal"', 'osc_listen = "0.0.0.0:99999"', 9, "control.osc_listen", "ports run 1-65535, got 99999"),
    ('midi = "pedal"', 'osc_send = [9000, "x"]', 9, "control.osc_send", "address 2: expected a port number or 'host:port', got 'x'"),
    ("out = 4\n", "out = inf\n", 18, "cues[0].out", "0 to 360000, got inf"),
    ("channel = 1", "channel = nan", 6, "players[0].channel", "expected an integer, got nan"),
    ("channel = 1", "channel = 1\ngain_db = nan", 7, "players[0].gain_db", "-40 to 60, got nan"),
    ("channel = 1", "channel = 1\ngain_db = -" + "9" * 400, 7, "players[0].gain_db",
     "-40 to 60, got a negative integer of 400 digits"),
    ("channel = 1", "channel = 1\nbend_range = 0x" + "f" * 4000, 7, "players[0].bend_range", "integer of 4817 digits"),
    ("channel = 1", "channel = 1\ncolour = \"red\"\ncolor = \"blue\"", 8, "players[0].color", "another spelling of 'colour'"),
    ("channel = 1", "channel = 1\nlowest = " + "9" * 30, 7, "players[0].lowest", "expected a note name"),
    ("channel = 1", "midi = 'keys'\nchannel = 1", 7, "players[0].channel", "either an audio channel or a midi port"),
    ("[sync]", "[synch]", 37, "synch", "unknown section; valid sections: film, display, audio, players, control, cues, sync"),
    ('[control]', '[control.more]\nx = 1\n[control]', 8, "control.more", "valid keys in [control]: map, midi, osc_listen"),
    ("[[players]]\nname", 'film = 4\n[[players]]\nname', 4, "film.film", "valid keys in [film]"),
])
def test_errors_in_arrays_of_tables_and_inline_forms(tmp_path, old, new, line, key, says):
    p = tmp_path / "forms.toml"
    text = FORMS.replace("{film}", str(ROOT / "assets" / "demo_film.mp4"))
    assert old in text
    p.write_text(text.replace(old, new, 1))
    with pytest.raises(SessionError) as e:
        load_session(p)
    assert (e.value.line, e.value.key) == (line, key), str(e.value)
    assert says in str(e.value) and str(e.value).startswith(f"{p}:{line}: {key}: ")


def test_the_forms_load_to_what_the_program_uses(tmp_path):
    p = tmp_path / "forms.toml"
    p.write_text(FORMS.replace("{film}", str(ROOT / "assets" / "demo_film.mp4")))
    s = load_session(p)
    assert s.control.maps == [{"action": "play", "cc": 64, "note": None, "channel": None, "arg": None},
                              {"action": "pause", "cc": None, "note": 60, "channel": None, "arg": None}]
    assert [c.name for c in s.cues] == ["1M1", "1M2"] and not s.cues_from_film
    assert [(h.time, h.label, h.flutter) for h in s.cues[1].hits] == [("00:00:05:00", "door", 0), (6.5, "", 2)]
    assert [(t, c.name) for t, c in s.cues[1].harmony_at] == [("00:00:05:00", "Dm7"), ("00:00:06:00", "G7")]
    assert s.players[0].line == 4 and s.players[0].colour == (255, 176, 0) and s.sync.mtc_out == "stage-mtc"
    assert s.lines["cues[1].hits[1].time"] == 34 and s.lines["control.map[1].note"] == 12
    assert s.error("cues[1].hits[0].punch", "x").line == 29      # not written: the line of its table


def test_players_as_an_inline_array_and_a_multiline_name(tmp_path):
    """The same data written the other ways TOML allows (the old line-by-line reader found no
    line for a key of an inline table)."""
    p = tmp_path / "s.toml"
    p.write_text(f'players = [\n  {{name = "A", channel = 1}},\n  {{name = "B", channel = 2, lowest = "Q1"}},\n]\n'
                 f'[film]\nfile = "{ROOT / "assets" / "demo_film.mp4"}"\n')
    with pytest.raises(SessionError) as e:
        load_session(p)
    assert (e.value.line, e.value.key) == (3, "players[1].lowest")
    p.write_text(p.read_text().replace('"Q1"', '"E1"'))
    assert [(q.name, q.channel, q.line) for q in load_session(p).players] == [("A", 1, 2), ("B", 2, 3)]


def test_a_file_that_is_not_utf8_names_its_line(tmp_path):
    p = tmp_path / "s.toml"
    p.write_bytes(b'[film]\nfile = "x.mp4"\n[[players]]\nname = "Caf\xe9"\n')
    with pytest.raises(SessionError) as e:
        load_session(p)
    assert e.value.line == 4 and "not UTF-8" in str(e.value) and "0xe9" in str(e.value)


# -- what stage check prints about the session

def test_describe_lists_every_setting_with_its_default_marked(write):
    from stage.session import describe
    from stage.session.kinds import Section, Tables
    from stage.session.model import Session, settings
    s = load_session(write(None))
    out = describe(s)
    rows = {}
    section = None
    for line in out:
        if line.startswith("["):
            section = line.split()[0]
        else:
            key, _, rest = line.strip().partition(" ")
            rows.setdefault(section, {})[key] = rest.strip()
    for sec in settings(Session):                 # every declared key, under its section
        if isinstance(sec.kind, Section):
            assert {x.key for x in settings(sec.kind.cls)} <= set(rows[f"[{sec.key}]"]), sec.key
        elif isinstance(sec.kind, Tables) and sec.key == "players":
            assert {x.key for x in settings(sec.kind.cls)} <= set(rows["[[players]]"])
    display = rows["[display]"]
    assert display["size"].startswith("[1920, 1080] ") and "(default)" not in display["size"]
    assert display["fps"].startswith("60 (default)") and "frames per second" in display["fps"]
    assert display["screen"].startswith("1 ") and "(default)" not in display["screen"]
    assert rows["[film]"]["in"].startswith('"00:00:01:00" ')
    assert rows["[film]"]["start"].startswith("not set (default)") and "00:00:00:00" in rows["[film]"]["start"]
    bass = out[out.index(next(x for x in out if x.startswith("[[players]]  # 2 Bass"))):]
    assert any(x.split()[:3] == ["colour", '"cyan"', "(default)"] for x in bass)    # its default colour
    assert any(x.split()[:2] == ["lowest", '"E1"'] and "(default)" not in x for x in bass)
    assert any(x.startswith("[[cues]]") and "one cue, 'loop'" in x for x in out)
    assert any(x.startswith("[sync]") and "not in the file" in x for x in out)


def test_check_prints_the_settings_and_an_error_on_its_own_line(write):
    import os
    path = write(None, **{'input = "Scarlett"': 'input = "Nowhere 9000"'})
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)            # stdout to a pipe is buffered, as in a shell's 2>&1 | less
    r = subprocess.run(stage_cmd("check", path), capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 2
    assert r.stderr.startswith(f"stage: {path}:12: audio.input: no audio input named 'Nowhere 9000'")
    assert r.stderr.count("\n") == 1 and "[display]" not in r.stderr
    assert "  [display]" in r.stdout and "stage:" not in r.stdout
    merged = subprocess.run(stage_cmd("check", path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            timeout=60, env=env).stdout.splitlines()
    assert merged[0].startswith("session ") and merged[-1] == r.stderr.strip()      # after all of the summary
    assert sum("stage:" in x for x in merged) == 1
