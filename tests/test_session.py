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
