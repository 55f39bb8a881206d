"""A MIDI Time Code reader written from the MIDI 1.0 specification's MTC chapter, for the tests.
It shares nothing with stage's own MTC code, so a test that reads stage's output through it
checks stage against the spec, not against itself.

The spec's bytes:
- Quarter Frame: F1 0nnn dddd. nnn = 0 frames low nibble, 1 frames high nibble (1 bit),
  2 seconds low, 3 seconds high (2 bits), 4 minutes low, 5 minutes high (2 bits), 6 hours low,
  7 hours high (1 bit) with the rate in bits 1-2: 0 = 24, 1 = 25, 2 = 30 drop-frame, 3 = 30.
  Eight messages, 0 to 7, make one time over two frames; the time they carry is that of the
  frame in which message 0 was sent.
- Full Message: F0 7F <device> 01 01 hr mn sc fr F7, hr = 0rrhhhhh: a locate, at once.
"""

from __future__ import annotations

from dataclasses import dataclass

RATES = {0: 24, 1: 25, 2: 30, 3: 30}


@dataclass(frozen=True)
class Time:
    h: int
    m: int
    s: int
    f: int
    rate: int           # the rate code (0-3)

    def frames(self) -> int:
        """Frames from 00:00:00:00 counted as labels count them (no drop-frame gaps taken out:
        compare times of one rate with each other)."""
        n = RATES[self.rate]
        return ((self.h * 60 + self.m) * 60 + self.s) * n + self.f

    def label(self) -> str:
        return f"{self.h:02d}:{self.m:02d}:{self.s:02d}{';' if self.rate == 2 else ':'}{self.f:02d}"


@dataclass(frozen=True)
class Event:
    t: float            # when the message (for a quarter-frame time: message 0) arrived
    kind: str           # "full" or "quarter"
    time: Time


class SpecReader:
    def __init__(self):
        self.events: list[Event] = []
        self.errors: list[str] = []          # anything the spec does not allow
        self.abandoned = 0                    # cycles begun again at message 0 before message 7 came
        self._nibbles: dict[int, int] = {}
        self._t0 = None
        self._expect = 0

    def feed(self, t: float, data: list[int]) -> None:
        if not data:
            return
        if data[0] == 0xF1:
            if len(data) != 2 or data[1] & 0x80:
                self.errors.append(f"bad quarter frame {data}")
                return
            kind, nibble = (data[1] >> 4) & 0x7, data[1] & 0xF
            if kind != self._expect:              # a message out of order: the time in hand is lost
                if kind == 0 and self._nibbles:  # a sender may begin again at message 0 (the receiver
                    self.abandoned += 1           # freewheels over the two frames): counted, not wrong
                elif self._nibbles:
                    self.errors.append(f"quarter frame {kind} after {self._expect - 1} at {t:.3f}")
                self._nibbles = {}
                if kind != 0:
                    self._expect = 0
                    return
            if kind == 0:
                self._t0 = t
            self._nibbles[kind] = nibble
            self._expect = kind + 1
            if kind == 7:
                n = self._nibbles
                frames = n[0] | (n[1] & 0x1) << 4
                secs = n[2] | (n[3] & 0x3) << 4
                mins = n[4] | (n[5] & 0x3) << 4
                hours = n[6] | (n[7] & 0x1) << 4
                rate = (n[7] >> 1) & 0x3
                self._check(Time(hours, mins, secs, frames, rate))
                self.events.append(Event(self._t0, "quarter", Time(hours, mins, secs, frames, rate)))
                self._nibbles, self._expect = {}, 0
        elif data[0] == 0xF0:
            if len(data) == 10 and data[1] == 0x7F and data[3:5] == [0x01, 0x01] and data[9] == 0xF7:
                hr = data[5]
                tm = Time(hr & 0x1F, data[6], data[7], data[8], (hr >> 5) & 0x3)
                self._check(tm)
                self.events.append(Event(t, "full", tm))
                self._nibbles, self._expect = {}, 0

    def _check(self, tm: Time) -> None:
        if not (tm.h < 24 and tm.m < 60 and tm.s < 60 and tm.f < RATES[tm.rate]):
            self.errors.append(f"not a time: {tm}")
        if tm.rate == 2 and tm.s == 0 and tm.f < 2 and tm.m % 10:
            self.errors.append(f"{tm.label()} does not exist in drop-frame")


def read_jack_midi_dump(text: str, rate: int = 48000) -> SpecReader:
    """Read what `jack_midi_dump -a` printed ("  <frame>: f1 12" a line), times in seconds."""
    r = SpecReader()
    for line in text.splitlines():
        head, _, rest = line.partition(":")
        try:
            frame = int(head.strip())
            data = [int(b, 16) for b in rest.split()]
        except ValueError:
            continue
        r.feed(frame / rate, data)
    return r
