"""A second JACK client that plays known tones into the inputs stage has opened."""

from __future__ import annotations

import threading
import time

import jack
import numpy as np


class Injector:
    def __init__(self, server: str, channels: int, name: str = "stage-injector"):
        self.client = jack.Client(name, servername=server, no_start_server=True)
        self.sr = self.client.samplerate
        self.ports = [self.client.outports.register(f"out_{i + 1}") for i in range(channels)]
        self.freqs = np.zeros(channels)
        self.amp = 0.3
        self.phase = np.zeros(channels)
        self.playing = False
        self.start_frame = None          # JACK frame time of the first sample played
        self._lock = threading.Lock()
        self.client.set_process_callback(self._process)
        self.client.activate()

    def _process(self, frames):
        if self.playing and self.start_frame is None:
            # when this cycle began, on CLOCK_MONOTONIC_RAW (the clock JACK keeps time on)
            self.start_time = time.clock_gettime(time.CLOCK_MONOTONIC_RAW) - self.client.frames_since_cycle_start / self.sr
            self.start_frame = self.client.last_frame_time
        for i, p in enumerate(self.ports):
            buf = p.get_array()
            f = self.freqs[i]
            if not self.playing or f <= 0:
                buf.fill(0)
                continue
            ph = self.phase[i] + 2 * np.pi * f * np.arange(1, frames + 1) / self.sr
            buf[:] = self.amp * (np.sin(ph) + 0.4 * np.sin(2 * ph)) / 1.4
            self.phase[i] = ph[-1] % (2 * np.pi)

    def wait_for_ports(self, pattern: str, count: int, timeout: float = 20.0) -> list[str]:
        t_end = time.monotonic() + timeout
        while time.monotonic() < t_end:
            ports = [p.name for p in self.client.get_ports(pattern, is_audio=True, is_input=True)]
            if len(ports) >= count:
                return sorted(ports, key=lambda n: int(n.rsplit("_", 1)[1]))
            time.sleep(0.05)
        raise TimeoutError(f"no {count} input ports matching {pattern!r} appeared in {timeout} s")

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

    def close(self):
        self.client.deactivate()
        self.client.close()
