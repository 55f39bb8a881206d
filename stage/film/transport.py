"""The transport: where the picture is, for everything that follows it.

One owner moves it (the show's controller thread: play, pause, nudge, locate, the MTC chase,
cue switches); everything that follows the picture reads it: the renderer, MTC out, MIDI clock
out, the film's sound, OSC film out, the chase. What it publishes is one immutable
:class:`Segment` (a single attribute, replaced whole), so a reader on any thread never sees a
half-made change, and never waits.

A segment says where the film was at one moment and whether it runs, for one cue's loop. From
it, :meth:`Segment.at` gives the :class:`Position` at any clock time: the cue, its pass, the
frame, the seconds into the pass, and the **epoch**. The epoch changes on every locate, nudge,
restart, cue switch, and on every wrap of the loop (each pass of a segment has the next
epoch), so a follower knows a jump by its epoch, never by guessing from lateness. A switch at
the end of the pass is published ahead of time as the segment's ``then``: every follower
changes cue at the same instant, the loop point, whichever thread it is on and however late
it looks.
"""

from __future__ import annotations

import collections
import math
import threading
from dataclasses import dataclass, replace

from .. import clock as _clock

_EPS = 1e-6


@dataclass(frozen=True)
class Position:
    """Where the film is at clock time ``t``."""
    t: float
    epoch: int
    cue: int             # index of the cue playing
    loop_in: int         # its loop, frames [loop_in, loop_in + length) of the file
    length: int
    fps: float
    pass_no: int         # passes of this cue since it began, from 1
    offset: float        # seconds into the pass, [0, length / fps)
    playing: bool
    cue_since: float     # clock time this cue began (its title shows from then)

    @property
    def frame_in_pass(self) -> int:
        return min(self.length - 1, int(math.floor(self.offset * self.fps + _EPS)))

    @property
    def frame(self) -> int:
        """The frame of the file due now."""
        return self.loop_in + self.frame_in_pass

    @property
    def seq(self) -> int:
        """Frames of this cue since it began (every pass counted): what its film player is asked for."""
        return (self.pass_no - 1) * self.length + self.frame_in_pass

    @property
    def pass_seconds(self) -> float:
        return self.length / self.fps

    @property
    def left(self) -> float:
        """Seconds until the end of this pass."""
        return self.pass_seconds - self.offset

    def time_at_offset(self, offset: float) -> float:
        """When (clock time) this pass reaches ``offset`` seconds, if it keeps playing."""
        return self.t + (offset - self.offset)


@dataclass(frozen=True)
class Segment:
    """The film from clock time ``t0`` on: at ``t0`` it was ``offset0`` seconds into pass
    ``pass0`` of cue ``cue`` (epoch ``epoch``), running or held. ``then`` is the segment that
    takes over at ``then.t0`` (a cue switch at a pass's end), if one is scheduled."""
    epoch: int
    cue: int
    loop_in: int
    length: int
    fps: float
    playing: bool
    t0: float
    offset0: float
    pass0: int = 1
    cue_since: float = 0.0
    then: "Segment | None" = None

    @property
    def pass_seconds(self) -> float:
        return self.length / self.fps

    def at(self, t: float) -> Position:
        seg = self
        while seg.then is not None and t >= seg.then.t0 - _EPS:     # (the same slack as a wrap's)
            seg = seg.then
        p = seg.offset0 + ((t - seg.t0) if seg.playing else 0.0)
        n = int(math.floor((p + _EPS) / seg.pass_seconds)) if p > 0 else 0
        off = max(0.0, p - n * seg.pass_seconds)
        return Position(t, seg.epoch + n, seg.cue, seg.loop_in, seg.length, seg.fps, seg.pass0 + n, off, seg.playing,
                        seg.cue_since)


class Transport:
    """Owns the film's position, rate and play state; publishes :class:`Segment` snapshots.

    Moves come from one owner thread (they are serialised by a lock all the same); readers call
    :meth:`at` or read :attr:`segment` from any thread without waiting."""

    def __init__(self, fps: float, loop: tuple[int, int], cue: int = 0, clock=_clock.now, playing: bool = False):
        self.clock = clock
        self._lock = threading.Lock()
        self.locates = 0               # jumps made (locates, nudges, restarts, switches), for the HUD
        t = clock()
        self.segment = Segment(0, cue, loop[0], loop[1] - loop[0], float(fps), playing, t, 0.0, 1, t)
        self._history = collections.deque([(t, self.segment)], maxlen=256)   # (when published, segment)

    # -- reading (any thread)
    def at(self, t: float | None = None) -> Position:
        return self.segment.at(self.clock() if t is None else t)

    def at_past(self, t: float) -> Position:
        """Where the film was at ``t`` (which may be a while ago: a recorder asks of the sound it
        captured then), from the segment that was in force then, not the one now."""
        for t_pub, seg in reversed(self._history):
            if t_pub <= t:
                return seg.at(t)
        return self._history[0][1].at(t)

    @property
    def playing(self) -> bool:
        return self.at().playing

    @property
    def pending(self) -> Segment | None:
        """The switch scheduled at the end of a pass, if any (until it takes over)."""
        seg, t = self.segment, self.clock()
        while seg.then is not None and t >= seg.then.t0 - _EPS:
            seg = seg.then
        return seg.then

    # -- moving (the owner)
    def _publish(self, seg: Segment) -> Segment:
        self.segment = seg
        self._history.append((self.clock(), seg))
        return seg

    def _now_segment(self, t: float, *, playing: bool | None = None, offset: float | None = None,
                     jump: bool = True, keep_then: bool = True) -> Segment:
        """A segment starting at ``t`` from where the film is then."""
        p = self.segment.at(t)
        pending = self.pending if keep_then else None
        off = p.offset if offset is None else offset
        ps = p.pass_seconds
        pass_no = p.pass_no
        if offset is not None:
            k = math.floor(off / ps)
            off -= k * ps
            pass_no = max(1, pass_no + k)
        seg = Segment(p.epoch + (1 if jump else 0), p.cue, p.loop_in, p.length, p.fps,
                      p.playing if playing is None else playing, t, off, pass_no, p.cue_since)
        if pending is not None:
            seg = self._chain(seg, pending.cue, pending.loop_in, pending.length, seg.epoch)
        return seg

    def _chain(self, seg: Segment, cue: int, loop_in: int, length: int, epoch: int) -> Segment:
        """``seg`` with a switch to ``cue`` at the end of the pass it is in (while it plays)."""
        if not seg.playing:
            return replace(seg, then=Segment(epoch + 1, cue, loop_in, length, seg.fps, True, math.inf, 0.0, 1, math.inf))
        p = seg.at(seg.t0)
        t_end = p.time_at_offset(p.pass_seconds)
        end_epoch = seg.at(t_end - _EPS).epoch
        return replace(seg, then=Segment(max(epoch, end_epoch) + 1, cue, loop_in, length, seg.fps, True, t_end, 0.0,
                                         1, t_end))

    def follow(self, segment: Segment) -> None:
        """Publish a segment made elsewhere, as it is (an offline render replaying the film's
        places a take recorded: stage.review.render)."""
        with self._lock:
            self._publish(segment)
            self.locates += 1

    def play(self, t: float | None = None) -> None:
        with self._lock:
            t = self.clock() if t is None else t
            if not self.segment.at(t).playing:
                self._publish(self._now_segment(t, playing=True, jump=False))

    def pause(self, t: float | None = None) -> None:
        with self._lock:
            t = self.clock() if t is None else t
            if self.segment.at(t).playing:
                self._publish(self._now_segment(t, playing=False, jump=False))

    def toggle(self, t: float | None = None) -> None:
        if self.at(t).playing:
            self.pause(t)
        else:
            self.play(t)

    def locate(self, offset: float, t: float | None = None, playing: bool | None = None) -> None:
        """Jump to ``offset`` seconds into the current pass (a new epoch); beyond the loop's
        ends it wraps into the next or previous pass."""
        with self._lock:
            t = self.clock() if t is None else t
            self._publish(self._now_segment(t, offset=offset, playing=playing))
            self.locates += 1

    def nudge(self, seconds: float, t: float | None = None) -> None:
        with self._lock:
            t = self.clock() if t is None else t
            p = self.segment.at(t)
            self._publish(self._now_segment(t, offset=p.offset + seconds))
            self.locates += 1

    def adjust(self, offset: float, t: float | None = None) -> None:
        """Move to ``offset`` without a new epoch: a correction smaller than a frame (the MTC
        chase following a DAW's clock), not a jump."""
        with self._lock:
            t = self.clock() if t is None else t
            self._publish(self._now_segment(t, offset=offset, jump=False))

    def restart(self, t: float | None = None, playing: bool | None = None) -> None:
        """Back to the start of the current cue's first pass."""
        with self._lock:
            t = self.clock() if t is None else t
            p = self.segment.at(t)
            seg = Segment(p.epoch + 1, p.cue, p.loop_in, p.length, p.fps,
                          p.playing if playing is None else playing, t, 0.0, 1, t)
            pending = self.pending
            if pending is not None:
                seg = self._chain(seg, pending.cue, pending.loop_in, pending.length, seg.epoch)
            self._publish(seg)
            self.locates += 1

    def switch(self, cue: int, loop: tuple[int, int], at_end: bool, t: float | None = None,
               offset: float = 0.0) -> None:
        """Cue ``cue`` (its ``loop``) from its start: at once, or at the end of the pass the
        film is in (the switch is published now, so every follower makes it at the loop point)."""
        with self._lock:
            t = self.clock() if t is None else t
            p = self.segment.at(t)
            if at_end:
                base = self._now_segment(t, jump=False, keep_then=False)
                self._publish(self._chain(base, cue, loop[0], loop[1] - loop[0], p.epoch))
            else:
                self._publish(Segment(p.epoch + 1, cue, loop[0], loop[1] - loop[0], p.fps, p.playing, t, offset, 1,
                                      t - offset))
            self.locates += 1

    def switch_at(self, cue: int, loop: tuple[int, int], t_switch: float, t: float | None = None) -> None:
        """Cue ``cue`` from its start as of ``t_switch`` (the end of a pass). Still to come: it
        is published now, for every follower to make at that instant. Already past (the new
        cue's picture was ready only just after the loop point): the new cue runs on from its
        start as if it had begun on time."""
        with self._lock:
            t = self.clock() if t is None else t
            seg = self.segment
            p_now = seg.at(t)
            epoch = max(p_now.epoch, seg.at(max(t, t_switch) - _EPS).epoch) + 1
            length = loop[1] - loop[0]
            if t_switch > t or not p_now.playing:    # to come (held: when it plays to the pass's end)
                new = self._chain(self._now_segment(t, jump=False, keep_then=False), cue, loop[0], length, epoch - 1)
            else:
                off = max(0.0, t - t_switch) if p_now.playing else 0.0
                new = Segment(epoch, cue, loop[0], length, p_now.fps, p_now.playing, t, off, 1, t - off)
            self._publish(new)
            self.locates += 1

    def cancel_switch(self, t: float | None = None) -> None:
        with self._lock:
            t = self.clock() if t is None else t
            if self.pending is not None:
                self._publish(self._now_segment(t, jump=False, keep_then=False))
