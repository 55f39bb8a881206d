"""MIDI control: notes and CCs from a controller or foot pedal, mapped to actions."""

from __future__ import annotations

from dataclasses import dataclass

# A sustain-type pedal (CC 64) plays and pauses the film unless the session maps otherwise.
DEFAULT_MAP = ({"action": "toggle_play", "cc": 64},)


@dataclass(frozen=True)
class Mapping:
    action: str
    cc: int | None = None
    note: int | None = None
    channel: int | None = None     # 1-16, None for any
    arg: float | None = None


class MidiControl:
    """Takes messages from a MidiInput (like a player's feed does) and puts mapped actions on
    the control queue: a note-on, or a CC crossing 64 upwards (a pedal pressed)."""

    def __init__(self, mappings, queue, source: str = "midi"):
        self.mappings = [m if isinstance(m, Mapping) else Mapping(**m) for m in mappings]
        self.queue, self.source = queue, source
        self.connected = False
        self.learn = None                  # an action waiting for the next message to bind it
        self.learned: list[Mapping] = []
        self._cc_state: dict[tuple[int, int], int] = {}

    def set_connected(self, connected: bool) -> None:
        self.connected = connected

    def take(self, t: float, msg) -> None:
        if not msg or msg[0] >= 0xF0 or len(msg) < 3:
            return
        kind, ch = msg[0] & 0xF0, (msg[0] & 0x0F) + 1
        if kind == 0xB0:
            prev = self._cc_state.get((ch, msg[1]), 0)
            self._cc_state[(ch, msg[1])] = msg[2]
            if not (prev < 64 <= msg[2]):
                return
            hit = {"cc": msg[1]}
        elif kind == 0x90 and msg[2] > 0:
            hit = {"note": msg[1]}
        else:
            return
        if self.learn is not None:         # MIDI learn: this message now means that action
            m = Mapping(self.learn, channel=ch, **hit)
            self.mappings.insert(0, m)
            self.learned.append(m)
            self.learn = None
            return
        for m in self.mappings:
            if m.channel not in (None, ch):
                continue
            if ("cc" in hit and m.cc == hit["cc"]) or ("note" in hit and m.note == hit["note"]):
                self.queue.put(m.action, m.arg, self.source)
                return
