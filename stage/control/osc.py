"""OSC (python-osc): control in at /stage/<action>, players' data out.

Control in listens on localhost unless the session names another address (control.osc_listen =
"0.0.0.0:9000" for every interface), in a process of its own (see OscControl). Packets that are
not OSC, addresses that are not actions, arguments an action does not take and more actions a
second than an operator sends are dropped and counted, never a crash, never the picture's time.

Data out, at the analysis rate, to every destination:
  /stage/player/<name>  t_capture f0_hz confidence level_db onset   (one per analysis hop)
  /stage/film           timecode frame pass playing                  (on each new film frame)
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import SimpleUDPClient

from .. import clock as _clock
from ..worker import Worker
from ..midi.players import MidiFeed, velocity_db
from ..music import midi_to_hz


FLOOD_RATE = 200.0        # actions a second from OSC, at most, held over a second (the burst):
FLOOD_BURST = 200.0       # more is a flood, dropped and counted (an operator sends a few a second)
MAX_HOSTS = 256           # hosts with a budget of their own, at once
COUNTS = ("received", "accepted", "malformed", "unknown", "bad_args", "flood", "kernel_dropped")
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)      # Linux: datagrams the kernel dropped, per socket


class OscControl:
    """Listens for /stage/<action> [arg [arg2]] and puts the action on the control queue.

    The listening is done by a process of its own (``python -m stage.control.osc``): every
    packet is read, parsed and checked there, so a flood of them costs the show's interpreter
    nothing but the actions that pass. What passes is an address /stage/<action> of a known
    action with arguments it takes (:func:`~stage.control.actions.check_args`: numbers, finite,
    in range, a cue number the session has), at most FLOOD_RATE a second from each sending host
    (so a flood from one leaves another's cues alone); the rest is counted
    (``counts``: malformed, unknown, bad_args, flood; kernel_dropped: what the socket's buffer
    could not hold) and dropped."""

    def __init__(self, host: str, port: int, queue, rate: float = FLOOD_RATE, burst: float = FLOOD_BURST):
        self.queue, self.host, self.port, self.rate, self.burst = queue, host, port, rate, burst
        self.counts = dict.fromkeys(COUNTS, 0)
        self.address = (host, port)
        self.proc = None
        self._reader = None
        self._ready = threading.Event()
        self._said: dict = {}
        self._stopping = threading.Event()
        self._life = threading.Lock()      # a listener started again never races the show stopping
        self.restarts = 0                  # listeners that ended by themselves, and were started again
        self._kept = dict.fromkeys(COUNTS, 0)   # what listeners before this one counted

    def __getattr__(self, name):
        if name in COUNTS:
            return self.__dict__["counts"][name]
        raise AttributeError(name)

    def _spawn(self, port: int):
        with self._life:
            if self._stopping.is_set():
                return {}
            return self._spawn_locked(port)

    def _spawn_locked(self, port: int):
        args = [sys.executable, "-m", "stage.control.osc", "--host", self.host, "--port", str(port),
                "--rate", str(self.rate), "--burst", str(self.burst)]
        if getattr(self.queue, "cues", None) is not None:
            args += ["--cues", str(self.queue.cues)]
        self._ready.clear()
        self._said = {}
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     start_new_session=True)        # Ctrl-C is the show's to handle
        self._reader = threading.Thread(target=self._read, args=(self.proc,), name="stage-osc-in", daemon=True)
        self._reader.start()
        self._ready.wait(15.0)
        return self._said

    def start(self):
        said = self._spawn(self.port)
        if "ready" not in said:
            self.stop()
            if "error" in said:
                raise OSError(said.get("errno", 0), said["error"])
            raise OSError(0, f"the OSC listener did not start (exit {self.proc.poll()})")
        self.address = tuple(said["ready"])
        return self

    def _read(self, proc):
        put = self.queue.put
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "a" in msg:
                put(msg["a"], msg.get("arg"), f"osc {msg.get('src', '')}", msg.get("arg2"), t=msg.get("t"))
            elif "counts" in msg:
                self.counts = {k: self._kept[k] + msg["counts"].get(k, 0) for k in COUNTS}
            else:
                self._said = msg
                self._ready.set()
        self._ready.set()
        if "ready" in self._said and not self._stopping.is_set():
            # the listener ended by itself (killed, crashed): a new one on the same address, at once
            threading.Thread(target=self._again, args=(proc,), name="stage-osc-again", daemon=True).start()

    def _again(self, old):
        old.wait()
        old.stdout.close()
        old.stdin.close()
        self._kept = dict(self.counts)
        while not self._stopping.is_set():
            if "ready" in self._spawn(self.address[1]):
                self.restarts += 1
                return
            if self._stopping.wait(1.0):
                return

    def stop(self):
        self._stopping.set()
        with self._life:
            self._stop_listener()

    def _stop_listener(self):
        proc = self.proc
        if proc is None:
            return
        try:
            proc.stdin.close()                 # the listener ends when its stdin does (saying its counts)
        except OSError:
            pass
        try:
            proc.wait(2.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(2.0)
        if self._reader is not None:
            self._reader.join(2.0)
        proc.stdout.close()


# -- the listener process ------------------------------------------------------------------

def _listen(host: str, port: int, rate: float, burst: float, cues: int | None, say, stopping) -> int:
    import errno as _errno
    import struct

    from pythonosc import osc_packet

    from .actions import ACTIONS, BadArgument, check_args
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
        except OSError:
            pass
        sock.bind((host, port))
    except OSError as e:
        say(error=e.strerror or str(e), errno=e.errno or _errno.EINVAL)
        return 2
    say(ready=list(sock.getsockname()[:2]))
    sock.settimeout(0.1)
    counts = dict.fromkeys(COUNTS, 0)
    buckets: dict[str, list] = {}            # host -> [tokens, when last filled]
    last_said, said_at = None, 0.0
    cmsg_space = socket.CMSG_SPACE(4)
    while not stopping.is_set():
        try:
            data, anc, _flags, src = sock.recvmsg(65536, cmsg_space)
        except socket.timeout:
            data = None
        except OSError:
            data = None
        now = _clock.now()
        if data is not None:
            counts["received"] += 1
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(value) >= 4:
                    counts["kernel_dropped"] = struct.unpack("I", value[:4])[0]
            try:
                if len(data) % 4:             # OSC is written in 4-byte words: a packet that is not, is cut
                    raise ValueError("not whole words")
                messages = [m.message for m in osc_packet.OscPacket(data).messages]   # (bundles opened)
            except Exception:               # not OSC, or cut short, or anything the parser trips on
                counts["malformed"] += 1
                messages = ()
            for m in messages:
                addr = m.address
                action = addr[len("/stage/"):] if addr.startswith("/stage/") else ""
                if action not in ACTIONS:
                    counts["unknown"] += 1
                    continue
                try:
                    arg, arg2 = check_args(action, m.params, cues)
                except BadArgument:
                    counts["bad_args"] += 1
                    continue
                b = buckets.get(src[0])          # a budget per sending host: one host's flood leaves
                if b is None:                    # another's cues alone
                    if len(buckets) >= MAX_HOSTS:
                        buckets.clear()
                    b = buckets[src[0]] = [burst, now]
                b[0] = min(burst, b[0] + (now - b[1]) * rate)
                b[1] = now
                if b[0] < 1.0:
                    counts["flood"] += 1
                    continue
                b[0] -= 1.0
                counts["accepted"] += 1
                say(a=action, arg=arg, arg2=arg2, t=now, src=f"{src[0]}:{src[1]}")
        if counts != last_said and (now - said_at >= 0.05 or data is None):
            say(counts=counts)
            last_said, said_at = dict(counts), now
    say(counts=counts)
    sock.close()
    return 0


def _main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="python -m stage.control.osc")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--rate", type=float, default=FLOOD_RATE)
    ap.add_argument("--burst", type=float, default=FLOOD_BURST)
    ap.add_argument("--cues", type=int, default=None)
    a = ap.parse_args(argv)
    try:
        os.nice(5)                             # a flood is this process's load, never the picture's
    except OSError:
        pass
    out = sys.stdout

    def say(**msg):
        try:
            out.write(json.dumps(msg, separators=(",", ":")) + "\n")
            out.flush()
        except (BrokenPipeError, ValueError):
            stopping.set()

    stopping = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stopping.set()), daemon=True).start()
    return _listen(a.host, a.port, a.rate, a.burst, a.cues, say, stopping)


class OscOut(Worker):
    """Sends each player's analysis results and the film position to OSC destinations, from a
    thread of its own (never from the draw loop or the audio threads)."""

    def __init__(self, destinations, players, feeds, period: float = 0.005, clock=_clock.now,
                 transport=None, tc=None):
        self.clients = [SimpleUDPClient(h, p) for h, p in destinations]
        self.players, self.feeds, self.period, self.clock = players, feeds, period, clock
        self.transport, self.tc = transport, tc   # the film's place, read from the transport
        self.sent = 0
        self.errors = 0
        self._last_film = None
        self._seen = [getattr(f, "count", 0) for f in feeds]
        self._init_worker("stage-osc-out")

    def _send(self, address, args):
        b = OscMessageBuilder(address)
        for a in args:
            b.add_arg(a)
        msg = b.build()
        for c in self.clients:
            try:
                c.send(msg)
                self.sent += 1
            except OSError:
                self.errors += 1

    def step(self):
        for i, (p, f) in enumerate(zip(self.players, self.feeds)):
            if isinstance(f, MidiFeed):                 # MIDI players: on each change of the newest note
                n = f.newest()
                key = (n.note, n.t_on, f.bend) if n else None
                if key != self._seen[i]:
                    self._seen[i] = key
                    if n is None:
                        self._send(f"/stage/player/{p.name}", [f.t_last, 0.0, 1.0, -120.0, 0])
                    else:
                        self._send(f"/stage/player/{p.name}", [n.t_on, midi_to_hz(n.note + f.bend), 1.0,
                                                               velocity_db(n.velocity), 1])
                continue
            for k in f.since(self._seen[i]):
                t, f0, conf, level, onset = f.at(k)
                self._send(f"/stage/player/{p.name}", [t, f0, conf, level, int(onset)])
            self._seen[i] = f.count
        if self.transport is not None:
            p = self.transport.at(self.clock())
            fs = (self.tc.label(p.frame), p.frame, p.pass_no, int(p.playing))
            if fs != self._last_film:
                self._last_film = fs
                self._send("/stage/film", list(fs))

    def _run(self):
        while not self._stop.wait(self.period):
            self.step()

    def stop(self, timeout: float = 2.0):
        super().stop(timeout)
        for c in self.clients:              # their sockets, now (not when a collection finds them)
            try:
                c._sock.close()
            except (AttributeError, OSError):
                pass


if __name__ == "__main__":
    raise SystemExit(_main())
