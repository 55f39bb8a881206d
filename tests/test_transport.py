"""The transport: one owner moves it, every follower reads immutable snapshots; a jump (locate,
nudge, restart, switch, and every wrap of the loop) has a new epoch."""

import threading

import pytest

from stage.film.transport import Transport


class T:
    def __init__(self, t=100.0):
        self.t = t

    def __call__(self):
        return self.t


def make(fps=24, loop=(48, 120)):           # a 3 s loop from frame 48
    clock = T()
    return Transport(fps, loop, clock=clock), clock


def test_it_runs_wraps_with_a_new_epoch_each_pass_and_holds_when_paused():
    tr, clock = make()
    p = tr.at()
    assert (p.frame, p.pass_no, p.playing) == (48, 1, False)
    tr.play()
    e0 = tr.at().epoch
    clock.t += 1.0
    p = tr.at()
    assert (p.frame, p.pass_no, p.epoch) == (48 + 24, 1, e0)
    clock.t += 2.5                                   # 3.5 s: half a second into the second pass
    p = tr.at()
    assert (p.frame, p.pass_no, p.epoch, p.seq) == (48 + 12, 2, e0 + 1, 72 + 12)
    tr.pause()
    clock.t += 10
    assert tr.at().frame == 48 + 12 and tr.at().epoch == e0 + 1    # held, and no jump
    tr.play()
    clock.t += 2.5
    p = tr.at()
    assert p.pass_no == 3 and p.frame == 48 and p.epoch == e0 + 2
    # the frames of the file never leave the loop
    for k in range(400):
        assert 48 <= tr.at(clock.t + k * 0.0137).frame < 120


def test_locate_nudge_and_restart_are_jumps_a_chase_correction_is_not():
    tr, clock = make()
    tr.play()
    clock.t += 1.0
    e = tr.at().epoch
    tr.nudge(1 / 24)
    assert tr.at().frame == 48 + 25 and tr.at().epoch == e + 1
    tr.adjust(tr.at().offset + 0.01)                 # a sub-frame slew
    assert tr.at().epoch == e + 1
    tr.locate(2.0)
    assert tr.at().frame == 48 + 48 and tr.at().epoch == e + 2
    tr.nudge(-2.5)                                   # before the in point: the end of the loop
    assert tr.at().frame == 48 + 60
    tr.restart()
    p = tr.at()
    assert (p.frame, p.pass_no, p.epoch) == (48, 1, e + 4)
    # a jump's epoch is above every epoch seen before it, so a follower can never miss it
    epochs = [tr.at(clock.t + k * 0.05).epoch for k in range(200)]
    assert epochs == sorted(epochs)


def test_a_switch_at_the_end_of_the_pass_is_known_ahead_by_every_follower():
    tr, clock = make()
    tr.play()
    clock.t += 1.0
    before = tr.at()
    tr.switch(1, (200, 248), at_end=True)             # 2 s of cue 1
    assert tr.at().cue == 0 and tr.pending is not None
    t_end = before.time_at_offset(3.0)
    just_before, after = tr.at(t_end - 0.001), tr.at(t_end + 0.001)
    assert (just_before.cue, just_before.frame) == (0, 119)
    assert (after.cue, after.frame, after.pass_no) == (1, 200, 1) and after.epoch > just_before.epoch
    # a pause before the loop point keeps the switch waiting; playing on makes it at the pass's end
    tr.pause()
    clock.t = t_end + 5
    assert tr.at().cue == 0
    tr.play()
    clock.t += 2.5                                   # 2 s to the pass's end, half a second into cue 1
    assert tr.at().cue == 1 and tr.pending is None
    clock.t += 2.0
    assert tr.at().cue == 1 and tr.at().frame == 200 + 12 and tr.at().pass_no == 2


def test_a_switch_whose_picture_came_late_runs_on_as_if_on_time_and_at_once_starts_now():
    tr, clock = make()
    tr.play()
    t_end = tr.at().time_at_offset(3.0)
    clock.t = t_end + 0.25                            # the new cue's picture was ready 0.25 s late
    e = tr.at().epoch
    tr.switch_at(2, (300, 372), t_end)
    p = tr.at()
    assert (p.cue, p.frame, p.pass_no) == (2, 306, 1) and p.epoch > e
    tr.switch(0, (48, 120), at_end=False)
    assert (tr.at().cue, tr.at().frame) == (0, 48)


def test_readers_on_other_threads_never_see_a_half_made_move():
    from stage.film.transport import Position
    tr, clock = make()
    tr.play()
    loops = {0: (48, 72), 1: (200, 48)}

    def whole(p):                                    # a position made of one move, not two
        return (p.loop_in, p.length) == loops[p.cue] and p.loop_in <= p.frame < p.loop_in + p.length
    assert not whole(Position(0, 0, 1, 48, 72, 24.0, 1, 0.0, True, 0.0))     # a torn one is caught
    stop = threading.Event()
    bad = []

    def read():
        last = -1
        while not stop.is_set():
            p = tr.at()
            if p.epoch < last or not whole(p):
                bad.append(p)
            last = p.epoch
    th = threading.Thread(target=read)
    th.start()
    for k in range(2000):
        tr.nudge(0.37)
        if k % 100 == 0:
            cue = k // 100 % 2
            tr.switch(cue, (loops[cue][0], sum(loops[cue])), at_end=False)
    stop.set()
    th.join(5)
    assert not bad, bad[:3]


@pytest.mark.parametrize("fps", [24, 25, 30000 / 1001])
def test_frames_are_exact_at_every_rate(fps):
    tr, clock = make(fps=fps, loop=(0, 90))
    tr.play()
    t0 = clock.t
    for k in range(300):
        assert tr.at(t0 + (k + 0.5) / fps).frame == k % 90
