"""MIDI players: note-on/off, velocity, pitch bend and the sustain pedal become what a lane
draws, exactly (no confidence to fade). Pure: no rtmidi, no pygame; fed (time, message).

One writer (the MIDI input's callback thread) per feed. What the draw loop reads is
republished whole on every change (``sounding`` is a new tuple each time), so it never sees a
half-applied message, and neither side waits on the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NOTE_OFF, NOTE_ON, CONTROL, BEND = 0x80, 0x90, 0xB0, 0xE0
SUSTAIN = 64


@dataclass(frozen=True)
class Note:
    note: int
    velocity: int
    t_on: float              # when its note-on arrived (CLOCK_MONOTONIC_RAW)
    released: bool = False   # key up, held by the sustain pedal


def velocity_db(velocity: int) -> float:
    """A velocity as a level in dB below full (127 = 0 dB; 64 = -6 dB), for the meter."""
    return 20.0 * np.log10(max(1, velocity) / 127.0)


class MidiFeed:
    def __init__(self, name: str, channel: int | None = None, bend_range: float = 2.0, capacity: int = 4096):
        self.name, self.channel, self.bend_range = name, channel, bend_range
        self.sounding: tuple[Note, ...] = ()      # every note sounding now, oldest first
        self.bend = 0.0                           # semitones
        self.t_last = 0.0                         # time of the last message taken
        self._sustain = False
        # note-ons, for onset marks and the latency figures: (t, note, velocity), counted
        self.on_t = np.zeros(capacity, np.float64)
        self.on_note = np.zeros(capacity, np.int16)
        self.on_vel = np.zeros(capacity, np.int16)
        self.ons = 0
        self.capacity = capacity
        self.connected = False                    # the port is open (set by the input)

    def set_connected(self, connected: bool) -> None:
        self.connected = connected
        if not connected:
            self.sounding = ()          # what the port held is not held any more

    def wants(self, status: int) -> bool:
        return self.channel is None or (status & 0x0F) == self.channel - 1

    def take(self, t: float, msg) -> None:
        """Apply one MIDI message received at time ``t``."""
        if not msg:
            return
        status = msg[0]
        kind = status & 0xF0
        if status >= 0xF0 or not self.wants(status):
            return
        self.t_last = t
        if kind == NOTE_ON and len(msg) >= 3 and msg[2] > 0:
            note, vel = msg[1], msg[2]
            k = self.ons % self.capacity
            self.on_t[k], self.on_note[k], self.on_vel[k] = t, note, vel
            self.ons += 1
            self.sounding = tuple(n for n in self.sounding if n.note != note) + (Note(note, vel, t),)
        elif kind == NOTE_OFF or (kind == NOTE_ON and len(msg) >= 3 and msg[2] == 0):
            note = msg[1]
            if self._sustain:
                self.sounding = tuple(Note(n.note, n.velocity, n.t_on, True) if n.note == note else n
                                      for n in self.sounding)
            else:
                self.sounding = tuple(n for n in self.sounding if n.note != note)
        elif kind == CONTROL and len(msg) >= 3:
            if msg[1] == SUSTAIN:
                self._sustain = msg[2] >= 64
                if not self._sustain:
                    self.sounding = tuple(n for n in self.sounding if not n.released)
            elif msg[1] in (120, 123):              # all sound off, all notes off
                self.sounding = ()
        elif kind == BEND and len(msg) >= 3:
            value = (msg[2] << 7 | msg[1]) - 8192
            self.bend = value / 8192.0 * self.bend_range

    def newest(self) -> Note | None:
        s = self.sounding
        return s[-1] if s else None
