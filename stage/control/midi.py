"""MIDI control: notes and CCs from a controller or foot pedal, mapped to actions."""

from __future__ import annotations

import threading
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

    def __init__(self, mappings, queue, source: str = "midi", on_learn=None):
        self.mappings = [m if isinstance(m, Mapping) else Mapping(**m) for m in mappings]
        self.queue, self.source = queue, source
        self.connected = False
        self.learn = None                  # an action waiting for the next message to bind it
        self.learned: list[Mapping] = []
        self.on_learn = on_learn           # called with each new Mapping (saves it), off this thread
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
            if self.on_learn is not None:
                threading.Thread(target=self.on_learn, args=(m,), name="stage-learn-save", daemon=True).start()
            return
        for m in self.mappings:
            if m.channel not in (None, ch):
                continue
            if ("cc" in hit and m.cc == hit["cc"]) or ("note" in hit and m.note == hit["note"]):
                self.queue.put(m.action, m.arg, self.source)
                return


def append_mapping(session_path, m: Mapping) -> None:
    """Save a learned mapping at the end of the session file, as a [[control.map]] table (the
    rest of the file, comments and all, is left as it was)."""
    lines = ["", "[[control.map]]   # learned", f'action = "{m.action}"']
    lines.append(f"cc = {m.cc}" if m.cc is not None else f"note = {m.note}")
    if m.channel is not None:
        lines.append(f"channel = {m.channel}")
    with open(session_path, "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
