"""MIDI inputs by port name (python-rtmidi), on whichever compiled API has the port.

The rtmidi callback stamps each message on stage's clock as it arrives and hands it to the
players on that port; a watcher reopens a port that went away when it comes back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

import rtmidi

from .. import clock as _clock
from ..audio.devices import quiet_stderr


class MidiPortError(LookupError):
    pass


# rtmidi clients of a JACK server that died: kept for good, never deleted (closing a port of a
# server that died crashes libjack), and so never destroyed: the process leaves without it
DEAD: list = []


def _apis():
    return list(rtmidi.get_compiled_api())


def find_port(spec: str):
    """(api, index, name) of the first input port whose name contains ``spec``."""
    seen = []
    with quiet_stderr():
        for api in _apis():
            try:
                m = rtmidi.MidiIn(api, name="stage-find")
            except Exception:
                continue
            try:
                ports = m.get_ports()
            finally:
                m.delete()
            for i, name in enumerate(ports):
                seen.append(f"{name} ({rtmidi.get_api_display_name(api)})")
                if spec.lower() in name.lower():
                    return api, i, name
    raise MidiPortError(f"no MIDI input named {spec!r}; the MIDI inputs are: "
                        + ("; ".join(seen) if seen else "none"))


def _jack_midi_ports(sinks: bool) -> list[str] | None:
    """JACK's MIDI ports now, as ``jack_lsp`` (a process of its own) sees them: ``sinks`` the
    ones that can be written to (JACK inputs), else the ones that can be read from. None if
    the server is not there; ``NotImplemented`` without jack_lsp.

    Looked at from outside because a JACK client opened and closed in this process waits for
    the server while holding the GIL, and a server that runs its clients synchronously
    (``jackd -S``) waits in its turn for our MIDI callbacks, which need the GIL: each look
    would stop the whole graph, the picture with it, until the server's client timeout (5 s)."""
    lsp = shutil.which("jack_lsp")
    if lsp is None:
        return NotImplemented
    try:
        r = subprocess.run([lsp, "-p", "-t"], capture_output=True, text=True, timeout=3.0,
                           env=dict(os.environ, JACK_NO_START_SERVER="1"))
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        return None
    want = "input" if sinks else "output"
    found, name, props = [], None, ""
    for line in r.stdout.splitlines():
        if not line.startswith("\t"):
            name, props = line.strip(), ""
        elif line.strip().startswith("properties:"):
            props = line.split(":", 1)[1]
        elif name is not None and "midi" in line and want in [p.strip() for p in props.split(",")]:
            found.append(name)
    return found


def fresh_ports(api, sinks: bool) -> list[str] | None:
    """The ports the MIDI system has now (``sinks``: those that can be written to, else those
    that can be read from), seen by a client made for the look: a client kept from before a
    JACK server died goes on listing the dead server's ports. None if the system is not there.
    For JACK the look is taken by another process (``_jack_midi_ports`` says why)."""
    if api == rtmidi.API_UNIX_JACK:
        ports = _jack_midi_ports(sinks)
        if ports is not NotImplemented:
            return ports
    probe = None
    try:
        with quiet_stderr():
            probe = (rtmidi.MidiOut if sinks else rtmidi.MidiIn)(api, name="stage-probe")
        return list(probe.get_ports())
    except Exception:
        return None
    finally:
        if probe is not None:
            try:
                probe.delete()
            except Exception:
                pass


class MidiLog:
    """Every MIDI message received, stamped on arrival, for a recorder: the inputs' callbacks
    append (several ports: several threads, so under a lock held for one append); a reader
    takes what came since its own count. Holds the newest ``capacity`` messages."""

    def __init__(self, capacity: int = 65536):
        self.capacity = capacity
        self._items: list = [None] * capacity      # (t, port, bytes)
        self.count = 0
        self._lock = threading.Lock()

    def append(self, t: float, port: str, message) -> None:
        with self._lock:
            self._items[self.count % self.capacity] = (t, port, bytes(message))
            self.count += 1

    def since(self, start: int) -> tuple[list, int]:
        """(messages after the first ``start``, the count to ask from next time); those
        already overwritten are skipped (counted by the gap between ``start`` and the first)."""
        with self._lock:
            end = self.count
            first = max(start, end - self.capacity)
            return [self._items[k % self.capacity] for k in range(first, end)], end


class MidiInput:
    """One open MIDI input port feeding every player that listens to it.

    It keeps one rtmidi client for its whole life (creating JACK clients over and over would
    disturb the audio graph) and uses it to see whether its port is still there."""

    def __init__(self, spec: str, feeds, clock=_clock.now, retry: float = 0.5, log: MidiLog | None = None):
        self.spec, self.feeds, self.clock, self.retry = spec, list(feeds), clock, retry
        self.log = log
        self.port_name = None
        self.state = "closed"
        self.messages = 0
        self.reconnects = 0
        self._midi = None
        self._api = None
        import uuid
        self._own = f"in-{uuid.uuid4().hex[:8]}"     # our own port's name: found again by it
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._supervise, name="stage-midi-watch", daemon=True)

    def _callback(self, event, data=None):
        t = self.clock()
        msg, _delta = event
        self.messages += 1
        for f in self.feeds:
            f.take(t, msg)
        if self.log is not None:
            self.log.append(t, self.port_name or self.spec, msg)

    def _index(self):
        for i, name in enumerate(self._midi.get_ports()):
            if self.spec.lower() in name.lower():
                return i, name
        return None, None

    def start(self):
        self._api, _, _ = find_port(self.spec)    # MidiPortError names the ports there are
        self._client()
        self._connect()
        self._watch.start()
        return self

    def _client(self) -> None:
        """A new rtmidi client on the port's API (after a JACK server restarted, the old one is
        dead for good; a new one reaches the new server)."""
        old, self._midi = self._midi, None
        if old is not None:              # kept, never deleted (see DEAD): a few bytes each time
            DEAD.append(old)
        with quiet_stderr():
            self._midi = rtmidi.MidiIn(self._api, name="stage")
        # MTC comes as quarter frames (a "timing" message to rtmidi) and SysEx: let both through
        self._midi.ignore_types(sysex=False, timing=False, active_sense=True)

    def _connect(self) -> bool:
        i, name = self._index()
        if i is None:
            return False
        self._midi.open_port(i, self._own)
        self._midi.set_callback(self._callback)      # (closing a port cancels its callback)
        self.port_name, self.state = name, "open"
        for f in self.feeds:
            f.set_connected(True)
        return True

    def _disconnect(self):
        """The port has gone: the players say so. Our own port is closed only where a client made
        for the look still sees it (the server is there); a client whose server died is left
        alone, for good (closing through it crashes libjack)."""
        for f in self.feeds:
            f.set_connected(False)
        if self._midi is None:
            return
        sinks = fresh_ports(self._api, sinks=True)
        if sinks is not None and any(n.endswith(":" + self._own) for n in sinks):
            try:
                self._midi.close_port()
            except Exception:
                pass
        else:
            DEAD.append(self._midi)
            self._midi = None

    def _supervise(self):
        """Notice the port going (unplugged) and coming back (by name); and the MIDI system
        itself going: a JACK server that stopped takes our client with it, and a client kept
        from before goes on listing the dead server's ports, so every two seconds a client made
        for the look says what is really there."""
        tick = 0
        while not self._stop.wait(self.retry):
            tick += 1
            look = tick % max(1, int(round(2.0 / self.retry))) == 0
            try:
                names = self._midi.get_ports() if self._midi is not None else []
            except Exception:
                names = []
            if self.state == "open":
                if self.port_name not in names:
                    self._disconnect()
                    self.state = "lost"
                elif look:
                    sinks = fresh_ports(self._api, sinks=True)
                    if sinks is None or not any(n.endswith(":" + self._own) for n in sinks):
                        for f in self.feeds:          # our client went with its server
                            f.set_connected(False)
                        self.state = "lost"
                        self._renew()
            elif self.state == "lost" and tick % max(1, int(round(1.0 / self.retry))) == 0:
                # the port is looked for by a client made for the look, and when it is there a new
                # client of ours opens it: the one we have may be of a server that is gone, whose
                # list still shows the port by name, and opening through it would crash libjack
                sources = fresh_ports(self._api, sinks=False)
                if sources and any(self.spec.lower() in n.lower() for n in sources):
                    self._renew()
                    try:
                        if self._connect():
                            self.reconnects += 1
                    except Exception:
                        pass

    def _renew(self) -> None:
        try:
            self._client()
        except Exception:                             # the system is not back yet
            pass

    def stop(self):
        self._stop.set()
        if self._watch.is_alive():
            self._watch.join(timeout=2)
        if self._midi is not None:
            self._disconnect()
        if self._midi is not None:           # (a client of a server that died is kept instead)
            self._midi.delete()
            self._midi = None
        self.state = "closed"


def open_midi_inputs(players, feeds, listeners=(), clock=_clock.now, log: MidiLog | None = None) -> list[MidiInput]:
    """One MidiInput per distinct port, feeding the MIDI players on it and the other
    ``listeners`` ((port, listener): the MIDI control, an MTC reader) on theirs."""
    by_port: dict[str, list] = {}
    for p, f in zip(players, feeds):
        if p.is_midi:
            by_port.setdefault(p.midi, []).append(f)
    for port, listener in listeners:
        by_port.setdefault(port, []).append(listener)
    return [MidiInput(spec, fs, clock, log=log) for spec, fs in by_port.items()]


class VirtualOutput:
    """A MIDI output port of stage's own, which several threads may send on (MTC and MIDI clock
    share one port when the session names the same): rtmidi's output is not safe to call from
    two threads at once, so every send holds a lock (held for the length of one send).

    It stays there through a JACK server's restart: a watcher looks for its own port among the
    system's every two seconds, and opens it again on the new server when it has gone (a DAW
    then finds it by name, as before)."""

    def __init__(self, api, name: str):
        self.api, self.name = api, name
        self._lock = threading.Lock()
        self._out = self._open()
        self.reopened = 0
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._supervise, name="stage-midi-out-watch", daemon=True)
        self._watch.start()

    def _open(self):
        with quiet_stderr():
            out = rtmidi.MidiOut(self.api, name="stage")
            out.open_virtual_port(self.name)
        return out

    def send_message(self, message) -> None:
        with self._lock:
            if self._out is not None:            # (None while it is opened again)
                self._out.send_message(message)

    def _mine(self, names) -> bool:
        return any(n.endswith(":" + self.name) or n.endswith(" " + self.name) or n == self.name for n in names)

    def _ports_now(self) -> list[str]:
        """The ports the MIDI system has now, seen by a client made for the look (a client kept
        from before a JACK server died goes on listing the dead server's ports)."""
        return fresh_ports(self.api, sinks=False) or []

    def _supervise(self) -> None:
        while not self._stop.wait(2.0):
            if self._mine(self._ports_now()):
                continue
            # our port is not there: the MIDI system restarted (or is down): a new client, a new
            # port. The dead client is kept, never deleted: unregistering a port of a JACK server
            # that died crashes libjack (a few bytes each time the server comes back)
            try:
                new = self._open()
            except Exception:
                continue
            with self._lock:
                DEAD.append(self._out)
                self._out = new
            self.reopened += 1

    def close(self) -> None:
        self._stop.set()
        if self._watch.is_alive():
            self._watch.join(timeout=3)
        with self._lock:
            out, self._out = self._out, None
            if out is not None:
                try:
                    out.close_port()
                except Exception:
                    pass
                try:
                    out.delete()
                except Exception:
                    pass


def open_virtual_output(name: str) -> VirtualOutput:
    """A MIDI output port of stage's own (for MTC and clock out), on the first API that gives one."""
    for api in _apis():
        try:
            return VirtualOutput(api, name)
        except Exception:
            continue
    raise MidiPortError(f"no MIDI system would give an output port named {name!r}")
