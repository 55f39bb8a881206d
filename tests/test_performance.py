"""The performance view: the players as artwork with no text; switching views drops no frame."""

import subprocess
import time

import pygame

from stage.audio.analysis import Frame
from stage.session.model import PlayerConfig

from stage_testing import StageRun, free_udp_port

from .conftest import ROOT, need_tool
from .scene import FakeClock, Scene
from .test_render import make_app

def hue_match(c, colour):
    """The same hue: the pixel's colour points the way of the player's (cosine > 0.97)."""
    dot = sum(a * b for a, b in zip(c, colour))
    return dot / ((sum(a * a for a in c) * sum(b * b for b in colour)) ** 0.5 + 1e-9) > 0.97


PLAYERS = [PlayerConfig("Trumpet", (255, 176, 0), 1, 52, 84), PlayerConfig("Bass", (60, 220, 255), 2, 28, 55)]


def spy_text(app):
    """Every string rendered from now on (text is rendered through one cache)."""
    rendered = []
    real = app.renderer.text.render
    app.renderer.text.render = lambda *a, **k: rendered.append(a[0]) or real(*a, **k)
    return rendered


def test_performance_frames_hold_no_text_and_show_the_players():
    clock = FakeClock()
    app = Scene(PLAYERS, clock=clock, hud=True, timecode="bottom-left")
    feeds = app.feeds
    t0 = clock.t
    for i in range(200):                               # a steady A4 and a steady A2
        feeds[0].push(t0 + i * 256 / 48000, Frame(440.0, 0.95, -10.0, -6.0, i == 0))
        feeds[1].push(t0 + i * 256 / 48000, Frame(110.0, 0.95, -12.0, -8.0, i == 0))
    clock.t = t0 + 200 * 256 / 48000
    rendered = spy_text(app)
    app.frame()
    assert rendered                                    # positive control: the studio view has text
    app.key(pygame.K_v)                                # to the performance view
    assert app.controller.view.view == "performance"
    rendered.clear()
    app.frame()
    assert rendered == []                              # no text: no HUD, no labels, no timecode
    perf = app.renderer.performance
    x = int(app.size[0] * 0.9)
    for hz, colour in ((440.0, (255, 176, 0)), (110.0, (60, 220, 255))):
        y = int(perf.y_for_hz(hz))
        column = [tuple(app.screen.get_at((x, yy))[:3]) for yy in range(y - 12, y + 13)]
        # the ribbon at the note's height glows in the player's hue
        assert any(sum(c) > 120 and hue_match(c, colour) for c in column), column
    assert perf.y_for_hz(110.0) > perf.y_for_hz(440.0)     # low notes low
    app.key(pygame.K_v)                                # and back: the studio view, text again
    app.frame()
    assert rendered
    app.close()


def film_of(path, cues=None):
    from stage.film.decoder import probe
    from stage.film.timecode import TimecodeFormat
    from stage.runtime import Cue, Film
    info = probe(path)
    cues = cues or [Cue("loop", (0, info.frames), [])]
    return Film(info, cues[0].loop, TimecodeFormat(info.fps), cues)


def test_switching_views_mid_run_goes_on_without_a_restart(tmp_path):
    port = free_udp_port()
    session = tmp_path / "s.toml"
    session.write_text((ROOT / "assets" / "demo_session.toml").read_text()
                       .replace('"demo_film.mp4"', f'"{ROOT / "assets" / "demo_film.mp4"}"')
                       .replace('"demo_performance.flac"', f'"{ROOT / "assets" / "demo_performance.flac"}"')
                       + f"\n[control]\nosc_listen = {port}\n")
    oscsend = need_tool("oscsend")
    with StageRun(session, 5) as run:
        time.sleep(2.0)
        for _ in range(3):                              # studio -> performance -> studio -> performance
            subprocess.run([oscsend, "127.0.0.1", str(port), "/stage/toggle_view"], check=True)
            time.sleep(0.6)
    assert run.ok, run.stderr
    frames = run.frames
    views = [f["view"] for f in frames]
    switches = [i for i in range(1, len(views)) if views[i] != views[i - 1]]
    assert len(switches) == 3 and views[-1] == "performance"
    for i in switches:                 # the film runs on through each switch (its timing: bench_render.py)
        before, after = frames[i - 5]["film"]["frame"], frames[min(len(frames) - 1, i + 30)]["film"]["frame"]
        assert after > before


def test_each_cue_can_have_its_own_palette(clip_dir):
    from stage.film.synth import make_numbered_clip
    from stage.runtime import Cue
    film = film_of(make_numbered_clip(clip_dir / "p2.mp4", 48, size=(160, 90)),
                   [Cue("night", (0, 10), [], [(120, 60, 255)])])
    clock = FakeClock()
    app = Scene(PLAYERS[:1], film=film, clock=clock, mode="performance")
    t0 = clock.t
    for i in range(100):
        app.feeds[0].push(t0 + i * 256 / 48000, Frame(440.0, 0.95, -10.0, -6.0, False))
    clock.t = t0 + 100 * 256 / 48000
    app.frame()
    y = int(app.renderer.performance.y_for_hz(440.0))
    column = [tuple(app.screen.get_at((int(app.size[0] * 0.95), yy))[:3]) for yy in range(y - 12, y + 13)]
    assert any(sum(c) > 120 and hue_match(c, (120, 60, 255)) for c in column), column
    assert not any(sum(c) > 120 and hue_match(c, (255, 176, 0)) for c in column)
    app.close()


def test_the_operators_monitor_shows_the_studio_view_while_the_projector_shows_the_performance(clip_dir):
    from stage.film.synth import make_numbered_clip
    film = film_of(make_numbered_clip(clip_dir / "p3.mp4", 48, size=(160, 90)))
    clock = FakeClock()
    app = Scene(PLAYERS, film=film, clock=clock, mode="performance", monitor=True, monitor_size=(640, 360))
    win = app.window
    assert win.monitor is not None and win.monitor.size == (640, 360)
    t0 = clock.t
    for i in range(200):
        app.feeds[0].push(t0 + i * 256 / 48000, Frame(440.0, 0.95, -10.0, -6.0, i == 0))
        app.feeds[1].push(t0 + i * 256 / 48000, Frame(110.0, 0.95, -12.0, -8.0, i == 0))
    clock.t = t0 + 200 * 256 / 48000
    rendered = spy_text(app)
    fs = app.frame()
    assert rendered == []                              # the projector: artwork, no text
    projector = pygame.surfarray.array3d(app.screen).copy()
    from stage.render.pacer import FramePacer
    pacer = FramePacer(win, app.renderer, app.controls)
    pacer._draw_monitor(fs)
    # the monitor: the lanes' labels and the HUD, saying what the audience sees
    assert "A4" in rendered and "A2" in rendered
    assert any(t.startswith("projector: performance view") for t in rendered)
    # ... the trumpet's line on the 440 Hz row (scaled to the monitor's size, in the studio layout)
    lane = app.lane("Trumpet")
    mon = win.monitor.get_surface()
    sx = mon.get_width() / app.size[0]
    y = lane.geom.y_for_hz(440.0) * sx
    x = (app.now_x - 0.5 * app.pps) * sx
    column = [tuple(mon.get_at((int(x), int(yy)))[:3]) for yy in range(int(y) - 2, int(y) + 3)]
    assert any(hue_match(c, (255, 176, 0)) and sum(c) > 200 for c in column), column
    # drawing the monitor left the projector's picture as it was
    assert (pygame.surfarray.array3d(app.screen) == projector).all()
    assert app.controller.view.view == "performance"
    app.close()


def test_the_harmony_tints_each_players_colour_by_its_notes_function():
    from stage.harmony import parse_chord
    from stage.render.lanes import FUNCTION_COLOURS
    clock = FakeClock()
    app, feeds = make_app(PLAYERS, clock)
    t0 = clock.t
    for i in range(200):      # the trumpet on E4 (a chord tone of Cmaj7), the bass on F#2 (outside it)
        feeds[0].push(t0 + i * 256 / 48000, Frame(329.63, 0.95, -10.0, -6.0, False))
        feeds[1].push(t0 + i * 256 / 48000, Frame(92.50, 0.95, -10.0, -6.0, False))
    clock.t = t0 + 200 * 256 / 48000
    perf = app.renderer.performance
    chord = parse_chord("Cmaj7")
    amber, cyan = (255, 176, 0), (60, 220, 255)
    want_t = tuple(int(0.5 * a + 0.5 * b) for a, b in zip(amber, FUNCTION_COLOURS["chord"]))
    want_b = tuple(int(0.5 * a + 0.5 * b) for a, b in zip(cyan, FUNCTION_COLOURS["outside"]))
    assert perf.tint(amber, feeds[0], chord) == want_t
    assert perf.tint(cyan, feeds[1], chord) == want_b
    assert perf.tint(amber, feeds[0], None) == amber                # no harmony: the player's own
    for chord_now, want in ((chord, want_b), (None, cyan)):
        app.screen.fill((0, 0, 0))
        perf.draw(app.screen, clock.t, None, chord_now)
        y = int(perf.y_for_hz(92.50))
        x = app.size[0] - 40                                          # in the bloom at the bass's head
        c = tuple(app.screen.get_at((x, y + 14))[:3])
        assert hue_match(c, want), (c, want)
    app.close()


def test_a_cues_title_is_the_only_text_in_the_performance_view_and_it_goes(clip_dir):
    from stage.film.synth import make_numbered_clip
    from stage.render.layers import title_alpha
    from stage.runtime import Cue
    film = film_of(make_numbered_clip(clip_dir / "p4.mp4", 240, size=(160, 90)),
                   [Cue("1M1", (0, 240), [], None, None, "Ascenseur pour l'échafaud")])
    clock = FakeClock()
    app = Scene(PLAYERS, film=film, clock=clock, mode="performance")
    rendered = spy_text(app)
    seen = {}
    for t in (0.0, 0.5, 3.0, 6.8, 8.0):
        rendered.clear()
        clock.t = 1000.0 + t
        app.frame()
        seen[t] = list(rendered)
    assert seen[0.5] == seen[3.0] == ["Ascenseur pour l'échafaud"]    # the title, and nothing else
    assert seen[8.0] == []                                           # then gone: artwork only
    assert title_alpha(3.0) == 1.0 and 0 < title_alpha(0.5) < 1
    app.close()


def test_closing_the_monitor_leaves_the_show_running_and_closing_the_projector_ends_it():
    app = Scene(PLAYERS, size=(640, 360), monitor=True)
    win = app.window
    pygame.event.post(pygame.event.Event(pygame.WINDOWCLOSE, window=win.monitor))
    win.handle_events(app.controls, app.clock)
    assert win.monitor is None and win.running
    win._open_monitor()
    assert win.monitor is not None
    pygame.event.post(pygame.event.Event(pygame.WINDOWCLOSE, window=None))       # the projector's window
    win.handle_events(app.controls, app.clock)
    assert not win.running
    app.close()
