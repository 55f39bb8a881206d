"""Cues: named loops switched live, at the end of the pass or at once, without a stall; hit
points with streamers and punches; the count-off; bad cues named with their values."""

import subprocess
import time
from fractions import Fraction

import pygame
import pytest

from stage.film.decoder import probe
from stage.film.synth import make_numbered_clip, read_number
from stage.film.timecode import TimecodeFormat
from stage.runtime import Cue, Film, Hit, open_film
from stage.session import SessionError, load_session

from stage_testing import StageRun

from .conftest import stage_cmd
from .scene import Scene
from .test_film import FakeTime


def make_app(info, cues, t, switch="end", players=()):
    return Scene(players, film=Film(info, cues[0].loop, TimecodeFormat(info.fps), cues), size=(640, 360), clock=t,
                 switch=switch)


def shown(app):
    x, y, w, h = app.renderer.film_rect
    px = pygame.surfarray.array3d(app.screen).swapaxes(0, 1)[y:y + h, x:x + w]
    return read_number(px[..., ::-1])


def run_frames(app, t, n, fps=60):
    out = []
    for _ in range(n):
        t.t += 1.0 / fps
        app.frame()
        out.append(shown(app))
        time.sleep(0.003)
    return out


def wait_for_switch(app, timeout=10.0):
    """Until the cue chosen is ready and its switch handed to the transport (the decoding is
    real; the test's clock is not)."""
    t_end = time.monotonic() + timeout
    while app.director.pending is not None and app.transport.pending is None and time.monotonic() < t_end:
        app.controller.upkeep()
        time.sleep(0.005)


def test_a_cue_takes_over_at_the_end_of_the_pass_seamlessly(clip_dir):
    info = probe(make_numbered_clip(clip_dir / "cues.mp4", 200, size=(320, 180), gop=48))
    t = FakeTime()
    cues = [Cue("A", (10, 40), []), Cue("B", (100, 130), [])]
    app = make_app(info, cues, t)
    try:
        first = run_frames(app, t, 30)                   # half a second into A (frames 10..)
        app.key(pygame.K_2)                              # cue 2, at the end of the pass
        wait_for_switch(app)
        rest = run_frames(app, t, 120)
        numbers = [n for i, n in enumerate(first + rest) if i == 0 or n != (first + rest)[i - 1]]
        switch = numbers.index(100)
        assert numbers[:switch] == list(range(10, 40))   # all of A's pass, to its last frame
        assert numbers[switch:switch + 30] == list(range(100, 130))   # then B from its first
        pos = app.transport.at()
        assert pos.cue == 1 and (pos.loop_in, pos.length) == (100, 30)
        assert app.director.closed == 1 and set(app.director.players) == {1}   # A's frames are let go
    finally:
        app.close()


def test_a_cue_at_once_and_the_count_off_and_streamer(clip_dir):
    info = probe(make_numbered_clip(clip_dir / "cues2.mp4", 200, size=(320, 180)))
    t = FakeTime()
    hit = Hit(130, "door", (255, 40, 40), 2.0, True)
    cues = [Cue("A", (0, 96), []), Cue("B", (100, 196), [hit])]
    app = make_app(info, cues, t)
    try:
        run_frames(app, t, 10)
        app.key(pygame.K_2, pygame.KMOD_SHIFT)           # shift: at once
        deadline = time.monotonic() + 5
        while app.transport.at().cue != 1 and time.monotonic() < deadline:
            run_frames(app, t, 1)
        run_frames(app, t, 1)
        assert app.transport.at().cue == 1
        assert 100 <= shown(app) < 110
        tr, r = app.transport, app.renderer

        def hits_only():
            app.screen.fill((0, 0, 0))
            fs = app.state()
            r.hits.prepare(fs)
            r.hits.paint(app.screen)
            r.harmony.prepare(fs, None)
            r.harmony.paint(app.screen)
        # streamer: 1 s before the hit (frame 130 = 1.25 s into B) it is halfway across
        tr.locate(0.25, playing=False)
        hits_only()
        row = pygame.surfarray.array3d(app.screen)[:, 100]
        red = [x for x in range(640) if tuple(row[x]) == (255, 40, 40)]
        assert red and abs((min(red) + max(red)) / 2 - 320) <= 8
        # punch at the hit frame
        tr.locate(30 / 24)
        hits_only()
        assert tuple(app.screen.get_at((320 + 40, 180))[:3]) == (255, 40, 40)
        # count-off in the last two seconds of the pass: a bar across the top, shorter as it ends
        tr.locate(96 / 24 - 1.0, playing=True)
        hits_only()
        top = pygame.surfarray.array3d(app.screen)[:, 3]
        lit = sum(1 for x in range(640) if top[x].max() > 100)
        assert 300 <= lit <= 340                          # 1 s left of 2: half the width
    finally:
        app.close()


CUES = """
[film]
file = "{film}"

[[cues]]
name = "1M1"
in = "00:00:01:00"
out = "00:00:03:00"

[[cues.hits]]
time = "{hit}"
label = "door"

[[cues]]
name = "1M2"
in = "{in2}"
out = "{out2}"

[[players]]
name = "A"
midi = "x"
"""


@pytest.mark.parametrize("hit,in2,out2,line,key,says", [
    ("00:00:04:00", "00:00:05:00", "00:00:06:00", 11, "cues[0].hits[0].time", "outside the cue's loop"),
    ("00:00:02:00", "00:00:02:12", "00:00:06:00", 16, "cues[1].in", "overlaps cue '1M1'"),
    ("00:00:02:00", "00:00:05:00", "00:00:20:00", 17, "cues[1].out", "past the end of the film"),
    ("00:00:02:30", "00:00:05:00", "00:00:06:00", 11, "cues[0].hits[0].time", "frames run 00-23"),
])
def test_bad_cues_are_named_with_their_values(clip_dir, tmp_path, hit, in2, out2, line, key, says):
    film = make_numbered_clip(clip_dir / "c.mp4", 240, size=(160, 90))
    p = tmp_path / "s.toml"
    p.write_text(CUES.format(film=film, hit=hit, in2=in2, out2=out2))
    with pytest.raises(SessionError) as e:
        open_film(load_session(p))
    assert e.value.line == line and e.value.key == key and says in str(e.value)
    r = subprocess.run(stage_cmd("check", p), capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and f"{p}:{line}: {key}:" in r.stderr


def test_good_cues_resolve_to_frames(clip_dir, tmp_path):
    film = make_numbered_clip(clip_dir / "c.mp4", 240, size=(160, 90), fps=Fraction(24))
    p = tmp_path / "s.toml"
    p.write_text(CUES.format(film=film, hit="00:00:02:12", in2="00:00:05:00", out2="00:00:06:12"))
    f = open_film(load_session(p))
    assert [(c.name, c.loop) for c in f.cues] == [("1M1", (24, 72)), ("1M2", (120, 156))]
    assert f.cues[0].hits[0].frame == 60 and f.cues[0].hits[0].label == "door"


def test_with_lanes_the_streamer_arrives_at_now_and_flutters_beat(clip_dir):
    from stage.session.model import PlayerConfig
    info = probe(make_numbered_clip(clip_dir / "cues3.mp4", 100, size=(320, 180)))
    t = FakeTime()
    hit = Hit(60, "", (40, 255, 40), 2.0, True, flutter=4, tempo=120)
    cues = [Cue("A", (0, 96), [hit])]

    app = make_app(info, cues, t, players=[PlayerConfig("P", (255, 0, 0), 1, 40, 80)])
    tr, r = app.transport, app.renderer

    def hits_only():
        app.screen.fill((0, 0, 0))
        r.hits.prepare(app.state())
        r.hits.paint(app.screen)
    try:
        for before, x_expected in ((0.5, app.now_x * 0.75), (0.02, app.now_x * 0.99)):
            tr.locate(60 / 24 - before, playing=False)
            hits_only()
            row = pygame.surfarray.array3d(app.screen)[:, 200]
            green = [x for x in range(640) if tuple(row[x]) == (40, 255, 40)]
            assert green and abs((min(green) + max(green)) / 2 - x_expected) <= 8
            assert max(green) < app.now_x + 8                # never past the players' "now"
        # flutters: a flash on each of the last 4 beats (0.5 s apart), dark between them
        flashes = []
        for k in range(48):
            tr.locate(60 / 24 - 2.0 + k / 24, playing=False)
            hits_only()
            flashes.append(tuple(app.screen.get_at((app.now_x - 20, 2))[:3]) == (40, 255, 40))   # off the streamer
        lit = [k for k, f in enumerate(flashes) if f and k < 44]   # (then the streamer itself gets there)
        assert {k // 12 for k in lit} == {0, 1, 2, 3} and all(k % 12 in (0, 1) for k in lit), str(lit)
    finally:
        app.close()


def test_the_projectors_delay_is_made_up(tmp_path):
    from .conftest import ROOT
    film = make_numbered_clip(tmp_path / "f.mp4", 240, size=(160, 90))
    session = tmp_path / "s.toml"
    session.write_text(f'[film]\nfile = "{film}"\n\n[display]\nlatency_ms = 500\n\n[[players]]\nname = "A"\nmidi = "x"\n')
    session.write_text(session.read_text().replace('[[players]]\nname = "A"\nmidi = "x"\n',
                                                   f'[audio]\nfile = "{ROOT / "assets" / "demo_performance.flac"}"\n\n'
                                                   '[[players]]\nname = "A"\nchannel = 1\n'))
    with StageRun(session, 1.5) as run:
        pass
    assert run.ok, run.stderr
    frames = run.frames
    t0 = frames[0]["t_present"]
    late = [(f["t_present"] - t0, f["film"]["frame"]) for f in frames[30:]]
    # each frame shows the film half a second ahead of the clock (give or take a frame)
    assert all(abs(frame - (t + 0.5) * 24) <= 2 for t, frame in late), late[:5]
