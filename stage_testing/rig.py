"""Test and benchmark rig: a JACK dummy server, Xvfb, and a second JACK client that plays
known tones into the inputs stage has opened. Needs the [test] extra (JACK-Client)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from stage.clock import raise_thread_priority


def start_jack(channels: int = 8, rate: int = 48000, period: int = 256, name: str | None = None,
               sync: bool = True):
    """Start ``jackd -d dummy`` under a name of its own; returns (name, process). ``sync``: the
    server waits for every client each cycle (jackd -S), so a client that is late on a loaded
    machine delays the cycle instead of losing or reordering what it passes on; what stage
    itself loses then shows, not what the machine did to the test's own clients."""
    name = name or f"stage-{uuid.uuid4().hex[:8]}"
    for attempt in range(2):
        log = open(os.path.join(tempfile.gettempdir(), f"{name}-jackd.log"), "w")   # never a pipe nobody reads
        proc = subprocess.Popen([shutil.which("jackd") or "jackd", "--no-realtime", *(["-S"] if sync else []),
                                 "-n", name, "-d", "dummy",
                                 "-r", str(rate), "-p", str(period), "-C", str(channels), "-P", str(channels)],
                                stdout=log, stderr=subprocess.STDOUT, text=True)
        proc.log_path = log.name
        try:
            wait_for_jack(name, proc)
            return name, proc
        except RuntimeError as e:
            if attempt or "Too many servers" not in str(e) or not reclaim_dead_servers():
                raise
    raise AssertionError("unreachable")


def reclaim_dead_servers() -> int:
    """Free the places of JACK servers that died without saying so (killed, or crashed while
    stopping): JACK keeps eight, and takes one back only from a server of the same name, so a
    machine that ran many short-lived servers under names of their own runs out ("Too many
    servers already active"). Returns how many were freed. (The layout is JACK 2's shm registry
    header: 24 bytes, then eight entries of 264: a pid and the server's name.)"""
    import mmap
    import struct
    path = "/dev/shm/jack-shm-registry"
    freed = 0
    try:
        with open(path, "r+b") as f, mmap.mmap(f.fileno(), 0) as mm:
            if mm[:4] != b"KCAJ":
                return 0
            for i in range(8):
                off = 24 + i * 264
                pid, = struct.unpack_from("<i", mm, off)
                if pid <= 0 or not bytes(mm[off + 4:off + 11]) == b"jack-0:":
                    continue
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    mm[off:off + 264] = bytes(264)
                    freed += 1
                except PermissionError:
                    pass
    except OSError:
        return 0
    return freed


def wait_for_jack(name: str, proc=None, timeout: float = 10.0) -> None:
    """Wait until the server answers. Probed with jack_lsp in a process of its own: libjack
    cannot be a client of two servers in one process (it crashes), so a test process must
    not touch a second server it only wants to start and stop."""
    t_end = time.monotonic() + timeout
    lsp = shutil.which("jack_lsp") or "jack_lsp"
    while time.monotonic() < t_end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"jackd {name} exited: {open(proc.log_path).read()[-2000:]}")
        if subprocess.run([lsp, "-s", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          env=dict(os.environ, JACK_NO_START_SERVER="1")).returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"jackd {name} did not come up in {timeout} s")


def start_xvfb(size=(1920, 1080)):
    """Start Xvfb on a free display; returns (display, process)."""
    for n in range(150, 250):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            break
    disp = f":{n}"
    proc = subprocess.Popen([shutil.which("Xvfb") or "Xvfb", disp, "-screen", "0", f"{size[0]}x{size[1]}x24",
                             "-nolisten", "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t_end = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{n}").exists():
        if proc.poll() is not None or time.monotonic() > t_end:
            proc.kill()
            raise RuntimeError("Xvfb did not start")
        time.sleep(0.05)
    return disp, proc


def stop(proc) -> None:
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()


PA_IN = r"PortAudio[-0-9]*:in_"      # stage's input ports, whatever number PortAudio's client got
PA_OUT = r"PortAudio[-0-9]*:out_"


def wait_for_ports(client, pattern: str, count: int, timeout: float, inputs: bool, before=()) -> list[str]:
    """Wait until ``count`` new audio ports matching ``pattern`` (a regular expression) exist,
    leaving out those in ``before``; their names, in number order. (PortAudio names its JACK
    client "PortAudio", or "PortAudio-01" and so on when that name is taken.)"""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        ports = [p.name for p in client.get_ports(pattern, is_audio=True, is_input=inputs, is_output=not inputs)
                 if p.name not in before]
        if len(ports) >= count:
            return sorted(ports, key=lambda n: int(n.rsplit("_", 1)[1]))
        time.sleep(0.05)
    raise TimeoutError(f"no {count} {'input' if inputs else 'output'} ports matching {pattern!r} appeared in {timeout} s")


def wait_connected(client, port: str, timeout: float = 20.0) -> bool:
    """Wait until something is connected to ``port`` (e.g. stage to a MIDI port)."""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        try:
            if client.get_all_connections(port):
                return True
        except Exception:
            pass
        time.sleep(0.05)
    return False


class Injector:
    def __init__(self, server: str, channels: int, name: str = "stage-injector"):
        import jack
        self.client = jack.Client(name, servername=server, no_start_server=True)
        self.sr = self.client.samplerate
        self.ports = [self.client.outports.register(f"out_{i + 1}") for i in range(channels)]
        self.freqs = np.zeros(channels)
        self.amp = 0.3
        self.phase = np.zeros(channels)
        self.playing = False
        self.start_frame = None          # JACK frame time of the first sample played
        self.start_time = None
        self._events: list = []          # (t_raw, freqs) still to apply, in time order
        self.applied: list = []          # (t_cycle_start, freqs) as applied
        self._prioritised = False
        self.counting = False            # play_counter(): every sample says which it is
        self.counter_channel = None      # or only this channel (the others play tones)
        self.counted = 0
        self.existing = {p.name for p in self.client.get_ports()}     # ports already there: not stage's
        self.client.set_process_callback(self._process)
        self.client.activate()

    recording = None                 # play_loop(): a (frames, channels) recording played in a loop
    looped = 0

    def play_loop(self, recording: np.ndarray) -> None:
        """Play ``recording`` (frames x channels, float32 at the server's rate) round and round,
        channel k into port k (a recording with fewer channels than ports repeats them)."""
        self.looped = 0
        self.recording = np.ascontiguousarray(recording, dtype=np.float32)
        self.playing = True

    def play_counter(self) -> None:
        """Play known samples: sample n of channel c is counter_samples(n, c), so a recording
        says, sample by sample, which it holds (see counted_index)."""
        self.counted = 0
        self.counting = True

    missed = 0                       # cycles this client itself missed (JACK's frame time jumped)
    missed_at: list = []

    def _process(self, frames):
        if not self._prioritised:      # stands in for a sound card: it must not be the one that is late
            self._prioritised = True
            raise_thread_priority(-10)
            self.missed_at = []
        ft = self.client.last_frame_time
        prev = getattr(self, "_prev_ft", None)
        if prev is not None and ft - prev != frames:
            self.missed += 1
            self.missed_at.append((prev, ft))
        self._prev_ft = ft
        if self._events:
            t_cycle = time.clock_gettime(time.CLOCK_MONOTONIC_RAW) - self.client.frames_since_cycle_start / self.sr
            if self._events[0][0] <= t_cycle:
                t, freqs = self._events.pop(0)
                self.freqs[:] = freqs
                self.playing = True
                self.applied.append((t_cycle, np.array(freqs)))
        if self.playing and self.start_frame is None:
            # when this cycle began, on CLOCK_MONOTONIC_RAW (the clock JACK keeps time on)
            self.start_time = time.clock_gettime(time.CLOCK_MONOTONIC_RAW) - self.client.frames_since_cycle_start / self.sr
            self.start_frame = self.client.last_frame_time
        if self.recording is not None:              # recorded sound, round and round
            rec, n = self.recording, len(self.recording)
            idx = (self.looped + np.arange(frames)) % n
            for i, p in enumerate(self.ports):
                p.get_array()[:] = rec[idx, i % rec.shape[1]]
            self.looped += frames
            return
        if self.counting:
            idx = self.counted + np.arange(frames)
            for i, p in enumerate(self.ports):
                p.get_array()[:] = counter_samples(idx, i)
            self.counted += frames
            return
        if self.counter_channel is not None:        # one channel of known samples beside the tones
            p = self.ports[self.counter_channel]
            p.get_array()[:] = counter_samples(self.counted + np.arange(frames), self.counter_channel)
            self.counted += frames
        for i, p in enumerate(self.ports):
            if i == self.counter_channel:
                continue
            buf = p.get_array()
            f = self.freqs[i]
            if not self.playing or f <= 0:
                buf.fill(0)
                continue
            ph = self.phase[i] + 2 * np.pi * f * np.arange(1, frames + 1) / self.sr
            buf[:] = self.amp * (np.sin(ph) + 0.4 * np.sin(2 * ph)) / 1.4
            self.phase[i] = ph[-1] % (2 * np.pi)

    def wait_for_ports(self, pattern: str, count: int, timeout: float = 20.0) -> list[str]:
        """Input ports of another client (stage's PortAudio inputs) to play into."""
        return wait_for_ports(self.client, pattern, count, timeout, inputs=True, before=self.existing)

    def take_over(self, targets: list[str]) -> None:
        """Disconnect whatever feeds ``targets`` (PortAudio connects system:capture_* itself),
        then connect our outputs to them, one to one."""
        for t in targets:
            for src in self.client.get_all_connections(t):
                self.client.disconnect(src, t)
        for ours, t in zip(self.ports, targets):
            self.client.connect(ours, t)

    def play(self, freqs) -> float:
        """Start the tones; returns when (s, CLOCK_MONOTONIC_RAW) the cycle holding the first sample began."""
        self.freqs[:len(freqs)] = freqs
        self.playing = True
        t_end = time.monotonic() + 2
        while self.start_frame is None and time.monotonic() < t_end:
            time.sleep(0.001)
        return self.start_time

    def schedule(self, events) -> None:
        """Change the tones at given times (s, CLOCK_MONOTONIC_RAW): each change lands at the start
        of the first JACK cycle at or after its time, and is recorded in ``applied``."""
        self._events = sorted(events, key=lambda e: e[0])

    def close(self):
        self.client.deactivate()
        self.client.close()


COUNTER_PERIOD = 1 << 20          # samples before the counter comes round (21.8 s at 48 kHz)


def counter_samples(n, channel: int) -> np.ndarray:
    """The known sample at index ``n`` of ``channel``: exact in float32 (an integer below 2^24,
    times 2^-24), different on every channel and every sample of a period, under 0.125 full scale."""
    n = np.asarray(n, np.int64)
    return (((n % COUNTER_PERIOD) + channel * COUNTER_PERIOD).astype(np.float64) * 2.0 ** -24).astype(np.float32)


def counted_index(samples: np.ndarray, channel: int) -> np.ndarray:
    """Which counter sample each recorded sample is (-1 where it is not one, bit for bit)."""
    k = np.round(samples.astype(np.float64) * 2.0 ** 24).astype(np.int64) - channel * COUNTER_PERIOD
    ok = (k >= 0) & (k < COUNTER_PERIOD)
    ok &= counter_samples(np.where(ok, k, 0), channel) == samples
    return np.where(ok, k, -1)


class Listener:
    """A JACK client that records what other clients play into its inputs."""

    def __init__(self, server: str, channels: int, seconds: float = 10.0, name: str = "stage-listener"):
        import jack
        self.client = jack.Client(name, servername=server, no_start_server=True)
        self.sr = self.client.samplerate
        self.ports = [self.client.inports.register(f"in_{i + 1}") for i in range(channels)]
        self.buf = np.zeros((int(seconds * self.sr), channels), np.float32)
        self.pos = 0
        self.existing = {p.name for p in self.client.get_ports()}     # ports already there: not stage's
        self.client.set_process_callback(self._process)
        self.client.activate()

    def _process(self, frames):
        n = min(frames, len(self.buf) - self.pos)
        for i, p in enumerate(self.ports):
            self.buf[self.pos:self.pos + n, i] = p.get_array()[:n]
        self.pos += n

    def listen_to(self, sources: list[str]) -> None:
        for src, ours in zip(sources, self.ports):
            self.client.connect(src, ours)

    def wait_for_ports(self, pattern: str, count: int, timeout: float = 20.0, inputs: bool = False) -> list[str]:
        """Output ports of another client (stage's PortAudio outputs) to listen to."""
        return wait_for_ports(self.client, pattern, count, timeout, inputs=inputs, before=self.existing)

    def new_ports(self, pattern: str) -> list[str]:
        """Ports matching ``pattern`` that were not there when this client started."""
        return [p.name for p in self.client.get_ports(pattern) if p.name not in self.existing]

    def recorded(self) -> np.ndarray:
        return self.buf[:self.pos].copy()

    def close(self):
        self.client.deactivate()
        self.client.close()


def main(argv=None) -> int:
    """`python -m stage_testing.rig inject SERVER HZ [HZ ...]`: play steady tones into stage's inputs
    (one per channel) until killed, from a process of its own."""
    import argparse
    import signal
    ap = argparse.ArgumentParser(prog="python -m stage_testing.rig")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("inject")
    p.add_argument("server")
    p.add_argument("hz", type=float, nargs="+")
    a = ap.parse_args(argv)
    inj = Injector(a.server, len(a.hz))
    inj.take_over(wait_for_ports(inj.client, PA_IN, len(a.hz), 20.0, inputs=True))   # (there already, or to come)
    inj.play(a.hz)
    print("playing", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
