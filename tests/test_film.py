"""The film path on clips made here, whose frames show their own number."""

import time
from fractions import Fraction

import numpy as np
import pygame
import pytest

from stage.film.decoder import FilmDecoder, FilmError, FilmPlayer, fit_rect, probe, resolve_loop
from stage.film.synth import make_numbered_clip, read_number


class FakeTime:
    def __init__(self):
        self.t = 50.0

    def __call__(self):
        return self.t


def play_through(player, fps_display, seconds, start=0.0, pace=0.002):
    """Step the display clock; return [(time, seq, number shown)]. Sleeps a little per step so
    the decoder thread (a real one) runs as it would between frames."""
    shown = []
    for k in range(int(seconds * fps_display)):
        t = start + k / fps_display
        seq, px = player.frame_at(t)
        if px is not None:
            shown.append((t, seq, read_number(px)))
        time.sleep(pace)
    return shown


@pytest.mark.parametrize("fps", [Fraction(24), Fraction(24000, 1001), Fraction(25), Fraction(30000, 1001), Fraction(30)])
def test_frame_shown_at_each_clock_time_is_right_across_the_loop_point(clip_dir, fps):
    path = make_numbered_clip(clip_dir / f"n{float(fps):.3f}.mp4", 150, fps=fps, size=(320, 180), gop=60)
    info = probe(path)
    assert info.fps == fps and info.frames == 150
    loop_in, loop_out = 17, 121                    # neither on a keyframe
    dec = FilmDecoder(info, loop_in, loop_out, (256, 144)).start()
    try:
        assert dec.head_ready.wait(10)
        player = FilmPlayer(dec)
        length = loop_out - loop_in
        seconds = 2.5 * length / float(fps)        # two and a half passes: two wraps
        shown = play_through(player, 60, seconds)
        for t, seq, number in shown:
            expected_seq = int(np.floor(t * float(fps) + 1e-6))
            assert seq == expected_seq, f"at t={t:.4f} showed seq {seq}, due {expected_seq}"
            assert number == loop_in + expected_seq % length, f"at t={t:.4f} showed frame {number}"
        # every frame of every pass shown, in order, none twice: a seamless wrap
        seqs = sorted(set(s for _, s, _ in shown))
        assert seqs == list(range(seqs[0], seqs[-1] + 1))
        numbers = [n for _, s, n in sorted({s: (t, s, n) for t, s, n in shown}.values())]
        wraps = [i for i in range(1, len(numbers)) if numbers[i] < numbers[i - 1]]
        assert len(wraps) == 2
        for i in wraps:
            assert numbers[i - 1] == loop_out - 1 and numbers[i] == loop_in
        assert player.dropped == 0 and player.late == 0
    finally:
        dec.stop()


def test_late_frames_are_dropped_not_shown_late(clip_dir):
    path = make_numbered_clip(clip_dir / "drop.mp4", 96, size=(160, 96))
    info = probe(path)
    dec = FilmDecoder(info, 0, 96, (160, 96)).start()
    try:
        dec.head_ready.wait(10)
        player = FilmPlayer(dec)
        player.frame_at(0.0)
        time.sleep(0.3)
        # the draw loop stalled for 10 frames' time: the next frame shown is the one due now
        seq, px = player.frame_at(2.0)
        while px is None or seq != 48:
            time.sleep(0.01)
            seq, px = player.frame_at(2.0)
        assert read_number(px) == 48
        assert player.dropped >= 40
    finally:
        dec.stop()


def test_jump_back_is_served_after_a_seek(clip_dir):
    path = make_numbered_clip(clip_dir / "seek.mp4", 120, size=(160, 96), gop=24)
    info = probe(path)
    dec = FilmDecoder(info, 0, 120, (160, 96), head_seconds=0.5).start()
    try:
        dec.head_ready.wait(10)
        player = FilmPlayer(dec)
        shown = play_through(player, 48, 3.0)            # through frame 72
        assert shown[-1][2] == 71
        deadline = time.monotonic() + 5
        while True:                                      # a nudge back to frame 40
            seq, px = player.frame_at(40 / 24)
            if seq == 40 or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert seq == 40 and read_number(px) == 40
    finally:
        dec.stop()


@pytest.mark.parametrize("size,sar,screen,expect", [
    ((478, 200), None, (1280, 720), (1280, 536)),          # 2.39:1 scope: letterboxed
    ((320, 240), None, (1280, 720), (960, 720)),           # 4:3: pillarboxed
    ((360, 288), Fraction(12, 11), (1280, 720), (982, 720)),   # anamorphic 4:3 PAL: SAR applied
])
def test_any_aspect_is_letterboxed_or_pillarboxed(clip_dir, size, sar, screen, expect):
    path = make_numbered_clip(clip_dir / f"a{size[0]}x{size[1]}.mp4", 24, size=size, sar=sar)
    info = probe(path)
    x, y, w, h = fit_rect(info.aspect, screen)
    assert abs(w - expect[0]) <= 2 and abs(h - expect[1]) <= 2
    assert x == (screen[0] - w) // 2 and y == (screen[1] - h) // 2


def test_the_picture_on_screen_is_the_frame_due(clip_dir):
    from .scene import Scene
    from .test_performance import film_of
    path = make_numbered_clip(clip_dir / "screen.mp4", 60, size=(478, 200))
    t = FakeTime()
    app = Scene(film=film_of(path), size=(640, 360), clock=t)
    x, y, w, h = app.renderer.film_rect
    try:
        for k in range(0, 90):
            t.t = 50.0 + k / 60
            app.frame()
            time.sleep(0.002)
            px = app.pixels()[y:y + h, x:x + w]
            assert read_number(px[..., ::-1]) == int(k / 60 * 24) % 60
            if k < 10:             # the bars above and below the scope picture stay black (till the count-off)
                assert app.screen.get_at((320, 2))[:3] == (0, 0, 0) and app.screen.get_at((320, 357))[:3] == (0, 0, 0)
        # pause holds the frame; space toggles
        app.key(pygame.K_SPACE)
        held = app.renderer.film_layer.shown()
        t.t += 1.0
        app.frame()
        assert app.renderer.film_layer.shown() == held and not app.transport.playing
    finally:
        app.close()


def test_broken_video_says_which_file_and_why(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    with pytest.raises(FilmError, match="broken.mp4: cannot be read as video"):
        probe(bad)
    with pytest.raises(FilmError, match="nothere.mov: no such file"):
        probe(tmp_path / "nothere.mov")


def test_loop_points_are_checked_against_the_film(clip_dir):
    info = probe(make_numbered_clip(clip_dir / "short.mp4", 48))
    assert resolve_loop(info, "00:00:00:12", 1.5) == (12, 36)
    with pytest.raises(FilmError, match="past the end of the film"):
        resolve_loop(info, 0, "00:00:05:00")
    with pytest.raises(FilmError, match="must come after the in point"):
        resolve_loop(info, 1.5, 1.0)


def test_burned_in_timecode_window_and_a_reel_offset(clip_dir, tmp_path):
    """A film whose first frame is 01:00:00:00, drop-frame at 29.97: the burn-in shows the
    right label, in its corner; a loop point given as a label of that reel is frame-exact."""
    import subprocess

    from stage.session import load_session
    from stage.runtime import open_film

    from .conftest import stage_cmd
    path = make_numbered_clip(clip_dir / "reel.mp4", 120, fps=Fraction(30000, 1001), size=(320, 180))
    session = tmp_path / "s.toml"
    session.write_text(f'[film]\nfile = "{path}"\nstart = "01:00:00;00"\ndrop_frame = true\n'
                       f'in = "01:00:01;00"\nout = "01:00:03;00"\n\n[display]\ntimecode = "bottom-left"\n'
                       f'feet_frames = true\n\n[[players]]\nname = "A"\nmidi = "x"\n')
    s = load_session(session)
    film = open_film(s)
    assert film.loop == (30, 90) and film.tc.label(0) == "01:00:00;00" and film.tc.label(45) == "01:00:01;15"
    from stage.render.layers import timecode_text

    from .scene import Scene
    t = FakeTime()
    app = Scene(film=film, size=(640, 360), clock=t, timecode="bottom-left", feet_frames=True)
    try:
        t.t += 15.5 * 1001 / 30000                        # 15 frames into the loop: file frame 45
        fs = app.frame()
        assert fs.pos.frame == 45 and timecode_text(film.tc, fs.pos.frame, True) == "01:00:01;15   2+13"
        # a black box with white type in the bottom-left corner
        box = pygame.surfarray.array3d(app.screen)[5:300, 300:355]
        assert (box.max(axis=2) > 200).sum() > 100 and (box.max(axis=2) < 10).sum() > 1000
    finally:
        app.close()
    bad = tmp_path / "bad.toml"
    bad.write_text(session.read_text().replace('start = "01:00:00;00"', 'start = "01:01:00;00"'))
    r = subprocess.run(stage_cmd("check", bad), capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and f"{bad}:3: film.start:" in r.stderr and "does not exist in drop-frame" in r.stderr
    bad.write_text(session.read_text().replace(str(path), str(make_numbered_clip(clip_dir / "r24.mp4", 48))))
    r = subprocess.run(stage_cmd("check", bad), capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and f"{bad}:4: film.drop_frame:" in r.stderr and "only at 29.97" in r.stderr
