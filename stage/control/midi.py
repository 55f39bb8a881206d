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


_SAVING = threading.Lock()          # one learned mapping is written at a time


def append_mapping(session_path, m: Mapping) -> None:
    """Save a learned mapping in the session file, through tomlkit: the rest of the file, its
    comments and layout, stays as it was. The mapping goes first among the file's mappings
    (the first that matches a message wins, as the learned one does live), in the form the
    file already uses: a [[control.map]] table, or an entry of an inline ``map = [...]``. The
    file is replaced whole (a temporary file renamed over it), so a crash cannot leave half
    of it. Raises SessionError if the file cannot be read as TOML or written."""
    import os
    from collections.abc import MutableMapping
    import tempfile
    from pathlib import Path

    import tomlkit
    from tomlkit.exceptions import TOMLKitError
    from tomlkit.items import AoT, Array, InlineTable

    from ..session import SessionError

    path = Path(session_path).resolve()
    entry = {"action": m.action}
    entry["cc" if m.cc is not None else "note"] = m.cc if m.cc is not None else m.note
    if m.channel is not None:
        entry["channel"] = m.channel
    if m.arg is not None:
        entry["arg"] = m.arg
    with _SAVING:
        try:
            doc = tomlkit.parse(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, TOMLKitError) as e:
            raise SessionError(path, 0, "control.map", f"cannot save the learned mapping: {e}") from None
        control = doc.get("control")
        if control is None:
            control = tomlkit.table()
            doc["control"] = control
        if not isinstance(control, MutableMapping):
            raise SessionError(path, 0, "control", "cannot save the learned mapping: [control] is not a table")
        maps = control.get("map")
        if isinstance(control, InlineTable) or isinstance(maps, Array):
            item = tomlkit.inline_table()
            item.update(entry)
            if maps is None:
                control["map"] = [item]
            elif "\n" in maps.as_string():     # one mapping a line: the new one takes the first line's form
                maps.insert(0, item)
            else:                              # on one line: written again with the new one first
                line = tomlkit.array()
                for x in (item, *maps):
                    line.append(x)
                control["map"] = line
        else:
            table = tomlkit.table()
            table.update(entry)
            table.comment("learned")
            if maps is None:
                aot = tomlkit.aot()
                aot.append(table)
                control["map"] = aot
            elif isinstance(maps, AoT):
                table.add(tomlkit.nl())
                maps.insert(0, table)
            else:
                raise SessionError(path, 0, "control.map", "cannot save the learned mapping: map is not a list "
                                                           "of mappings")
        text = tomlkit.dumps(doc)
        try:
            mode = path.stat().st_mode & 0o7777
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(text)
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(tmp, mode)
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as e:
            raise SessionError(path, 0, "control.map", f"cannot save the learned mapping: {e}") from None
