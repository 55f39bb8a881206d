"""Control: keyboard, MIDI and OSC map to the same actions; OSC data out."""

import socket
import subprocess
import threading
import time

import pygame
import pytest
from pythonosc import dispatcher, osc_server
from pythonosc.udp_client import SimpleUDPClient

from stage.audio.analysis import Frame
from stage.audio.state import PlayerFeed
from stage.control.actions import ControlQueue
from stage.control.midi import MidiControl
from stage.control.osc import OscControl, OscOut
from stage_testing import StageRun
from stage.session.model import PlayerConfig

from .conftest import need_tool
from .scene import FakeClock, Scene
from .test_performance import film_of


def test_midi_cc_and_notes_map_to_actions_and_learn():
    q = ControlQueue()
    mc = MidiControl([{"action": "toggle_play", "cc": 64}, {"action": "marker", "note": 36, "channel": 10}], q)
    mc.take(0, [0xB0, 64, 127])                    # pedal down: once
    mc.take(0, [0xB0, 64, 127])                    # still down: nothing
    mc.take(0, [0xB0, 64, 0])                      # up: nothing
    mc.take(0, [0xB0, 64, 100])                    # down again
    mc.take(0, [0x99, 36, 90])                     # note 36 on channel 10
    mc.take(0, [0x90, 36, 90])                     # note 36 on channel 1: not mapped
    assert [c.action for c in q.drain()] == ["toggle_play", "toggle_play", "marker"]
    mc.learn = "hud"                               # MIDI learn: the next message binds "hud"
    mc.take(0, [0xB2, 20, 127])
    mc.take(0, [0xB2, 20, 0])
    mc.take(0, [0xB2, 20, 127])
    assert [c.action for c in q.drain()] == ["hud"]
    assert mc.learned[0].cc == 20 and mc.learned[0].channel == 3


def test_osc_control_in_and_malformed_packets_are_counted_not_fatal():
    q = ControlQueue()
    osc = OscControl("127.0.0.1", 0, q).start()
    try:
        c = SimpleUDPClient(*osc.address)
        c.send_message("/stage/hud", [])
        c.send_message("/stage/nudge", [2.5])
        c.send_message("/stage/warp", [])           # no such action
        c.send_message("/elsewhere", [1])           # not ours
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"\x00\x01garbage", osc.address)   # not OSC
        s.sendto(b"/stage/hud\x00\x00,i\x00\x00\x00", osc.address)   # truncated arguments
        time.sleep(0.3)
        got = list(q.drain())
        assert [(g.action, g.arg) for g in got] == [("hud", None), ("nudge", 2.5)]
        assert osc.unknown == 2
        assert osc.malformed == 2
        c.send_message("/stage/blackout", [])        # and it is still listening
        time.sleep(0.2)
        assert [g.action for g in q.drain()] == ["blackout"]
    finally:
        osc.stop()


def test_actions_from_any_source_act_on_the_show(clip_dir):
    from stage.film.synth import make_numbered_clip
    clock = FakeClock()
    app = Scene([PlayerConfig("A", (255, 0, 0), 1, 40, 80)], film=film_of(make_numbered_clip(clip_dir / "a.mp4", 240,
                                                                                         size=(160, 90))), clock=clock)
    for a in ("hud", "blackout", "pause"):
        app.controls.put(a, None, "osc")
    assert app.controller.drain() == 3
    v = app.controller.view
    assert v.hud and v.blackout and not app.transport.playing
    app.key(pygame.K_SPACE)                        # the keyboard goes the same way
    assert app.transport.playing
    p0 = app.transport.at()
    app.controls.put("nudge", 2.0, "midi")
    app.controller.drain()
    p1 = app.transport.at()
    assert p1.offset == pytest.approx(p0.offset + 2.0) and p1.epoch > p0.epoch
    app.key(pygame.K_RIGHT)                        # a frame on
    assert app.transport.at().frame == p1.frame + 1
    app.key(pygame.K_t)                            # a marker where the film is
    assert app.controller.view.markers[-1][0] == p1.frame + 1
    app.close()


def test_osc_out_sends_every_analysis_result():
    received = []
    d = dispatcher.Dispatcher()
    d.map("/stage/player/*", lambda addr, *args: received.append((addr, args)))
    server = osc_server.ThreadingOSCUDPServer(("127.0.0.1", 0), d)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        feed = PlayerFeed("Horn")
        out = OscOut([server.server_address], [PlayerConfig("Horn", (1, 1, 1), 1, 40, 80)], [feed])
        for i in range(5):
            feed.push(100.0 + i * 0.005, Frame(440.0, 0.9, -12.0, -6.0, i == 0))
        out.step()
        time.sleep(0.3)
        assert len(received) == 5
        addr, args = received[0]
        assert addr == "/stage/player/Horn"
        assert args[0] == pytest.approx(100.0) and args[1] == pytest.approx(440.0) and args[4] == 1
    finally:
        server.shutdown()


SESSION = """
[film]
file = "{film}"

[control]
midi = "stage-test-pedal"
osc_listen = {port}

[[control.map]]
action = "toggle_play"
cc = 64

[[players]]
name = "Keys"
midi = "stage-test-pedal"
"""


def test_a_pedal_and_osc_drive_a_running_show(jack_server, tmp_path, monkeypatch):
    import rtmidi

    from stage.film.synth import make_numbered_clip
    monkeypatch.setenv("JACK_DEFAULT_SERVER", jack_server)
    film = make_numbered_clip(tmp_path / "f.mp4", 240, size=(160, 90))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    session = tmp_path / "s.toml"
    session.write_text(SESSION.format(film=film, port=port))
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="stage-test-pedal")
    out.open_virtual_port("out")
    oscsend = need_tool("oscsend")
    try:
        with StageRun(session, 5, jack=jack_server, midi_ports=["stage-test-pedal:out"], silent=False) as run:
            time.sleep(0.5)
            out.send_message([0xB0, 64, 127])                    # pedal: pause
            time.sleep(0.8)
            t_osc = time.clock_gettime(time.CLOCK_MONOTONIC_RAW)
            subprocess.run([oscsend, "127.0.0.1", str(port), "/stage/play"], check=True)   # a network cue: play
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"junk", ("127.0.0.1", port))
    finally:
        out.delete()
    assert run.ok, run.stderr
    frames = run.frames
    playing = [f["film"]["playing"] for f in frames]
    assert playing[0] and not all(playing)
    paused = [f for f in frames if not f["film"]["playing"]]
    assert len({f["film"]["frame"] for f in paused}) == 1           # the picture held while paused
    assert frames[-1]["film"]["playing"]                             # and played again on the OSC cue
    first_after = next(f for f in frames if f["t_present"] > t_osc and f["film"]["playing"])
    assert first_after["t_present"] - t_osc < 0.1


def test_midi_learn_from_the_hud_binds_and_saves(tmp_path):
    from stage.control.midi import append_mapping
    from stage.session import load_session

    from .conftest import ROOT
    session = tmp_path / "s.toml"
    session.write_text((ROOT / "assets" / "demo_session.toml").read_text()
                       .replace('"demo_film.mp4"', f'"{ROOT / "assets" / "demo_film.mp4"}"')
                       .replace('"demo_performance.flac"', f'"{ROOT / "assets" / "demo_performance.flac"}"'))
    clock = FakeClock()
    app = Scene([PlayerConfig("A", (255, 0, 0), 1, 40, 80)], clock=clock)
    q = app.controls
    saved = threading.Event()
    mc = MidiControl([], q, on_learn=lambda m: (append_mapping(session, m), saved.set()))
    app.controller.midi_control = mc
    app.key(pygame.K_l)                      # learn: the first action
    app.key(pygame.K_l)                      # L again: the next one
    assert mc.learn == "play" and app.controller.view.hud
    rendered = []
    real = app.renderer.text.render
    app.renderer.text.render = lambda *a, **k: rendered.append(a[0]) or real(*a, **k)
    from stage.show import Show
    app.renderer.hud_lines = lambda fs, projector=None: Show.hud_lines(_HudOnly(), fs, projector)
    app.frame()
    assert any("MIDI LEARN" in t for t in rendered)
    mc.take(0, [0x90, 48, 100])              # the next note binds "play"
    assert saved.wait(2)
    assert mc.learn is None
    mc.take(0, [0x90, 48, 100])
    assert [c.action for c in q.drain()] == ["play"]
    s = load_session(session)                # saved in the session, which still loads
    assert {"action": "play", "cc": None, "note": 48, "channel": 1, "arg": None} in s.control.maps
    app.close()


class _HudOnly:
    """A show with nothing running, for its HUD's lines."""
    film = source = analysis = pacer = renderer = director = osc_in = osc_out = chase = mtc_sender = None
    recorder = None
    learn_error = ""
    midi = ()


CUE_SESSION = """
[film]
file = "{film}"

[control]
midi = "stage-test-ctl"

[[control.map]]
action = "next_cue"
cc = 20
arg = 1

[[cues]]
name = "one"
in = 0.0
out = 2.0

[[cues]]
name = "two"
in = 5.0
out = 7.0

[[players]]
name = "Keys"
midi = "stage-test-ctl"
"""


def test_a_cc_mapped_to_next_cue_switches_the_cue(jack_server, tmp_path, monkeypatch):
    import rtmidi

    from stage.film.synth import make_numbered_clip
    monkeypatch.setenv("JACK_DEFAULT_SERVER", jack_server)
    film = make_numbered_clip(tmp_path / "f.mp4", 240, size=(160, 90))
    session = tmp_path / "s.toml"
    session.write_text(CUE_SESSION.format(film=film))
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="stage-test-ctl")
    out.open_virtual_port("out")
    try:
        with StageRun(session, 4, jack=jack_server, midi_ports=["stage-test-ctl:out"], silent=False) as run:
            time.sleep(0.8)
            t_cc = time.clock_gettime(time.CLOCK_MONOTONIC_RAW)
            out.send_message([0xB0, 20, 127])                    # the mapped controller: next cue, at once
    finally:
        out.delete()
    assert run.ok, run.stderr
    frames = run.frames
    before = [f["film"]["frame"] for f in frames if f["t_present"] < t_cc]
    after = [f for f in frames if f["t_present"] > t_cc + 0.6]
    assert before and all(0 <= n < 48 for n in before)                 # cue one: frames 0-47
    assert after and all(120 <= f["film"]["frame"] < 168 for f in after)   # cue two: 120-167
