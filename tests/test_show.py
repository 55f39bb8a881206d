"""A Show starts its parts in order, stops them in reverse, and undoes what started when a later
part fails; `stage check` is the dry run of the same parts."""

import subprocess
import threading
import time

import pygame
import pytest

from stage.render.scene import ViewOptions
from stage.session import load_session
from stage.show import Show

from .conftest import ROOT, stage_cmd


@pytest.fixture(autouse=True)
def _threads_before():
    """The threads alive before the test (another test's, in the same process) are not this
    show's: only the ones it started are looked for."""
    global BEFORE
    BEFORE = set(threading.enumerate())
    yield


BEFORE: set = set()


def threads(prefix):
    return [t for t in threading.enumerate() if t.name.startswith(prefix) and t.is_alive() and t not in BEFORE]


def settle(prefix, timeout=5.0):
    t_end = time.monotonic() + timeout
    while threads(prefix) and time.monotonic() < t_end:
        time.sleep(0.02)
    return threads(prefix)


@pytest.mark.parametrize("failing", ["director", "controller", "audio in"])
def test_a_part_that_fails_undoes_every_part_started_before_it(failing):
    show = Show(load_session(ROOT / "assets" / "demo_session.toml"),
                ViewOptions(size=(640, 360), fullscreen=False, headless=True), play_out=False)
    names = [p.name for p in show.parts]
    assert names.index("film") < names.index("window") < names.index("director") < names.index("controller")
    stopped = []
    for part in show.parts:                              # record the order they are stopped in
        if part.stop is not None:
            part.stop = (lambda f, n: lambda: (stopped.append(n), f()))(part.stop, part.name)
    part = next(p for p in show.parts if p.name == failing)

    def boom():
        raise RuntimeError(f"{failing} would not start")
    part.start = boom
    with pytest.raises(RuntimeError, match="would not start"):
        show.start()
    started_before = [n for n in names[:names.index(failing)] if next(p for p in show.parts if p.name == n).stop]
    assert stopped == list(reversed(started_before))     # each one started, stopped, in reverse
    assert not any(p.started for p in show.parts)
    assert not pygame.display.get_init()                 # the window is closed
    assert not settle("stage-film")                      # no decoder left running
    assert not settle("stage-controller") and not settle("stage-analysis")


def test_a_whole_run_stops_everything_it_started():
    show = Show(load_session(ROOT / "assets" / "demo_session.toml"),
                ViewOptions(size=(640, 360), fullscreen=False, headless=True), play_out=False)
    stats = show.run(seconds=1.5)
    assert stats["frames_drawn"] > 30 and stats["audio_blocks"] > 100    # (it ran)
    assert not any(p.started for p in show.parts)
    for prefix in ("stage-film", "stage-controller", "stage-analysis", "stage-playback", "stage-trace"):
        assert not settle(prefix), prefix


def test_check_is_a_dry_run_of_the_same_parts():
    r = subprocess.run(stage_cmd("check", ROOT / "assets" / "demo_session.toml"), capture_output=True, text=True,
                       timeout=60, env={**__import__("os").environ, "SDL_VIDEODRIVER": "dummy"})
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for want in ("film     ", "timecode 00:00:00:00 at the first frame", "audio    recording", "player   Trumpet",
                 "player   Bass", "ok"):
        assert want in out, (want, out)
