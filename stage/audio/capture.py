"""Capture in a process of its own: nothing in the show's interpreter can delay the audio.

The PortAudio callback is Python, and Python runs one thread at a time: in the show's process
it waited for the draw loop, the decoder and the analysis to let go of the interpreter, and
under load it came late (an overrun: a hole in what was heard, and in a take). Here it runs
in a small process that does nothing else: :class:`CaptureInput` (in the show) makes a
:class:`~stage.audio.ring.SharedRing` and starts ``python -m stage.audio.capture``, whose
callback copies each block into that ring with its capture time and rings a doorbell (a byte
on a pipe the show's analysis thread waits on). The show reads the ring exactly as it read
its own.

The process is also the way back after the sound system went away: PortAudio cannot
reconnect to a JACK server that was restarted, but a new process can. When no block has come
for half a second, or the process has ended, the input is "lost": the players show NO INPUT,
and a new capture process is started every second until one opens the device (by name) again,
writing on into the same ring; the gap is counted and kept (``status.gaps``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

from .. import clock as _clock
from .ring import (ANALYSIS_BUSY, BLOCKS, LAPPED, LAST_BLOCK, LATENCY, OVERFLOWS, PID, START_FRAME, STARTS,
                   SharedRing)
from .state import InputStatus

RING_SECONDS = 8.0           # what the ring holds: the analysis and a recorder may fall this far behind
LOST_AFTER = 0.5             # no block this long: the device (or its server) is gone
RETRY_EVERY = 1.0


class SharedStatus(InputStatus):
    """An input's status whose device counts live in the shared ring (written by the capture
    process's callback); the rest is the show's own."""

    def __init__(self, ring: SharedRing, device: str):
        self._ring = ring
        self.state = "starting"
        self.device = device
        self.latency_s = 0.0
        self.reconnects = 0
        self.gaps = []

    def freeze(self) -> None:
        """Keep the last counts (the ring is about to be closed)."""
        self._kept = (self.blocks, self.overflows, self.last_block_time, self.lapped, self.analysis_busy_s)
        self._ring = None

    _kept = (0, 0, 0.0, 0, 0.0)

    @property
    def lapped(self) -> int:
        """Hops the analysis (in the capture process) did not do: it had fallen behind, and went
        on from the newest sound instead."""
        return int(self._ring.count[LAPPED]) if self._ring is not None else self._kept[3]

    @lapped.setter
    def lapped(self, v):
        pass                                    # (counted in the capture process, in the ring)

    @property
    def analysis_busy_s(self) -> float:
        return float(self._ring.times[ANALYSIS_BUSY]) if self._ring is not None else self._kept[4]

    @property
    def blocks(self) -> int:
        return int(self._ring.count[BLOCKS]) if self._ring is not None else self._kept[0]

    @property
    def overflows(self) -> int:
        return int(self._ring.count[OVERFLOWS]) if self._ring is not None else self._kept[1]

    @property
    def last_block_time(self) -> float:
        return float(self._ring.times[LAST_BLOCK]) if self._ring is not None else self._kept[2]


class CaptureInput:
    """The live input, captured by a process of its own. Same face as the ring's other writers:
    ``ring``, ``doorbell``, ``status``, ``samplerate``, ``start()``, ``stop()``."""

    def __init__(self, device_spec, samplerate: int | None, blocksize: int, channels: int,
                 clock=_clock.now, ring_seconds: float = RING_SECONDS, players=(), hop: int = 256):
        from . import devices
        from .engine import Doorbell
        self.spec, self.blocksize, self.channels, self.clock = device_spec, blocksize, channels, clock
        dev = devices.resolve(device_spec, "inputs", channels)      # DeviceError names what is there
        self.device = dev
        self.samplerate = int(samplerate or dev["samplerate"])
        self.ring = SharedRing(channels, self.samplerate, ring_seconds, create=True)
        # the players' analysis runs in the capture process too, on an interpreter of its own:
        # its results come back through these feeds, in shared memory
        from .state import SharedFeeds
        self.players = [p for p in players if not getattr(p, "is_midi", False)]
        self.hop = hop
        self.shared_feeds = SharedFeeds([p.name for p in self.players], create=True) if self.players else None
        self.feeds = self.shared_feeds.feeds if self.shared_feeds else []
        self.doorbell = Doorbell()
        self.status = SharedStatus(self.ring, dev["name"])
        self.proc = None
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._supervise, name="stage-capture-watch", daemon=True)
        self._lines: list[dict] = []
        self._ready = threading.Event()

    # -- the capture process
    def _spawn(self):
        args = [sys.executable, "-m", "stage.audio.capture", "--shm", self.ring.name,
                "--channels", str(self.channels), "--rate", str(self.samplerate), "--block", str(self.blocksize),
                "--seconds", str(self.ring.capacity / self.samplerate), "--doorbell", str(self.doorbell.write_fd)]
        if self.spec is not None:
            args += ["--device", str(self.spec)]
        if self.players:
            args += ["--feeds", self.shared_feeds.name, "--hop", str(self.hop), "--players", json.dumps(
                [{"name": p.name, "channel": p.channel, "lowest": p.lowest, "highest": p.highest,
                  "gain_db": getattr(p, "gain_db", 0.0), "noise_floor": getattr(p, "noise_floor", None)}
                 for p in self.players])]
        self._ready.clear()
        self._lines = []
        # a session of its own: Ctrl-C and a terminal's hangup reach the show, which stops this
        # process cleanly (by closing its stdin), not this process half way through a block
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     pass_fds=(self.doorbell.write_fd,), env=dict(os.environ),
                                     start_new_session=True)
        proc = self.proc
        threading.Thread(target=self._read, args=(proc,), name="stage-capture-read", daemon=True).start()

    def _read(self, proc):
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if proc is self.proc:
                self._lines.append(msg)
                if "ready" in msg or "error" in msg:
                    self._ready.set()
        if proc is self.proc:
            self._ready.set()

    def _kill(self):
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()                 # the process ends when its stdin does
        except OSError:
            pass
        try:
            proc.wait(2.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(2.0)

    def _open(self, timeout: float = 15.0) -> dict:
        self._spawn()
        self._ready.wait(timeout)
        msg = next((m for m in self._lines if "ready" in m or "error" in m), None)
        if msg is None or "error" in msg:
            code = self.proc.poll() if self.proc else None
            self._kill()
            return msg or {"error": f"the capture process did not start (exit {code})"}
        self.status.latency_s = float(msg.get("latency", 0.0))
        self.status.device = msg.get("device", self.status.device)
        self.status.state = "running"
        return msg

    def start(self):
        from . import devices
        msg = self._open()
        if "error" in msg:
            raise devices.DeviceError(msg["error"], msg.get("setting", "device"))
        devices.let_go()           # this process needs no PortAudio of its own for the input
        self._watch.start()
        return self

    def _supervise(self):
        """Notice a device (or a whole sound server) that went away, and open it again, by name,
        in a new process; the picture goes on meanwhile and the players show NO INPUT."""
        lost_at = None
        while not self._stop.wait(0.1):
            now = self.clock()
            dead = self.proc is None or self.proc.poll() is not None
            stalled = now - self.status.last_block_time > LOST_AFTER
            if self.status.state == "running" and (dead or stalled):
                self.status.state = "lost"
                lost_at = now
                self._kill()
            if self.status.state != "lost" or self.clock() - (lost_at or 0) < 0.2:
                continue
            msg = self._open()
            if "error" in msg:
                self._kill()
                if self._stop.wait(RETRY_EVERY):
                    return
                continue
            self.status.reconnects += 1
            self.status.gaps.append((lost_at, self.clock()))

    def stop(self):
        """Stop capturing (the ring stays, for what is still to be read)."""
        self._stop.set()
        if self._watch.is_alive():
            self._watch.join(timeout=3)
        self._kill()

    def close(self):
        """Let go of the ring and the doorbell (after stop, and after its readers have stopped)."""
        self.stop()
        if self.ring.buf is not None:
            self.status.freeze()
            self.doorbell.close()
            self.ring.close(unlink=True)
            if self.shared_feeds is not None:
                self.shared_feeds.close(unlink=True)


# -- the capture process itself ------------------------------------------------------------

def _main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="python -m stage.audio.capture")
    ap.add_argument("--shm", required=True)
    ap.add_argument("--channels", type=int, required=True)
    ap.add_argument("--rate", type=int, required=True)
    ap.add_argument("--block", type=int, required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--doorbell", type=int, required=True)
    ap.add_argument("--device", default=None)
    ap.add_argument("--feeds", default=None)
    ap.add_argument("--hop", type=int, default=256)
    ap.add_argument("--players", default="[]")
    a = ap.parse_args(argv)

    def say(**msg):
        sys.stdout.write(json.dumps(msg) + "\n")
        sys.stdout.flush()

    ring = SharedRing(a.channels, a.rate, a.seconds, name=a.shm)
    ring.count[PID] = os.getpid()
    bell = a.doorbell
    os.set_blocking(bell, False)
    from . import devices
    sd = devices.sd
    spec = a.device
    if spec is not None and spec.strip().isdigit():
        spec = int(spec)
    try:
        dev = devices.resolve(spec, "inputs", a.channels)
    except devices.DeviceError as e:
        say(error=str(e), setting=e.setting)
        return 2
    state = {"prioritised": False}
    times, count = ring.times, ring.count
    bells = [bell]
    analysis = None
    players = json.loads(a.players)
    if a.feeds and players:                    # the players' analysis, here, beside the callback
        from types import SimpleNamespace

        from .engine import AnalysisThread, Doorbell
        from .state import InputStatus, SharedFeeds
        feeds = SharedFeeds([p["name"] for p in players], name=a.feeds)
        local = Doorbell()
        bells.append(local.write_fd)
        cfg = [SimpleNamespace(**p) for p in players]

        class RingStatus(InputStatus):          # what the analysis counts goes where the show reads it
            @property
            def lapped(self):
                return int(count[LAPPED])

            @lapped.setter
            def lapped(self, v):
                count[LAPPED] = v
        sys.setswitchinterval(0.0005)           # the callback waits at most this for the analysis
        analysis = AnalysisThread(ring, cfg, feeds.feeds, [p["channel"] - 1 for p in players], a.hop, local,
                                  RingStatus())
        analysis.cursor = ring.written                 # from what this process captures on
        analysis.start()

    def callback(indata, frames, time_info, status):
        t_now = _clock.now()
        if not state["prioritised"]:           # once, in the audio thread itself: the first block
            state["prioritised"] = True        # of this capture process, from the frame it starts at
            _clock.raise_thread_priority(-10)
            count[START_FRAME] = count[0]
            count[STARTS] += 1
        if status.input_overflow:
            count[OVERFLOWS] += 1
        adc, cur = time_info.inputBufferAdcTime, time_info.currentTime
        if cur > 0 and adc > 0 and 0 <= cur - adc < 1.0:
            t_first = t_now - (cur - adc)
        else:
            t_first = t_now - times[LATENCY] - frames / a.rate
        ring.write(indata, t_first + (frames - 1) / a.rate)
        times[LAST_BLOCK] = t_now
        for fd in bells:
            try:
                os.write(fd, b"\0")
            except OSError:
                pass

    ended = threading.Event()
    try:
        stream = sd.InputStream(device=dev["index"], channels=a.channels, samplerate=a.rate, blocksize=a.block,
                                dtype="float32", latency="low", callback=callback, finished_callback=ended.set)
        stream.start()
    except sd.PortAudioError as e:
        r = devices.refusal(dev, a.rate, a.channels, a.block, e)
        say(error=str(r), setting=r.setting)
        return 2
    times[LATENCY] = float(stream.latency)
    times[LAST_BLOCK] = _clock.now()
    say(ready=True, device=dev["name"], latency=float(stream.latency), samplerate=a.rate)
    # until the show closes our stdin (or goes away), or the stream ends (its device is gone)
    asked = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), asked.set(), ended.set()), daemon=True).start()
    while not ended.wait(0.25):
        if analysis is not None:
            times[ANALYSIS_BUSY] += analysis.busy_s - state.get("busy", 0.0)
            state["busy"] = analysis.busy_s
        if _clock.now() - times[LAST_BLOCK] > LOST_AFTER:
            break                              # no callbacks: the device or its server is gone
    if analysis is not None:
        analysis.stop()
    try:
        closed = devices.bounded(lambda: (stream.abort(ignore_errors=True), stream.close(ignore_errors=True)), 1.0)
        if closed and asked.is_set() and _clock.now() - times[LAST_BLOCK] < LOST_AFTER:
            # asked to stop, the server alive: leave it as a client should (a JACK server that runs
            # synchronously, jackd -S, otherwise waits its client timeout, 5 s, for us mid-cycle)
            devices.bounded(sd._terminate, 1.0)
    except Exception:
        pass
    ring.close()
    sys.stdout.flush()
    os._exit(0)                                # never wait in Pa_Terminate for a server that died


if __name__ == "__main__":
    raise SystemExit(_main())
