"""Where sound comes from: a live PortAudio input, or a recorded performance played in real time.

Both write the same ring and ring the same doorbell, so the analysis path is one.
Callbacks copy and return; they never allocate arrays, lock, print or touch files.
"""

from __future__ import annotations

import threading

import numpy as np
import soundfile as sf

from .. import clock as _clock
from . import devices
from .engine import Doorbell
from .ring import Ring
from .state import InputStatus

sd = devices.sd


def _close(stream, abort: bool = False) -> None:
    try:
        with devices.PA_LOCK:
            (stream.abort if abort else stream.stop)(ignore_errors=True)
            stream.close(ignore_errors=True)
    except Exception:
        pass


class LiveInput:
    """A sounddevice InputStream feeding the ring, reopened by name if the device goes away."""

    def __init__(self, device_spec, samplerate: int | None, blocksize: int, channels: int,
                 clock=_clock.now):
        self.spec, self.blocksize, self.channels, self.clock = device_spec, blocksize, channels, clock
        dev = devices.resolve(device_spec, "inputs", channels)
        self.device = dev
        self.samplerate = int(samplerate or dev["samplerate"])
        self.ring = Ring(channels, self.samplerate)
        self.doorbell = Doorbell()
        self.status = InputStatus()
        self.status.device = dev["name"]
        self.stream = None
        self._prioritised = False
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._supervise, name="stage-input-watch", daemon=True)

    # -- the callback: copy, stamp, ring, return
    def _callback(self, indata, frames, time_info, status):
        t_now = self.clock()
        if not self._prioritised:            # once, in the audio thread itself
            self._prioritised = True
            _clock.raise_thread_priority(-10)
        if status.input_overflow:
            self.status.overflows += 1
        adc, cur = time_info.inputBufferAdcTime, time_info.currentTime
        if cur > 0 and adc > 0 and 0 <= cur - adc < 1.0:
            t_first = t_now - (cur - adc)
        else:
            t_first = t_now - self.status.latency_s - frames / self.samplerate
        self.ring.write(indata, t_first + (frames - 1) / self.samplerate)
        self.status.blocks += 1
        self.status.last_block_time = t_now
        self.doorbell.ring()

    def _finished(self):
        if not self._stop.is_set():
            self.status.state = "lost"

    def _open(self):
        with devices.PA_LOCK:
            self.stream = sd.InputStream(device=self.device["index"], channels=self.channels,
                                         samplerate=self.samplerate, blocksize=self.blocksize,
                                         dtype="float32", latency="low", callback=self._callback,
                                         finished_callback=self._finished)
            self.stream.start()
        self.status.latency_s = float(self.stream.latency)
        self.status.state = "running"
        self.status.last_block_time = self.clock()

    def start(self):
        try:
            self._open()
        except sd.PortAudioError as e:
            raise devices.refusal(self.device, self.samplerate, self.channels, self.blocksize, e) from None
        self._watch.start()
        return self

    def _supervise(self):
        """Notice a device that went away (no callbacks, or the stream ended) and reopen it
        by name; the picture goes on meanwhile and players show 'no input'."""
        while not self._stop.wait(0.25):
            stalled = self.clock() - self.status.last_block_time > 0.5
            if self.status.state == "running" and stalled:
                self.status.state = "lost"
            if self.status.state != "lost":
                continue
            if self.stream is not None:
                stream, self.stream = self.stream, None
                if not devices.bounded(lambda s=stream: _close(s, abort=True), 1.0):
                    self.status.state = "lost: audio system not answering (restart to reconnect)"
                    return
            if self._stop.wait(1.0):
                return
            try:
                if not devices.bounded(devices.reinitialize, 3.0):
                    self.status.state = "lost: audio system not answering (restart to reconnect)"
                    return
                self.device = devices.resolve(self.spec, "inputs", self.channels)
                self._open()
            except Exception:
                self.status.state = "lost"

    def stop(self):
        self._stop.set()
        if self._watch.is_alive():
            self._watch.join(timeout=2)
        if self.stream is not None:
            stream, self.stream = self.stream, None
            devices.bounded(lambda: _close(stream, abort=self.status.state != "running"), 1.0)


def _nothing_to_release(self):
    """(The ring of an input in this process is its own memory: only its doorbell to close,
    once it is stopped and its readers are.)"""
    self.stop()
    self.doorbell.close()


LiveInput.close = _nothing_to_release


class Playback:
    """A recorded performance, fed to the ring in real time as if it were being played now,
    and heard through an output device where one exists (silent otherwise)."""

    def __init__(self, path, blocksize: int, output_spec=None, play_out: bool = True,
                 clock=_clock.now, loop: bool = True):
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
        self.path, self.samplerate, self.blocksize, self.clock, self.loop = path, int(sr), blocksize, clock, loop
        self.data = np.ascontiguousarray(data)
        self.channels = data.shape[1]
        self.ring = Ring(self.channels, self.samplerate)
        self.doorbell = Doorbell()
        self.status = InputStatus()
        self.status.device = f"recording {path.name if hasattr(path, 'name') else path}"
        self.pos = 0
        self._block = np.zeros((blocksize, self.channels), np.float32)
        self.stream = None
        self.output_name = None
        self._stop = threading.Event()
        self._thread = None
        self._output_spec, self._play_out = output_spec, play_out

    def _next_block(self, n: int) -> np.ndarray:
        out = self._block[:n]
        got = 0
        while got < n:
            take = min(n - got, len(self.data) - self.pos)
            out[got:got + take] = self.data[self.pos:self.pos + take]
            got += take
            self.pos += take
            if self.pos >= len(self.data):
                if not self.loop:
                    out[got:] = 0
                    break
                self.pos = 0
        return out

    def _out_callback(self, outdata, frames, time_info, status):
        t_now = self.clock()
        if status.output_underflow:
            self.status.overflows += 1
        block = self._next_block(frames)
        # heard now-ish: stamp with when the block's last sample reaches the speakers
        dac, cur = time_info.outputBufferDacTime, time_info.currentTime
        ahead = dac - cur if (cur > 0 and 0 <= dac - cur < 1.0) else 0.0
        self.ring.write(block, t_now + ahead + (frames - 1) / self.samplerate)
        # a simple stereo spread of the players for the room
        np.dot(block, self._pan, out=self._mix)
        outdata[:] = self._mix
        self.status.blocks += 1
        self.status.last_block_time = t_now
        self.doorbell.ring()

    def start(self):
        if self._play_out:
            try:
                dev = devices.resolve(self._output_spec, "outputs")
                nout = min(2, dev["outputs"])
                pan = np.zeros((self.channels, 2), np.float32)
                for c in range(self.channels):
                    x = 0.5 if self.channels == 1 else 0.25 + 0.5 * c / (self.channels - 1)
                    pan[c] = (np.cos(x * np.pi / 2), np.sin(x * np.pi / 2))
                if nout == 1:
                    pan[:, 0] = pan.sum(axis=1) * 0.5
                self._pan = np.ascontiguousarray(pan[:, :nout] * 0.8)
                self._mix = np.zeros((self.blocksize, nout), np.float32)
                with devices.PA_LOCK:
                    self.stream = sd.OutputStream(device=dev["index"], channels=nout, samplerate=self.samplerate,
                                                  blocksize=self.blocksize, dtype="float32", latency="low",
                                                  callback=self._out_callback)
                    devices.opened(self.stream)
                    self.stream.start()
                self.output_name = dev["name"]
                self.status.latency_s = float(self.stream.latency)
                self.status.state = "running"
                return self
            except (devices.DeviceError, sd.PortAudioError):
                self.stream = None          # no sound card: run silently
        self.status.state = "silent"
        self._thread = threading.Thread(target=self._paced, name="stage-playback", daemon=True)
        self._thread.start()
        return self

    def _paced(self):
        """No output device: feed blocks at the real-time pace of the clock."""
        period = self.blocksize / self.samplerate
        t_next = self.clock() + period
        while not self._stop.is_set():
            _clock.sleep_until(t_next, self.clock)
            block = self._next_block(self.blocksize)
            self.ring.write(block, t_next - 1.0 / self.samplerate)
            self.status.blocks += 1
            self.status.last_block_time = self.clock()
            self.doorbell.ring()
            t_next += period
            if self.clock() - t_next > 0.2:          # fell far behind (suspended): resync
                self.status.overflows += 1
                t_next = self.clock() + period

    def stop(self):
        self._stop.set()
        if self.stream is not None:
            stream, self.stream = self.stream, None
            devices.bounded(lambda: _close(stream), 1.0)
            devices.closed(stream)
        if self._thread is not None:
            self._thread.join(timeout=2)

    close = _nothing_to_release
