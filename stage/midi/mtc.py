"""MIDI time code: read (chase a DAW) and write (be the master).

Quarter-frame messages (F1 0nnn dddd) carry a timecode in eight pieces over two frames; a
full-frame SysEx (F0 7F 7F 01 01 hh mm ss ff F7) says where a locate landed. MTC cannot tell
23.976 from 24 or 29.97 from 30: the rate it is "treated as" is a setting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import clock as _clock
from ..worker import Worker

RATE_CODES = {24: 0, 25: 1, 29: 2, 30: 3}      # 29 = 29.97 drop-frame
CODE_RATES = {0: 24, 1: 25, 2: 30, 3: 30}      # nominal frames a second for each code


@dataclass(frozen=True)
class Measurement:
    t: float            # when (CLOCK_MONOTONIC_RAW)
    frames: float       # the timecode then, in frames at the nominal rate (fractional)
    nominal: int
    full_frame: bool    # a locate (full-frame message) rather than running quarter frames


def _fields(frames) -> tuple[int, int, int, int]:
    """(hours, minutes, seconds, frames) of a timecode: a label ('01:00:00;00') or a frame count
    at the nominal rate given as (count, nominal)."""
    if isinstance(frames, str):
        h, m, s, f = (int(x) for x in frames.replace(";", ":").split(":"))
        return h % 24, m, s, f
    count, nominal = frames
    s = count // nominal
    return s // 3600 % 24, s // 60 % 60, s % 60, count % nominal


def encode_pieces(frames, nominal: int, rate_code: int) -> list[int]:
    """The eight quarter-frame data bytes for a timecode: a label, or a frame count at the
    nominal rate (non-drop)."""
    h, m, sec, f = _fields(frames if isinstance(frames, str) else (frames, nominal))
    vals = [f & 0xF, f >> 4, sec & 0xF, sec >> 4, m & 0xF, m >> 4, h & 0xF, (h >> 4) | (rate_code << 1)]
    return [(i << 4) | v for i, v in enumerate(vals)]


def full_frame(frames, nominal: int, rate_code: int) -> list[int]:
    h, m, s, f = _fields(frames if isinstance(frames, str) else (frames, nominal))
    return [0xF0, 0x7F, 0x7F, 0x01, 0x01, (rate_code << 5) | h, m, s, f, 0xF7]


def rate_code(fps: float, drop_frame: bool) -> int:
    """The MTC rate code for a film's rate: 24 (and 23.976), 25, 29.97 drop-frame, 30 (and
    29.97 non-drop, which MTC calls 30)."""
    if drop_frame:
        return RATE_CODES[29]
    return RATE_CODES.get(int(round(fps)), 3)


class MtcReader:
    """Takes MIDI messages (like a player's feed does); publishes the newest Measurement in
    ``latest`` (one immutable object: the draw loop reads it without waiting)."""

    def __init__(self):
        self.latest: Measurement | None = None
        self.connected = False
        self.cycles = 0
        self._pieces: dict[int, int] = {}
        self._last_piece = None

    def set_connected(self, connected: bool) -> None:
        self.connected = connected

    def take(self, t: float, msg) -> None:
        if not msg:
            return
        if msg[0] == 0xF1 and len(msg) >= 2:
            piece, value = msg[1] >> 4, msg[1] & 0x0F
            if piece == 0 or (self._last_piece is not None and piece == self._last_piece + 1):
                self._pieces[piece] = value
            else:
                self._pieces = {}                # out of order (a locate, or backwards): start again
            self._last_piece = piece
            if piece == 7 and len(self._pieces) == 8:
                p = self._pieces
                code = (p[7] >> 1) & 0x3
                nominal = CODE_RATES[code]
                frames = (p[0] | p[1] << 4) + nominal * ((p[2] | p[3] << 4) + 60 * ((p[4] | p[5] << 4)
                                                                                   + 60 * (p[6] | (p[7] & 1) << 4)))
                # the timecode is that of the frame in which piece 0 came; piece 7 is 7/4 frames later
                self.latest = Measurement(t, frames + 1.75, nominal, False)
                self.cycles += 1
                self._pieces = {}
        elif msg[0] == 0xF0 and len(msg) >= 10 and msg[1:5] == [0x7F, 0x7F, 0x01, 0x01]:
            code = (msg[5] >> 5) & 0x3
            nominal = CODE_RATES[code]
            frames = msg[8] + nominal * (msg[7] + 60 * (msg[6] + 60 * (msg[5] & 0x1F)))
            self.latest = Measurement(t, float(frames), nominal, True)
            self._pieces = {}


class MtcChase:
    """Keeps the transport on incoming MTC; run by the show's controller thread, not the draw loop.

    States: "stopped" (no MTC), "located" (a full-frame message: parked there), "locked"
    (following), "freewheel" (MTC paused briefly: go on). Within a frame and a half of the code
    the transport is slewed gently, without a new epoch (jitter filtered); further off it
    locates (a locate or a loop in the DAW). No MTC for ``stop_after`` seconds: the film stops.
    The code is read against the reel's own timecode (``start``: the label count of the file's
    first frame) and the current cue's loop."""

    def __init__(self, reader: MtcReader, fps, start: int = 0, treat_as: float | None = None,
                 freewheel: float = 0.12, stop_after: float = 0.5):
        self.reader, self.fps, self.start = reader, float(fps), start
        self.treat_as = treat_as            # MTC frames a second (e.g. 23.976 for a "24" code); None: the film's
        self.freewheel, self.stop_after = freewheel, stop_after
        self.state = "stopped"
        self.locks = 0
        self.last_error_frames = 0.0
        self._seen = None

    def target(self, m: Measurement, now: float, loop_in: int, length: int) -> float:
        """Seconds into the current cue's pass where the code says the picture is now (a code
        outside the loop is folded into it, as a DAW playing on past the loop's end would be)."""
        rate = self.treat_as or self.fps
        if abs(rate - m.nominal) > 0.5:      # a film at another rate than the code: frames are labels
            rate = m.nominal
        age = 0.0 if m.full_frame else (now - m.t)
        film_s = (m.frames - self.start) / rate + age          # seconds from the file's first frame
        return (film_s - loop_in / self.fps) % (length / self.fps)

    def update(self, transport, now: float) -> None:
        m = self.reader.latest
        if m is None:
            return
        p = transport.at(now)
        quiet = now - m.t
        if m.full_frame:                     # a locate: go there and wait for the code to run
            if m is not self._seen:
                self._seen = m
                transport.locate(self.target(m, now, p.loop_in, p.length), now, playing=False)
            self.state = "located"
            return
        if quiet > self.stop_after:
            if p.playing:
                transport.pause(now)
            self.state = "stopped"
            return
        if quiet > self.freewheel:
            self.state = "freewheel"         # keep running on our own clock
            return
        target = self.target(m, now, p.loop_in, p.length)
        err = target - p.offset
        half = p.pass_seconds / 2
        err = (err + half) % p.pass_seconds - half     # across the loop point, the short way
        self.last_error_frames = err * self.fps
        if not p.playing or abs(err) > 1.5 / self.fps:
            transport.locate(target, now, playing=True)   # lock, or relock after a jump
            self.locks += 1
        elif m is not self._seen:
            transport.adjust(p.offset + 0.15 * err, now)  # follow without jitter (no jump)
        self._seen = m
        self.state = "locked"


class Follower(Worker):
    """A thread that follows the transport: sleeps until a film moment, waking early when the
    transport jumps (a new epoch) or stops."""

    def _init_follower(self, transport, clock, name):
        self.transport, self.clock = transport, clock
        self._init_worker(name)

    def _sleep_until(self, t: float, epoch) -> bool:
        """Sleep until clock time ``t``; True if the transport is then still playing in
        ``epoch`` (False as soon as it jumps or stops, or the thread is stopped)."""
        while not self._stop.is_set():
            left = t - self.clock()
            if left <= 0:
                p = self.transport.at(t)
                return p.playing and p.epoch == epoch
            if left > 0.012:
                self._stop.wait(0.01)
                p = self.transport.at(self.clock())
                if not p.playing or p.epoch != epoch:
                    return False
            else:
                _clock.sleep_until(t, self.clock)
        return False


class MtcSender(Follower):
    """Sends MTC from the transport to a MIDI output, from a thread of its own: stage as the
    master, for a DAW to record in sync.

    Quarter frames go out as the film crosses each quarter of a frame, in cycles of eight over
    two frames, piece 0 on the frame the cycle's timecode names. On every new epoch of the
    transport (start, locate, nudge, cue switch, and each wrap of the loop) a full-frame message
    says where the film now is (the in point, at a wrap), and the cycles start again from there.
    A cycle that would run past the loop's out point is not begun, so a reader never sees a time
    past it. A thread woken late drops the cycle it missed rather than send it late."""

    def __init__(self, midi_out, transport, tc, clock=_clock.now):
        self.out, self.tc = midi_out, tc
        self.nominal = tc.nominal
        self.rate_code = rate_code(float(tc.fps), tc.drop_frame)
        self.sent = 0                # quarter frames
        self.full_frames = 0
        self._init_follower(transport, clock, "stage-mtc-out")

    def _full_frame(self, p) -> None:
        self.out.send_message(full_frame(self.tc.label(p.frame), self.nominal, self.rate_code))
        self.full_frames += 1

    def stop(self, timeout: float = 2.0) -> None:
        """The code stops with the show: no more quarter frames, and a full frame saying where it
        stopped (as when the film is paused), so a DAW chasing it parks there."""
        super().stop(timeout)
        try:
            if self.full_frames:
                self._full_frame(self.transport.at(self.clock()))
        except Exception:
            pass

    def _run(self):
        _clock.raise_thread_priority(-10)     # where allowed: a quarter frame is 10 ms at 24 fps
        epoch = None                 # the epoch being followed (None: stopped)
        cycle = 0                    # the frame in the pass where the next cycle starts
        while not self._stop.is_set():
            p = self.transport.at(self.clock())
            if not p.playing:
                if epoch is not None:                # stopped: say where, once
                    self._full_frame(p)
                epoch = None
                self._stop.wait(0.003)
                continue
            if p.epoch != epoch:                     # started, located, switched or wrapped
                self._full_frame(p)
                epoch = p.epoch
                cycle = int(math.ceil(p.offset * p.fps - 0.25))   # the next frame (or this one, begun within a quarter)
            if cycle + 2 > p.length:                 # a cycle would run past the out point: the wrap
                self._sleep_until(p.time_at_offset(p.pass_seconds), epoch)
                continue
            cycle = self._cycle(cycle, epoch)

    def _cycle(self, cycle: int, epoch: int) -> int:
        """Send the eight quarter frames of the cycle starting at frame ``cycle`` of the pass, each
        as the film crosses its quarter; returns where the next cycle starts."""
        p = self.transport.at(self.clock())
        quarter = 1.0 / (4 * p.fps)
        late = self.clock() - p.time_at_offset(cycle / p.fps)
        if late > quarter:                           # too late to begin it: the next one still ahead
            return cycle + 2 * int(math.ceil((late - quarter) / (8 * quarter)))
        pieces = encode_pieces(self.tc.label(p.loop_in + cycle), self.nominal, self.rate_code)
        for i in range(8):
            p = self.transport.at(self.clock())
            if p.epoch != epoch:
                return cycle
            t_i = p.time_at_offset((4 * cycle + i) * quarter)
            if self.clock() - t_i > 1.5 * quarter:   # fell far behind mid-cycle: drop the rest of it
                return cycle + 2
            if not self._sleep_until(t_i, epoch):
                return cycle
            self.out.send_message([0xF1, pieces[i]])
            self.sent += 1
        return cycle + 2



CLOCK, START, CONTINUE, STOP, SONG_POSITION = 0xF8, 0xFA, 0xFB, 0xFC, 0xF2
TICKS_PER_BEAT = 24            # MIDI clock: 24 a quarter note; a song position counts sixteenths (6)


def song_position(sixteenths: int) -> list[int]:
    v = max(0, min(0x3FFF, int(sixteenths)))
    return [SONG_POSITION, v & 0x7F, v >> 7]


class MidiClockSender(Follower):
    """MIDI clock at the cue's tempo, following the transport, from a thread of its own (stage
    as the master, for a DAW's tempo-based parts). The song position counts from the cue's in
    point: 24 clocks a beat as the film plays; Start when the show starts from the top; on every
    new epoch (a wrap of the loop, a nudge, a locate, a cue switch) a Song Position Pointer and
    Continue on the next sixteenth (at a wrap: position 0, at once); Stop when the film stops.
    A thread woken late sends the clocks it owes at once: lateness is never taken for a jump."""

    def __init__(self, midi_out, transport, bpm, clock=_clock.now):
        self.out = midi_out
        self.bpm = bpm if callable(bpm) else (lambda cue, b=float(bpm): b)    # cue index -> beats a minute
        self.sent = 0
        self.started = False
        self._init_follower(transport, clock, "stage-midi-clock")

    def _rate(self, p) -> float:
        return self.bpm(p.cue) / 60.0 * TICKS_PER_BEAT        # clocks a second of film

    def _run(self):
        _clock.raise_thread_priority(-10)
        epoch = None
        k = 0                                                 # the next clock, counted from the in point
        while not self._stop.is_set():
            p = self.transport.at(self.clock())
            if not p.playing:
                if epoch is not None:
                    self.out.send_message([STOP])
                    epoch = None
                self._stop.wait(0.003)
                continue
            rate = self._rate(p)
            if p.epoch != epoch:
                ticks = p.offset * rate
                if not self.started and p.pass_no == 1 and ticks < 1.0:    # the show starts from the top
                    self.out.send_message([START])
                    k = 1
                else:                                         # from where it is, on the next sixteenth
                    six = int(math.ceil((ticks - 0.25) / 6))     # (a sixteenth begun within a quarter clock: that one)
                    if six * 6 / rate >= p.pass_seconds:       # no sixteenth left in this pass: the wrap
                        self._sleep_until(p.time_at_offset(p.pass_seconds), p.epoch)
                        continue
                    if not self._sleep_until(p.time_at_offset(six * 6 / rate), p.epoch):
                        continue
                    self.out.send_message(song_position(six))
                    self.out.send_message([CONTINUE])
                    k = six * 6 + 1
                self.started = True
                epoch = p.epoch
                continue
            if k / rate >= p.pass_seconds:                    # the pass ends before the next clock
                self._sleep_until(p.time_at_offset(p.pass_seconds), epoch)
                continue
            if self._sleep_until(p.time_at_offset(k / rate), epoch):
                self.out.send_message([CLOCK])
                self.sent += 1
                k += 1


    def stop(self, timeout: float = 2.0) -> None:
        super().stop(timeout)
        try:
            if self.started:
                self.out.send_message([STOP])        # the DAW stops with the show
        except Exception:
            pass
