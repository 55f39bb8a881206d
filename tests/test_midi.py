"""MIDI players: notes, velocity, pitch bend, sustain and chords on the lanes; ports by name
over JACK MIDI, that come and go."""

import os
import subprocess
import time

import pytest

from stage.midi.players import MidiFeed, velocity_db
from stage.music import midi_to_hz
from stage.session.model import PlayerConfig

from stage_testing import StageRun, wait_connected

from .conftest import stage_cmd
from .test_render import FakeClock, colour_at, is_colour, make_app


def test_notes_velocity_sustain_and_bend():
    f = MidiFeed("keys", channel=2, bend_range=2.0)
    f.take(1.0, [0x91, 60, 100])                     # channel 2 note on C4
    f.take(1.1, [0x90, 62, 100])                     # channel 1: not this player's
    assert [n.note for n in f.sounding] == [60] and f.sounding[0].velocity == 100
    f.take(1.2, [0x91, 64, 80])
    f.take(1.3, [0xB1, 64, 127])                     # sustain down
    f.take(1.4, [0x81, 60, 0])                       # C4 key up: held by the pedal
    assert [n.note for n in f.sounding] == [60, 64] and f.sounding[0].released
    f.take(1.5, [0x91, 64, 0])                       # note on, velocity 0 = note off (also held)
    f.take(1.6, [0xB1, 64, 0])                       # pedal up: both stop
    assert f.sounding == ()
    f.take(1.7, [0xE1, 0x7F, 0x7F])                  # full bend up
    assert f.bend == pytest.approx(2.0, abs=0.001)
    f.take(1.8, [0xE1, 0x00, 0x40])                  # centre
    assert f.bend == 0.0
    assert f.ons == 2 and list(f.on_note[:2]) == [60, 64]
    f.take(1.9, [0x91, 67, 90])
    f.take(2.0, [0xB1, 123, 0])                      # all notes off
    assert f.sounding == ()
    assert velocity_db(127) == 0.0 and velocity_db(64) == pytest.approx(-5.95, abs=0.05)


KEYS = PlayerConfig("Keys", (255, 90, 220), 0, 36, 84, midi="keys")


def test_a_chord_is_drawn_at_its_rows_exactly_and_named():
    clock = FakeClock()
    app, (feed,) = make_app([KEYS], clock)
    feed.connected = True
    lane = app.lane("Keys")
    t0 = clock.t
    for note in (60, 64, 67):                         # C major
        feed.take(t0, [0x90, note, 110])
    app.frame(t0)
    clock.t = t0 + 1.0
    app.frame()
    x = app.now_x - 0.5 * app.pps
    for note in (60, 64, 67):
        assert is_colour(colour_at(app, x, lane.geom.y_for_midi(note)), (255, 90, 220))
    assert not is_colour(colour_at(app, x, lane.geom.y_for_midi(62)), (255, 90, 220))
    assert lane.status == "pitch" and lane.note_label() == ("C4 E4 G4", None)
    feed.take(clock.t, [0xE0, 0x00, 0x60])            # bend up a semitone (of 2)
    assert lane.note_label()[0].startswith("C#4")
    for note in (60, 64, 67):
        feed.take(clock.t, [0x80, note, 0])
    clock.t += 0.1
    app.frame()
    assert lane.status == "no signal"
    app.close()


SESSION = """
[film]
file = "{film}"

[[players]]
name = "Keys"
colour = "magenta"
midi = "{port}"
lowest = "C2"
highest = "C7"
"""


def test_notes_from_a_jack_midi_port_are_shown_and_the_port_comes_back(jack_server, tmp_path, monkeypatch):
    import jack
    import rtmidi
    monkeypatch.setenv("JACK_DEFAULT_SERVER", jack_server)          # for rtmidi's JACK client here
    from stage.film.synth import make_numbered_clip
    film = make_numbered_clip(tmp_path / "f.mp4", 240, size=(160, 90))
    session = tmp_path / "s.toml"
    session.write_text(SESSION.format(film=film, port="stage-test-keys"))
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="stage-test-keys")
    out.open_virtual_port("out")
    port = "stage-test-keys:out"
    jc = jack.Client("stage-test-watch", servername=jack_server, no_start_server=True)
    try:
        with StageRun(session, 8, jack=jack_server, midi_ports=[port], silent=False) as run:
            time.sleep(0.3)
            t_sent = time.clock_gettime(time.CLOCK_MONOTONIC_RAW)
            out.send_message([0x90, 64, 100])                        # E4, velocity 100
            time.sleep(1.0)
            out.send_message([0x80, 64, 0])
            time.sleep(0.5)
            out.close_port()                                         # the keyboard is unplugged ...
            out.delete()
            time.sleep(1.5)
            out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="stage-test-keys")
            out.open_virtual_port("out")                             # ... and back
            assert wait_connected(jc, port, 10), "stage did not reconnect"
            time.sleep(0.3)
            t_back = time.clock_gettime(time.CLOCK_MONOTONIC_RAW)
            out.send_message([0x90, 67, 64])                         # G4 after the reconnect
    finally:
        jc.close()
        out.delete()
    assert run.ok, run.stderr
    frames = run.frames
    keys = [(f["t_present"], f["players"]["Keys"]) for f in frames]
    shown = [(t, k) for t, k in keys if k["f0_hz"] > 0 and t < t_back]
    assert shown, "the note never showed"
    first_t, first = shown[0]
    assert first["f0_hz"] == pytest.approx(midi_to_hz(64), rel=1e-4)           # exact, no tracking error
    assert first["level_db"] == pytest.approx(velocity_db(100), abs=0.01)
    assert first_t - t_sent < 0.25               # at once (how soon: bench_midi.py, in BENCHMARKS.md)
    assert first["t_capture"] >= t_sent and first["t_capture"] - t_sent < 0.1    # stamped on arrival (JACK
    #                                                 delivers it within a period or two: bench_midi.py)
    statuses = [k["status"] for t, k in keys]
    assert "no input" in statuses                                                # while unplugged
    after = [k for t, k in keys if t > t_back + 0.1]
    assert after and all(k["status"] == "pitch" for k in after)
    assert after[-1]["f0_hz"] == pytest.approx(midi_to_hz(67), rel=1e-4)


def test_a_missing_midi_port_names_the_ones_there(jack_server, tmp_path):
    from stage.film.synth import make_numbered_clip
    film = make_numbered_clip(tmp_path / "f.mp4", 48, size=(160, 90))
    session = tmp_path / "s.toml"
    session.write_text(SESSION.format(film=film, port="Nord Stage"))
    env = dict(os.environ, JACK_DEFAULT_SERVER=jack_server, SDL_VIDEODRIVER="dummy")
    r = subprocess.run(stage_cmd("run", session, "--headless", "--seconds", 1), env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert f"{session}:8: players[0].midi: no MIDI input named 'Nord Stage'" in r.stderr


def test_check_names_the_midi_port_it_will_use(jack_server, tmp_path, monkeypatch):
    import rtmidi
    from stage.film.synth import make_numbered_clip
    monkeypatch.setenv("JACK_DEFAULT_SERVER", jack_server)
    film = make_numbered_clip(tmp_path / "f.mp4", 48, size=(160, 90))
    session = tmp_path / "s.toml"
    session.write_text(SESSION.format(film=film, port="stage-check-keys"))
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="stage-check-keys")
    out.open_virtual_port("out")
    try:
        r = subprocess.run(stage_cmd("check", session), capture_output=True, text=True, timeout=60)
    finally:
        out.delete()
    assert r.returncode == 0, r.stderr
    assert "MIDI 'stage-check-keys:out' all channels" in r.stdout and "audio    none" in r.stdout
