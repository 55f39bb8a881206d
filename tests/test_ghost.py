"""The ghost of the last pass: in each lane, faintly, what the player played at this moment of
the film last time round, from the recorded analysis; at the right film time across a loop
wrap, and from a chosen take."""

import numpy as np
import pygame

from stage.render.ghost import GhostStore
from stage.runtime import Cue
from stage.session.model import PlayerConfig
from stage.takes.records import analysis_rows

from .scene import FakeClock, Scene
from .test_performance import film_of

HORN = PlayerConfig("Horn", (255, 176, 0), 1, 52, 84)


def first_pass(loop_s=2.0, hop=256 / 48000):
    """A pass as the recorder writes it: 440 Hz for the loop's first second, 660 Hz after."""
    t = np.arange(0, loop_s, hop)
    rows = analysis_rows(len(t))
    rows["film_s"] = t
    rows["loop_pass"] = 1
    rows["f0_hz"] = np.where(t < 1.0, 440.0, 660.0)
    rows["confidence"] = 0.95
    rows["level_db"] = -12
    return rows


def ghost_at(app, t_ago, hz, clock):
    """How much nearer the horn's colour the pixel at the row of ``hz``, ``t_ago`` seconds left
    of now, is with the ghost drawn than without it, at the same frame."""
    lane = app.lane("Horn")
    x = int(app.now_x - t_ago * app.pps)
    y = int(round(lane.geom.y_for_hz(hz)))

    def px():
        return np.array(app.screen.get_at((x, y))[:3], float)
    on = px()
    app.act("ghost")                     # off
    app.frame(clock.t)
    off = px()
    app.act("ghost")                     # and on again
    app.frame(clock.t)
    colour = np.array(HORN.colour, float)
    return np.linalg.norm(off - colour) - np.linalg.norm(on - colour)


def test_the_last_pass_is_drawn_at_its_film_time_across_the_wrap(clip_dir):
    from stage.film.synth import make_numbered_clip
    film = film_of(make_numbered_clip(clip_dir / "g.mp4", 48, size=(160, 90)), [Cue("c", (0, 48), [])])
    clock = FakeClock()
    store = GhostStore()
    app = Scene([HORN], film=film, clock=clock)
    app.renderer.ghost_store = store
    app.renderer.resize(app.size)                 # the ghost layer over this store
    store.add("Horn", first_pass(), cue=0)
    t0 = clock.t
    for k in range(int(3.2 * 60) + 1):            # through the end of pass 1 and 1.2 s into pass 2
        clock.t = t0 + k / 60
        app.frame()
    assert app.transport.at().pass_no == 2
    # 0.7 s ago the film was 0.5 s into pass 2: the ghost there is pass 1's 440 Hz, in the horn's hue
    assert ghost_at(app, 0.7, 440.0, clock) > 30
    assert abs(ghost_at(app, 0.7, 660.0, clock)) < 3                  # not 660 then
    # 0.1 s ago it was 1.1 s in: 660 Hz
    assert ghost_at(app, 0.1, 660.0, clock) > 30
    assert abs(ghost_at(app, 0.1, 440.0, clock)) < 3
    # and during pass 1 (before the wrap, 1.4 s ago) there was no pass before it: no ghost
    assert abs(ghost_at(app, 1.4, 660.0, clock)) < 3 and abs(ghost_at(app, 1.4, 440.0, clock)) < 3
    app.close()


def test_a_chosen_takes_pass_is_the_ghost(tmp_path, clip_dir):
    """--ghost TAKE: the ghost from a take's files, read back."""
    from stage.film.synth import make_numbered_clip
    from stage.takes import TakeFiles
    path = make_numbered_clip(clip_dir / "g2.mp4", 48, size=(160, 90))
    folder = tmp_path / "c-1-2026-12-02_10-00-00"
    files = TakeFiles(folder, {"samplerate": 48000, "channels": 1, "start": {"monotonic_raw": 0.0},
                               "film": {"fps": "24", "loop": ["00:00:00:00", "00:00:02:00"],
                                        "first_frame": "00:00:00:00"},
                               "players": [{"name": "Horn", "channel": 1}]})
    files.write_audio(np.zeros((480, 1), np.float32))
    rows = first_pass()
    rows2 = first_pass()
    rows2["loop_pass"] = 2
    rows2["f0_hz"] = 880.0                        # a second pass, cut short: not the one chosen
    files.write_analysis("Horn", np.concatenate([rows, rows2[:10]]))
    files.close()
    store = GhostStore.from_take(folder)
    offs, f0 = store.pass_of("Horn", 0, 1)
    assert len(offs) == len(rows) and set(np.unique(f0)) == {440.0, 660.0}
    film = film_of(path, [Cue("c", (0, 48), [])])
    clock = FakeClock()
    app = Scene([HORN], film=film, clock=clock)
    app.renderer.ghost_store = store
    app.renderer.resize(app.size)
    t0 = clock.t
    for k in range(int(0.8 * 60)):                # in pass 1 already: a chosen take has no "pass before"
        clock.t = t0 + k / 60
        app.frame()
    try:
        assert ghost_at(app, 0.3, 440.0, clock) > 30
    finally:
        app.close()                               # its film player's decoder with it


def test_a_cue_played_again_has_only_its_own_passes_and_the_store_stays_small():
    """A cue's passes count from 1 each time it is played: the ghost of the second pass of a
    visit is that visit's first pass, not every visit's first passes drawn at once, and an
    evening of cue switches keeps no more than the visit being played."""
    store = GhostStore()

    def visit_rows(hz, pass_no, n=100):
        rows = analysis_rows(n)
        rows["film_s"] = np.arange(n) * 0.01
        rows["loop_pass"] = pass_no
        rows["f0_hz"] = hz
        return rows

    store.add("Horn", visit_rows(440.0, 1), cue=0, visit=10.0)
    store.add("Horn", visit_rows(450.0, 2), cue=0, visit=10.0)
    offs, f0 = store.pass_of("Horn", 0, 1)
    assert set(np.unique(f0)) == {440.0} and len(offs) == 100          # (positive control: it is there)
    for k in range(50):                                                # 50 more visits of the same cue
        store.add("Horn", visit_rows(500.0 + k, 1), cue=0, visit=20.0 + k)
    offs, f0 = store.pass_of("Horn", 0, 1)
    assert set(np.unique(f0)) == {549.0} and len(offs) == 100          # the last visit's own first pass
    assert store.pass_of("Horn", 0, 2) is None                         # that visit has no second pass yet
    assert sum(len(a) for parts in store._rows.values() for a in parts) == 100
