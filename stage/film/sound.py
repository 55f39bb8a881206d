"""The film's own sound, off by default: decoded for the loop ahead of time and played in step
with the transport (the picture leads; the sound follows it and jumps with it)."""

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
    """The film's own sound, following the transport: each cue's loop is decoded on a thread of
    its own before it is needed (``prepare``), and the output callback plays the loop of the cue
    the transport says is sounding, at the place it says, jumping with it on a new epoch (a
    locate, a nudge, a wrap, a switch) or when it has drifted 40 ms off."""

    def __init__(self, info, transport, output_spec=None):
        dev = devices.resolve(output_spec, "outputs")
        self.info, self.transport = info, transport
        self.samplerate = int(dev["samplerate"])
        self.buffers: dict[int, np.ndarray] = {}    # by cue (replaced whole: the callback reads it)
        self._wanted: dict[int, tuple] = {}
        self.pos = 0
        self._epoch = None
        self._cue = None
        self.nch = min(2, dev["outputs"])
        self.jumps = 0
        with devices.PA_LOCK:
            self.stream = sd.OutputStream(device=dev["index"], channels=self.nch, samplerate=self.samplerate,
                                          dtype="float32", callback=self._callback)

    def prepare(self, cue: int, loop) -> None:
        """Have cue ``cue``'s loop decoded (on a thread of its own; the callback plays silence
        for a cue whose sound is not ready)."""
        if cue in self.buffers or self._wanted.get(cue) == tuple(loop):
            return
        self._wanted[cue] = tuple(loop)

        def decode():
            data = decode_loop_audio(self.info, loop, self.samplerate)
            if self._wanted.get(cue) == tuple(loop):
                self.buffers = {**self.buffers, cue: data}
        import threading
        threading.Thread(target=decode, name="stage-film-sound-decode", daemon=True).start()

    def keep(self, cues) -> None:
        """Let go of the loops of cues no longer playing or waiting."""
        if any(c not in cues for c in self.buffers):
            self.buffers = {c: b for c, b in self.buffers.items() if c in cues}
        for c in [c for c in self._wanted if c not in cues]:
            del self._wanted[c]

    def _callback(self, outdata, frames, time_info, status):
        dac, cur = time_info.outputBufferDacTime, time_info.currentTime
        ahead = dac - cur if (cur > 0 and 0 <= dac - cur < 1.0) else 0.0
        p = self.transport.at(self.transport.clock() + ahead)   # where the film is when this is heard
        data = self.buffers.get(p.cue)
        if not p.playing or data is None:
            outdata.fill(0)
            self._epoch = None
            return
        n = len(data)
        want = int(p.offset * self.samplerate) % n
        if p.epoch != self._epoch or p.cue != self._cue or abs(want - self.pos) > self.samplerate * 0.04:
            self.pos = want                 # located, wrapped, switched or drifted: follow the picture
            self._epoch, self._cue = p.epoch, p.cue
            self.jumps += 1
        got = 0
        while got < frames:
            take = min(frames - got, n - self.pos)
            outdata[got:got + take] = data[self.pos:self.pos + take, :self.nch]
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
