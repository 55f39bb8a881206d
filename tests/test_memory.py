"""A whole evening of cue switches does not grow: 200 switches at 1920x1080, with the director,
the transport and real decoders, hold the same resident memory after the last as after the
fourth (the old player's frames are freed at each switch)."""

import threading
import time
from fractions import Fraction

import pytest

from stage.clock import now
from stage.film.decoder import probe
from stage.film.director import CueDirector
from stage.film.synth import make_numbered_clip
from stage.film.timecode import TimecodeFormat
from stage.film.transport import Transport
from stage.memory import keep_big_blocks_mapped, resident_mb
from stage.runtime import Cue, Film


def quiet(director):
    """Until every closed player's decoder thread has ended (what it held is gone with it)."""
    t_end = time.monotonic() + 10
    while sum(t.name == "stage-film" for t in threading.enumerate()) > len(director.players) and \
            time.monotonic() < t_end:
        director.tick()
        time.sleep(0.01)


@pytest.mark.timeout(600)
def test_two_hundred_cue_switches_at_1080p_do_not_grow(tmp_path):
    keep_big_blocks_mapped()                       # as Show.start does
    path = make_numbered_clip(tmp_path / "hd.mp4", 150, size=(1920, 1080), fps=Fraction(24))
    info = probe(path)
    cues = [Cue("A", (0, 24), []), Cue("B", (120, 144), [])]
    film = Film(info, cues[0].loop, TimecodeFormat(info.fps), cues)
    tr = Transport(info.fps, cues[0].loop, clock=now)
    director = CueDirector(film, tr, (1920, 1080), "now").start()
    tr.restart(playing=True)
    rss = {}
    try:
        for k in range(1, 201):
            director.select(1 - tr.at().cue)
            t_end = time.monotonic() + 20
            while director.pending is not None and time.monotonic() < t_end:
                director.tick()
                time.sleep(0.005)
            assert director.pending is None and tr.at().cue == k % 2      # the switch was made
            quiet(director)
            if k in (4, 200):
                rss[k] = resident_mb()
        assert director.switches == 200 and director.closed == 200 and set(director.players) == {0}
        assert rss[200] - rss[4] < 100, rss
        # positive control: two players' frames kept (as the old show kept every player) show up
        kept = [director.make_player(info, cues[1].loop, (1920, 1080)) for _ in range(2)]
        for p in kept:
            p.decoder.head_ready.wait(20)
        assert resident_mb() - rss[200] > 300
        for p in kept:
            p.close()
    finally:
        director.stop()


def test_the_pacers_figures_are_kept_in_rings_that_do_not_grow():
    """The draw loop's statistics keep the newest values in a ring made when the show starts:
    they come back oldest first across the wrap, and an evening's worth adds no memory."""
    import numpy as np

    from stage.render.pacer import Series
    s = Series(5)
    assert not s and len(s) == 0
    for k in range(3):
        s.append(k)
    assert list(s.values()) == [0, 1, 2] and s[0] == 0 and s[-1] == 2
    s.extend(range(3, 12))                     # round the ring
    assert len(s) == 5 and list(np.asarray(s)) == [7, 8, 9, 10, 11] and s[0] == 7 and s[-1] == 11
    rows = Series(3, 2)
    for k in range(4):
        rows.append((k, -k))
    assert rows.values().tolist() == [[1, -1], [2, -2], [3, -3]]
    big = Series(200_000)
    before = resident_mb()
    for k in range(400_000):                   # two rings' worth: written over, never grown
        big.append(k * 0.5)
    assert resident_mb() - before < 2.0
    assert big[-1] == 399_999 * 0.5 and len(big) == 200_000
