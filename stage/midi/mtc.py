"""MIDI time code: read (chase a DAW) and write (be the master).

Quarter-frame messages (F1 0nnn dddd) carry a timecode in eight pieces over two frames; a
full-frame SysEx (F0 7F 7F 01 01 hh mm ss ff F7) says where a locate landed. MTC cannot tell
23.976 from 24 or 29.97 from 30: the rate it is "treated as" is a setting.
"""

from __future__ import annotations

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


def encode_pieces(frames: int, nominal: int, rate_code: int) -> list[int]:
    """The eight quarter-frame data bytes for a timecode given as a frame count."""
    f = frames % nominal
    s = frames // nominal
    h, m, sec = s // 3600 % 24, s // 60 % 60, s % 60
    vals = [f & 0xF, f >> 4, sec & 0xF, sec >> 4, m & 0xF, m >> 4, h & 0xF, (h >> 4) | (rate_code << 1)]
    return [(i << 4) | v for i, v in enumerate(vals)]


def full_frame(frames: int, nominal: int, rate_code: int) -> list[int]:
    f = frames % nominal
    s = frames // nominal
    return [0xF0, 0x7F, 0x7F, 0x01, 0x01, (rate_code << 5) | (s // 3600 % 24), s // 60 % 60, s % 60, f, 0xF7]


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
    """Keeps the film clock on incoming MTC; called once per frame by the draw loop.

    States: "stopped" (no MTC), "locked" (following), "freewheel" (MTC paused briefly: go on).
    Within a frame of the code the clock is slewed gently (jitter filtered); further off it
    jumps (a locate, a loop in the DAW). No MTC for ``stop_after`` seconds: the film stops."""

    def __init__(self, reader: MtcReader, fps, loop_in: int, treat_as: float | None = None,
                 freewheel: float = 0.12, stop_after: float = 0.5):
        self.reader, self.fps, self.loop_in = reader, float(fps), loop_in
        self.treat_as = treat_as            # MTC frames a second (e.g. 23.976 for a "24" code); None: the film's
        self.freewheel, self.stop_after = freewheel, stop_after
        self.state = "stopped"
        self.locks = 0
        self.last_error_frames = 0.0

    def seconds(self, m: Measurement, now: float) -> float:
        """Film seconds from the loop's in point, as the MTC says they are now."""
        rate = self.treat_as or self.fps
        if abs(rate - m.nominal) > 0.5:      # a film at another rate than the code: frames are labels
            rate = m.nominal
        age = 0.0 if m.full_frame else (now - m.t)
        return m.frames / rate + age - self.loop_in / self.fps

    def update(self, film_clock, now: float) -> None:
        m = self.reader.latest
        if m is None:
            return
        quiet = now - m.t
        if m.full_frame:                     # a locate: go there and wait for the code to run
            target = self.seconds(m, now)
            if abs(film_clock.position() - target) > 0.5 / self.fps or film_clock.playing:
                film_clock.pause()
                film_clock.restart(target)
            self.state = "located"
            return
        if quiet > self.stop_after:
            if film_clock.playing:
                film_clock.pause()
            self.state = "stopped"
            return
        if quiet > self.freewheel:
            self.state = "freewheel"         # keep running on our own clock
            return
        target = self.seconds(m, now)
        err = target - film_clock.position()
        self.last_error_frames = err * self.fps
        if not film_clock.playing or abs(err) > 1.5 / self.fps:
            film_clock.restart(target)        # lock, or relock after a jump
            film_clock.play()
            self.locks += 1
        else:
            film_clock.restart(film_clock.position() + 0.15 * err)   # follow without jitter
        self.state = "locked"


class MtcSender(Worker):
    """Sends MTC quarter frames from the film clock to a MIDI output, from a thread of its own:
    stage as the master, for a DAW to record in sync."""

    def __init__(self, midi_out, film_clock, fps, loop_in: int, start_frames: int = 0, clock=_clock.now):
        self.out, self.film_clock, self.fps, self.loop_in = midi_out, film_clock, float(fps), loop_in
        self.nominal = int(round(self.fps))
        self.rate_code = RATE_CODES.get(29 if abs(self.fps - 29.97) < 0.01 else self.nominal, 3)
        self.start_frames, self.clock = start_frames, clock
        self.sent = 0
        self._init_worker("stage-mtc-out")

    def _quarters_now(self) -> float:
        """Where the film is, in quarter frames of timecode (absolute: the reel's start included)."""
        return (self.start_frames + self.loop_in + self.film_clock.position() * self.fps) * 4

    def _run(self):
        """Quarter frames go out as the film crosses each quarter of a frame, piece 0 on the
        frame that starts a two-frame cycle: a reader then knows where the picture is to within
        its own jitter, not to within a frame."""
        pieces = None
        was_playing = False
        while not self._stop.is_set():
            if not self.film_clock.playing:
                if was_playing:                      # stopped: say where, once
                    self.out.send_message(full_frame(int(self._quarters_now()) // 4, self.nominal, self.rate_code))
                was_playing, pieces = False, None
                self._stop.wait(0.01)
                continue
            if not was_playing:
                self.out.send_message(full_frame(int(self._quarters_now()) // 4, self.nominal, self.rate_code))
                was_playing = True
            q_now = self._quarters_now()
            q = int(q_now) + 1                       # the next quarter frame
            _clock.sleep_until(self.clock() + (q - q_now) / (4 * self.fps), self.clock)
            piece = q % 8
            if piece == 0:
                pieces = encode_pieces(q // 4, self.nominal, self.rate_code)
            if pieces is None:
                continue                             # wait for the start of a cycle
            self.out.send_message([0xF1, pieces[piece]])
            self.sent += 1


CLOCK, START, CONTINUE, STOP, SONG_POSITION = 0xF8, 0xFA, 0xFB, 0xFC, 0xF2
TICKS_PER_BEAT = 24            # MIDI clock: 24 a quarter note; a song position counts sixteenths (6)


def song_position(sixteenths: int) -> list[int]:
    v = max(0, min(0x3FFF, int(sixteenths)))
    return [SONG_POSITION, v & 0x7F, v >> 7]


class MidiClockSender(Worker):
    """MIDI clock at a tempo, following the film clock, from a thread of its own (stage as the
    master, for a DAW's tempo-based parts): 24 clocks a beat as the film plays; Start when it
    starts from its beginning; a Song Position Pointer then Continue, on a sixteenth, when it
    resumes or is moved (a nudge, a locate); Stop when it stops."""

    def __init__(self, midi_out, film_clock, bpm: float, clock=_clock.now):
        self.out, self.film_clock, self.bpm, self.clock = midi_out, film_clock, float(bpm), clock
        self.rate = self.bpm / 60.0 * TICKS_PER_BEAT          # clocks a second of film
        self.sent = 0
        self._init_worker("stage-midi-clock")

    def _ticks_now(self) -> float:
        return self.film_clock.position() * self.rate

    def _wait_for_tick(self, k: float, span: float = 1.0) -> bool:
        """Sleep until the film reaches clock ``k``, which it should within ``span`` clocks;
        False if it stopped or jumped meanwhile."""
        while not self._stop.is_set():
            if not self.film_clock.playing:
                return False
            t = self._ticks_now()
            if t >= k:
                return t < k + 3                                   # more than 3 clocks late: a jump
            if t < k - span - 1:
                return False                                       # moved back
            _clock.sleep_until(self.clock() + min(0.02, (k - t) / self.rate), self.clock)
        return False

    def _run(self):
        playing = False
        k = 0
        while not self._stop.is_set():
            if not self.film_clock.playing:
                if playing:
                    self.out.send_message([STOP])
                    playing = False
                self._stop.wait(0.005)
                continue
            if not playing:
                t = self._ticks_now()
                if t < 1.0:                                        # from the top
                    self.out.send_message([START])
                    k = 1
                else:                                              # from where it is, on the next sixteenth
                    six = int(t // 6) + 1
                    if not self._wait_for_tick(six * 6, span=6):
                        continue
                    self.out.send_message(song_position(six))
                    self.out.send_message([CONTINUE])
                    k = six * 6 + 1
                playing = True
            if self._wait_for_tick(k):
                self.out.send_message([CLOCK])
                self.sent += 1
                k += 1
            elif self.film_clock.playing and not self._stop.is_set():   # jumped: stop, then locate
                self.out.send_message([STOP])
                playing = False
