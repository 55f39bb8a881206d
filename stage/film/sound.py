"""The film's own sound, off by default: decoded for the loop ahead of time and played in step
with the film clock (the clock leads; the sound follows it and jumps when it is nudged)."""

from __future__ import annotations

import av
import numpy as np

from ..audio import devices

sd = devices.sd


def decode_loop_audio(info, loop, samplerate: int) -> np.ndarray:
    """The loop's audio as (frames, 2) float32 at ``samplerate``."""
    fps = float(info.fps)
    t_in, t_out = loop[0] / fps, loop[1] / fps
    chunks = []
    with av.open(str(info.path)) as c:
        s = c.streams.audio[0]
        res = av.AudioResampler(format="flt", layout="stereo", rate=samplerate)
        c.seek(int(max(0.0, t_in - 0.5) / float(s.time_base)), stream=s, backward=True)
        start = None
        for frame in c.decode(s):
            if frame.pts is None:
                continue
            t = float(frame.pts * s.time_base)
            if t > t_out:
                break
            for out in res.resample(frame):
                if start is None:
                    start = t
                chunks.append(out.to_ndarray().reshape(-1, 2))
    if not chunks:
        return np.zeros((1, 2), np.float32)
    x = np.concatenate(chunks).astype(np.float32)
    skip = max(0, int(round((t_in - start) * samplerate)))
    n = int(round((t_out - t_in) * samplerate))
    x = x[skip:skip + n]
    if len(x) < n:
        x = np.concatenate([x, np.zeros((n - len(x), 2), np.float32)])
    return x


class FilmSound:
    def __init__(self, info, loop, film_clock, output_spec=None):
        dev = devices.resolve(output_spec, "outputs")
        self.samplerate = int(dev["samplerate"])
        self.data = decode_loop_audio(info, loop, self.samplerate)
        self.clock = film_clock
        self.pos = 0
        self.nch = min(2, dev["outputs"])
        with devices.PA_LOCK:
            self.stream = sd.OutputStream(device=dev["index"], channels=self.nch, samplerate=self.samplerate,
                                          dtype="float32", callback=self._callback)

    def _callback(self, outdata, frames, time_info, status):
        n = len(self.data)
        if not self.clock.playing:
            outdata.fill(0)
            return
        want = int(self.clock.position() * self.samplerate) % n
        if abs(want - self.pos) > self.samplerate * 0.04 and abs(want - self.pos) < n - self.samplerate * 0.04:
            self.pos = want                 # nudged or drifted: follow the picture
        got = 0
        while got < frames:
            take = min(frames - got, n - self.pos)
            outdata[got:got + take] = self.data[self.pos:self.pos + take, :self.nch]
            got += take
            self.pos = (self.pos + take) % n

    def start(self):
        with devices.PA_LOCK:
            self.stream.start()
        return self

    def stop(self):
        with devices.PA_LOCK:
            self.stream.stop(ignore_errors=True)
            self.stream.close(ignore_errors=True)
