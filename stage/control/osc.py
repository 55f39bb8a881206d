"""OSC (python-osc): control in at /stage/<action>, players' data out.

Control in listens on localhost unless the session names another address. Packets that are
not OSC, or not parseable, are dropped and counted, never a crash.

Data out, at the analysis rate, to every destination:
  /stage/player/<name>  t_capture f0_hz confidence level_db onset   (one per analysis hop)
  /stage/film           timecode frame pass playing                  (on each new film frame)
"""

from __future__ import annotations

import threading

from pythonosc import dispatcher as _dispatcher
from pythonosc import osc_packet, osc_server
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import SimpleUDPClient

from .. import clock as _clock
from ..worker import Worker
from ..midi.players import MidiFeed, velocity_db
from ..music import midi_to_hz


class _CountingDispatcher(_dispatcher.Dispatcher):
    def __init__(self, control):
        super().__init__()
        self.control = control
        self.malformed = 0

    def call_handlers_for_packet(self, data, client_address):
        try:
            osc_packet.OscPacket(data)
        except osc_packet.ParseError:
            self.malformed += 1
            return []
        try:
            return super().call_handlers_for_packet(data, client_address)
        except Exception:          # a handler's error must not take the server down
            self.malformed += 1
            return []


class _Server(osc_server.BlockingOSCUDPServer):
    def verify_request(self, request, client_address):
        ok = super().verify_request(request, client_address)
        if not ok:
            self.dispatcher.malformed += 1
        return ok


class OscControl:
    """Listens for /stage/<action> [arg] and puts the action on the control queue."""

    def __init__(self, host: str, port: int, queue):
        self.queue = queue
        self.dispatcher = _CountingDispatcher(self)
        self.dispatcher.map("/stage/*", self._handle)
        self.dispatcher.set_default_handler(self._unknown)
        self.server = _Server((host, port), self.dispatcher)
        self.address = self.server.server_address
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="stage-osc-in", daemon=True)

    @property
    def malformed(self) -> int:
        return self.dispatcher.malformed

    def _handle(self, address, *args):
        action = address.rsplit("/", 1)[-1]
        try:
            nums = [float(a) for a in args[:2]]
        except (TypeError, ValueError):
            self.dispatcher.malformed += 1
            return
        if any(x != x or abs(x) > 1e6 for x in nums):      # NaN, inf, absurd: not an argument
            self.dispatcher.malformed += 1
            return
        self.queue.put(action, nums[0] if nums else None, f"osc {address}", nums[1] if len(nums) > 1 else None)

    def _unknown(self, address, *args):
        self.queue.unknown += 1

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        if self._thread.is_alive():        # (shutdown() waits for a serve_forever that must be running)
            self.server.shutdown()
        self.server.server_close()


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
