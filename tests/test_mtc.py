"""MIDI time code: the film chases a DAW's MTC over JACK MIDI, locks, follows a locate and
stops with it; stage as the master sends MTC another program can read."""

import json
import os
import subprocess
import time
from fractions import Fraction

import numpy as np
import pytest

from stage.clock import now as raw       # CLOCK_MONOTONIC_RAW, as JACK
from stage.film.clock import FilmClock
from stage.midi.mtc import MtcReader, MtcSender, encode_pieces
from stage.rig import wait_connected

from .conftest import ROOT, stage_cmd


def test_quarter_frames_read_back():
    r = MtcReader()
    t, frame = 10.0, 24 * 3600
    for _ in range(20):
        for p in encode_pieces(frame, 24, 0):
            r.take(t, [0xF1, p])
            t += 1 / 96
        assert r.latest.frames == frame + 1.75 and not r.latest.full_frame
        frame += 2
    r.take(t, [0xF1, 0x35])                         # a piece out of order: the cycle starts again
    assert r.latest.frames == frame - 2 + 1.75



SESSION = """
[film]
file = "{film}"

[sync]
mtc_in = "stage-test-daw"

[[players]]
name = "A"
midi = "stage-test-daw"
"""


def test_the_film_chases_mtc_locates_and_stops(jack_server, tmp_path, monkeypatch):
    import jack
    import rtmidi
    from stage.film.synth import make_numbered_clip
    monkeypatch.setenv("JACK_DEFAULT_SERVER", jack_server)
    film = make_numbered_clip(tmp_path / "f.mp4", 480, size=(160, 90), fps=Fraction(24))
    session = tmp_path / "s.toml"
    session.write_text(SESSION.format(film=film))
    trace = tmp_path / "trace.jsonl"
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="stage-test-daw")
    out.open_virtual_port("mtc")
    jc = jack.Client("stage-test-watch3", servername=jack_server, no_start_server=True)
    daw = FilmClock(raw, playing=False)              # the DAW's transport
    daw.restart(2.0)                                 # parked at 00:00:02:00
    sender = MtcSender(out, daw, 24, 0, clock=raw)
    proc = subprocess.Popen(stage_cmd("run", session, "--headless", "--seconds", 9, "--trace", trace),
                            env=dict(os.environ, SDL_VIDEODRIVER="dummy"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    events = {}
    try:
        assert wait_connected(jc, "stage-test-daw:mtc"), "stage did not connect to the MTC port"
        sender.start()
        time.sleep(0.5)
        daw.play()
        events["play"] = raw()
        time.sleep(2.5)
        daw.restart(12.0)                            # the DAW locates while playing (its loop)
        events["locate"] = raw()
        time.sleep(2.0)
        daw.pause()
        events["stop"] = raw()
        outp, err = proc.communicate(timeout=60)
    finally:
        sender.stop()
        if proc.poll() is None:
            proc.kill()
        jc.close()
        out.delete()
    assert proc.returncode == 0, err
    frames = [json.loads(line) for line in trace.read_text().splitlines()]

    def daw_frame(t):                                 # where the DAW was at time t
        if t < events["play"]:
            return 48.0
        if t < events["locate"]:
            return 48.0 + (t - events["play"]) * 24
        if t < events["stop"]:
            return 288.0 + (t - events["locate"]) * 24
        return 288.0 + (events["stop"] - events["locate"]) * 24

    def errors(t0, t1):
        return [f["film"]["frame"] - daw_frame(f["t_present"]) for f in frames if t0 < f["t_present"] < t1]

    # locked within half a second of the DAW starting, then within a frame
    settled = errors(events["play"] + 0.5, events["locate"])
    assert settled and max(abs(e) for e in settled) <= 1.5, max(settled, key=abs)
    # after the locate: relocked within half a second, then within a frame
    relocked = errors(events["locate"] + 0.5, events["stop"])
    assert relocked and max(abs(e) for e in relocked) <= 1.5, max(relocked, key=abs)
    # stopped with the DAW: the picture holds
    after = [f for f in frames if f["t_present"] > events["stop"] + 0.7]
    assert after and not any(f["film"]["playing"] for f in after)
    assert len({f["film"]["frame"] for f in after}) == 1


def test_stage_as_master_sends_mtc_and_midi_clock_a_daw_can_read(jack_server, tmp_path, monkeypatch):
    import rtmidi
    from stage.film.synth import make_numbered_clip
    monkeypatch.setenv("JACK_DEFAULT_SERVER", jack_server)
    film = make_numbered_clip(tmp_path / "f.mp4", 240, size=(160, 90), fps=Fraction(25))
    session = tmp_path / "s.toml"
    session.write_text(f'[film]\nfile = "{film}"\nstart = "10:00:00:00"\n\n[sync]\nmtc_out = "stage-mtc-out"\n'
                       f'clock_out = "stage-mtc-out"\nclock_bpm = 120\n\n'
                       f'[audio]\nfile = "{ROOT / "assets" / "demo_performance.flac"}"\n\n'
                       f'[[players]]\nname = "A"\nchannel = 1\n')
    trace = tmp_path / "trace.jsonl"
    reader = MtcReader()
    daw = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="stage-test-daw-in")
    daw.ignore_types(sysex=False, timing=False)
    clocks = []

    def take(ev, data=None):
        if ev[0] == [0xF8]:
            clocks.append(raw())                 # MIDI clock, on the same port
        else:
            reader.take(raw(), ev[0])
    daw.set_callback(take)
    proc = subprocess.Popen(stage_cmd("run", session, "--headless", "--seconds", 4, "--trace", trace, "--silent"),
                            env=dict(os.environ, SDL_VIDEODRIVER="dummy"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    got = []
    try:
        t_end = time.monotonic() + 20
        while time.monotonic() < t_end:
            ports = [i for i, p in enumerate(daw.get_ports()) if "stage-mtc-out" in p]
            if ports:
                daw.open_port(ports[0])
                break
            time.sleep(0.05)
        else:
            pytest.fail("stage's MTC output port never appeared")
        t_end = time.monotonic() + 2.5
        while time.monotonic() < t_end:
            if reader.latest is not None:
                got.append(reader.latest)
            time.sleep(0.05)
        outp, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        daw.delete()
    assert proc.returncode == 0, err
    assert got and reader.cycles > 20 and got[-1].nominal == 25
    assert len(clocks) > 60 and np.median(np.diff(clocks)) == pytest.approx(60 / 120 / 24, abs=0.002)   # 48 a second
    frames = [json.loads(line) for line in trace.read_text().splitlines()]
    start = 10 * 3600 * 25
    for m in got[-10:]:                                  # the code says where the picture is
        f = min(frames, key=lambda f: abs(f["t_present"] - m.t))
        assert abs((m.frames - start) - f["film"]["frame"]) <= 2.0


def test_chase_freewheels_through_a_dropout_and_stops_when_the_code_stops():
    from stage.midi.mtc import Measurement, MtcChase
    now = [100.0]
    clock = FilmClock(lambda: now[0], playing=False)
    reader = MtcReader()
    chase = MtcChase(reader, 24, 0)
    reader.latest = Measurement(100.0, 48 + 1.75, 24, False)      # running code at 00:00:02:01.75
    chase.update(clock, 100.0)
    assert chase.state == "locked" and clock.playing
    assert clock.position() == pytest.approx((48 + 1.75) / 24)
    now[0] = 100.2                                                  # 0.2 s with no code: run on
    chase.update(clock, now[0])
    assert chase.state == "freewheel" and clock.playing
    assert clock.position() == pytest.approx((48 + 1.75) / 24 + 0.2)
    reader.latest = Measurement(100.25, 48 + 1.75 + 6.0 + 0.3, 24, False)   # back, 0.3 frame off
    now[0] = 100.25
    before = clock.position()
    chase.update(clock, now[0])
    assert chase.state == "locked"
    assert 0 < clock.position() - before < 0.3 / 24                # smoothed, not jumped
    now[0] = 101.0                                                  # the code stops
    chase.update(clock, now[0])
    assert chase.state == "stopped" and not clock.playing


class Recorder:
    """Where a sender's messages go in the unit tests (the rtmidi output's one method)."""

    def __init__(self):
        self.messages = []

    def send_message(self, m):
        self.messages.append((raw(), list(m)))


@pytest.fixture
def clock_out():
    """A stopped film clock and a MIDI clock sender at 150 bpm (60 clocks a second) following
    it into a Recorder: (film, recorder)."""
    from stage.midi.mtc import MidiClockSender
    film = FilmClock(raw, playing=False)
    out = Recorder()
    sender = MidiClockSender(out, film, 150.0, clock=raw).start()
    yield film, out
    sender.stop()


def test_midi_clock_follows_the_film_clock(clock_out):
    from stage.midi.mtc import CLOCK, CONTINUE, SONG_POSITION, START, STOP
    film, out = clock_out
    film.restart(0.0)
    film.play()
    time.sleep(1.0)
    film.pause()
    time.sleep(0.1)
    msgs = [m for _, m in out.messages]
    assert msgs[0] == [START]
    ticks = [t for t, m in out.messages if m == [CLOCK]]
    assert 55 <= len(ticks) <= 62                                   # 1 s at 150 bpm: 60
    assert np.median(np.diff(ticks)) == pytest.approx(1 / 60, abs=0.002)
    assert msgs[-1] == [STOP]
    out.messages.clear()
    film.nudge(10.0)                                                 # a locate, 10 s on
    at = film.position()
    film.play()
    time.sleep(0.4)
    msgs = [m for _, m in out.messages]
    i = msgs.index([CONTINUE])
    spp = msgs[i - 1]
    assert spp[0] == SONG_POSITION
    sixteenths = spp[1] | spp[2] << 7
    assert sixteenths == int(at * 150 / 60 * 4) + 1                  # from there, on the next sixteenth
    assert msgs[i + 1:] and all(m == [CLOCK] for m in msgs[i + 1:])


def test_midi_clock_relocates_after_a_small_move_back(clock_out):
    from stage.midi.mtc import CLOCK, CONTINUE, SONG_POSITION, STOP
    film, out = clock_out
    film.restart(2.0)
    film.play()
    time.sleep(0.5)
    out.messages.clear()
    film.nudge(-0.25)                                                # 15 clocks back, while playing
    time.sleep(0.4)
    msgs = [m for _, m in out.messages]
    assert [STOP] in msgs and [CONTINUE] in msgs                     # stopped, located, went on
    spp = msgs[msgs.index([CONTINUE]) - 1]
    assert spp[0] == SONG_POSITION
    assert msgs[msgs.index([CONTINUE]) + 1:].count([CLOCK]) > 10
