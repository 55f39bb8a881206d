"""``stage render``: a take as the stage drew it, to a video file with its sound.

The stage's own renderer (stage.render.scene.Renderer, its layers, lanes and performance
view), on SDL's dummy driver, is driven frame by frame by a clock that stands still between
frames and steps one video frame at a time from the take's first sample:

- the **transport** follows the film's places the take recorded (stage.review.take.FilmClock:
  each stretch the film ran or stood, to a few ms), published whole (Transport.follow), so
  every layer that reads the transport (film, hit points and streamers, count-off, harmony,
  timecode window, title) sees what it saw that night;
- the **players' feeds** get each recorded analysis row (and each MIDI message from the
  take's log) once the clock passes its capture time, as the analysis thread handed them over
  then; the lanes read them in ``draw_late`` as on stage. (The take records no sample peak:
  the meter's peak mark follows the RMS level.)
- the **film** comes from the same file, decoded in step (no frame is dropped or held for
  lack of time) with the same PyAV conversion as the stage's decoder, so the same film frame
  is on screen;

then each frame goes to H.264 (libx264, yuv420p) and the take's audio, every input channel
panned across the stereo field (equal power, the first channel left, the last right), to
AAC, both through PyAV. The same take gives the same frames: nothing depends on wall time,
threads or the machine's speed.

What cannot be the same: the lanes on stage held what was played before the take began; a
render starts with them empty.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from ..takes import TakeError


class StepClock:
    """A clock that stands still until told to move (the render's one clock)."""

    def __init__(self, t: float):
        self.t = float(t)

    def __call__(self) -> float:
        return self.t


class StepFilm:
    """The film decoded in step with the render: ``frame_for(seq)`` returns exactly that frame,
    never one held for lack of time. A thread of its own decodes ahead, in the loop's order
    (in point to out point, again and again), converted as the stage's decoder converts them
    (stage.film.decoder.FilmDecoder._convert: FFmpeg's bilinear scaler, straight to BGRA at the
    picture's size); a jump (a locate, a held film) starts it again from the frame asked for.
    What it hands over depends only on the frame asked for, never on timing."""

    AHEAD = 6                                   # frames decoded ahead

    def __init__(self, info, loop: tuple[int, int], size: tuple[int, int]):
        self.info, self.size = info, tuple(size)
        self.loop_in, self.loop_out = loop
        self.length = self.loop_out - self.loop_in
        self.dropped = 0
        self.decoder = self                     # what FilmLayer.shown() reads (loop_in, length)
        self.current_seq, self.current = -1, None
        self._worker = None
        self._expect = None                     # the index the worker hands over next
        self._last = (None, None)

    # -- the decoding thread
    def _start(self, index: int) -> None:
        import queue
        import threading
        self._stop_worker()
        q: queue.Queue = queue.Queue(maxsize=self.AHEAD)
        stop = threading.Event()
        th = threading.Thread(target=self._decode, args=(index, q, stop), name="stage-render-film", daemon=True)
        self._worker = (th, q, stop)
        self._expect = index
        th.start()

    def _stop_worker(self) -> None:
        if self._worker is None:
            return
        th, q, stop = self._worker
        stop.set()
        while th.is_alive():
            try:
                q.get(timeout=0.01)
            except Exception:
                pass
        self._worker = None

    def _decode(self, index: int, q, stop) -> None:
        """Hand over every index from ``index`` on, in the loop's order, each exactly once (a
        frame missing in the file: the one before it again); an error is handed over too."""
        try:
            with av.open(str(self.info.path)) as c:
                st = c.streams.video[0]
                st.thread_type = "AUTO"
                t0 = st.start_time or 0
                fps = float(self.info.fps)
                want, last = index, None
                while not stop.is_set():
                    c.seek(max(t0, int(want / fps / float(st.time_base)) + t0), stream=st, backward=True,
                           any_frame=False)
                    for fr in c.decode(st):
                        idx = int(math.floor(float((fr.pts - t0) * st.time_base) * fps + 0.5)) if fr.pts is not None else -1
                        if idx < want:
                            if idx >= want - 1:
                                last = fr
                            continue
                        px = None
                        while want <= idx and want < self.loop_out:
                            src = fr if want == idx else last
                            px = self._convert(src) if src is not None else self._blank()
                            q.put((want, px))
                            if stop.is_set():
                                return
                            want += 1
                        last = fr
                        if want >= self.loop_out:
                            break
                    while want < self.loop_out:          # the file ended before the out point
                        q.put((want, self._convert(last) if last is not None else self._blank()))
                        want += 1
                    want, last = self.loop_in, None
        except Exception as e:                            # said where the frame is asked for
            q.put((None, e))

    def _convert(self, frame) -> np.ndarray:
        w, h = self.size
        return np.ascontiguousarray(frame.reformat(width=w, height=h, format="bgra",
                                                   interpolation="BILINEAR").to_ndarray())

    def _blank(self) -> np.ndarray:
        w, h = self.size
        a = np.zeros((h, w, 4), np.uint8)
        a[..., 3] = 255
        return a

    # -- the renderer's side
    def pixels(self, index: int) -> np.ndarray:
        """The file's frame ``index`` (inside the loop)."""
        if self._last[0] == index:
            return self._last[1]
        if self._worker is None or self._expect != index:
            self._start(index)
        _th, q, _stop = self._worker
        got, px = q.get(timeout=60)
        if got is None:
            raise TakeError(self.info.path, f"the film cannot be decoded: {px}")
        self._expect = got + 1 if got + 1 < self.loop_out else self.loop_in
        self._last = (got, px)
        return px

    def frame_for(self, seq: int, epoch=None):
        if seq != self.current_seq:
            self.current_seq = seq
            self.current = self.pixels(self.loop_in + seq % self.length)
        return self.current_seq, self.current

    @property
    def ready(self) -> bool:
        return True

    def close(self) -> None:
        self._stop_worker()


class StepDirector:
    """What the renderer asks for the film's player: the take's cue, decoded in step."""

    def __init__(self, film, cue: int, size):
        self.film, self.cue = film, cue
        self.player = StepFilm(film.info, film.cues[cue].loop, size)
        self.pending = None

    def player_for(self, cue: int):
        return self.player if cue == self.cue else None

    def stop(self) -> None:
        self.player.close()


@dataclass
class _Row:
    """One recorded analysis row, as a feed takes it (stage.audio.analysis.Frame's fields)."""
    f0_hz: float
    confidence: float
    level_db: float
    peak_db: float
    onset: bool


def stereo_mix(audio: np.ndarray) -> np.ndarray:
    """Every channel panned across the stereo field (equal power; one channel: the middle),
    scaled down only if the mix would clip. Returns (2, frames) float32."""
    n, ch = audio.shape
    pans = np.linspace(0.0, 1.0, ch) if ch > 1 else np.array([0.5])
    left = np.cos(pans * np.pi / 2)
    right = np.sin(pans * np.pi / 2)
    out = np.stack([audio @ left, audio @ right]).astype(np.float32)
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > 0.99:
        out *= 0.99 / peak
    return out


def take_sound(take) -> np.ndarray:
    """The take's audio on its own timeline (a gap the manifest notes is silence), stereo."""
    path = take.file("audio")
    if path is None or not path.exists():
        return np.zeros((2, 0), np.float32)
    audio = take.audio()
    parts, prev = [], 0
    for g in sorted(take.manifest.get("gaps", []) or [], key=lambda g: g.get("audio_frame", 0)):
        f = int(g.get("audio_frame", 0))
        parts += [audio[prev:f], np.zeros((int(round(float(g.get("seconds", 0)) * take.samplerate)), audio.shape[1]),
                                          np.float32)]
        prev = f
    parts.append(audio[prev:])
    return stereo_mix(np.concatenate(parts) if len(parts) > 1 else audio)


def film_for(take):
    """The take's film with its cues (from the session), or from the manifest alone."""
    if take.film is not None and take.cue is not None:
        return take.film, int(take.manifest.get("cue_index", 0) or 0)
    from pathlib import Path

    from ..film.decoder import FilmError, probe
    from ..runtime import Cue, Film
    path = Path(take.manifest["film"].get("path", ""))
    try:
        info = probe(path)
    except FilmError as e:
        raise TakeError(take.folder, f"its film cannot be read (manifest key film.path): {e}") from None
    cue = Cue(str(take.manifest.get("cue", "")), take.loop, [])
    return Film(info, take.loop, take.tc, [cue]), 0


class TakeRenderer:
    """The stage's renderer driven from a take; ``frame(k)`` draws video frame ``k`` (in order)."""

    def __init__(self, take, size=(1280, 720), view: str = "studio", fps: int = 30, window=None):
        from ..audio.state import PlayerFeed
        from ..control.controller import ViewState
        from ..film.transport import Transport
        from ..midi.players import MidiFeed
        from ..render.scene import Renderer, ViewOptions
        from ..render.window import Window
        self.take, self.fps = take, int(fps)
        self.film, self.cue = film_for(take)
        d = take.session.display if take.session is not None else None
        self.opt = ViewOptions(size=tuple(size), fullscreen=False, headless=True, fps=self.fps, vsync=False,
                               timecode=d.timecode if d else "off", timecode_size=d.timecode_size if d else 1.0,
                               feet_frames=d.feet_frames if d else False, latency_ms=d.latency_ms if d else 0.0,
                               analysis_offset_ms=d.analysis_offset_ms if d else 0.0, a4=d.a4 if d else 440.0,
                               mode=view)
        self.window = window or Window(self.opt, self.film.info.fps)
        self.screen = self.window.screen
        self.t_start = take.t0
        self.clock = StepClock(self.t_start)
        loop = self.film.cues[self.cue].loop
        self.transport = Transport(self.film.info.fps, loop, cue=self.cue, clock=self.clock)
        self.players = list(take.players)
        self.feeds = [MidiFeed(p.name, p.midi_channel, p.bend_range) if p.is_midi else PlayerFeed(p.name)
                      for p in self.players]
        self._rows, self._msgs = [], []
        for p, f in zip(self.players, self.feeds):
            if p.is_midi:
                f.set_connected(True)
                self._msgs.append((f, take.player_messages(p), [0]))
            else:
                a = np.sort(take.analysis(p.name), order="t_capture")
                self._rows.append((f, a, [0]))
        self.director = StepDirector(self.film, self.cue, self._film_size())
        self.renderer = Renderer(self.players, self.feeds, self.film, self.director, self.transport, self.opt)
        self.renderer.resize(self.window.size)
        self.view = ViewState(view=view, hud=False, ghost=False)
        self._segment = None
        self._epoch = 0

    def _film_size(self):
        from ..film.decoder import fit_rect
        x, y, w, h = fit_rect(self.film.info.aspect, self.window.size)
        return w, h

    def time_of(self, k: int) -> float:
        return self.t_start + k / self.fps

    def frames(self) -> int:
        return max(1, int(math.floor(self.take.seconds * self.fps)))

    def _follow(self, t_film: float) -> None:
        from ..film.transport import Segment
        seg = self.take.clock.segment_at(t_film)
        if seg is self._segment:
            return
        self._segment = seg
        self._epoch += 1
        loop = self.film.cues[self.cue].loop
        fps = float(self.film.info.fps)
        length = loop[1] - loop[0]
        if seg.playing:
            new = Segment(self._epoch, self.cue, loop[0], length, fps, True, seg.T, 0.0, 1, seg.T)
        else:
            q = seg.seq
            new = Segment(self._epoch, self.cue, loop[0], length, fps, False, max(seg.t_from, self.t_start - 1),
                          (q % length + 0.5) / fps, q // length + 1, self.t_start)
        self.transport.follow(new)

    def _feed(self, t: float) -> None:
        for feed, a, at in self._rows:
            i = at[0]
            tc = a["t_capture"]
            while i < len(a) and tc[i] <= t:
                r = a[i]
                level = float(r["level_db"])
                feed.push(float(r["t_capture"]), _Row(float(r["f0_hz"]), float(r["confidence"]), level, level,
                                                      bool(r["onset"])), float(r["t_capture"]))
                i += 1
            at[0] = i
        for feed, msgs, at in self._msgs:
            i = at[0]
            while i < len(msgs) and msgs[i][0] <= t:
                feed.take(msgs[i][0], msgs[i][1])
                i += 1
            at[0] = i

    def frame(self, k: int):
        """Draw video frame ``k`` (frames are drawn in order); returns its FrameState."""
        t = self.time_of(k)
        self.clock.t = t
        self._follow(t + self.opt.latency_ms / 1000.0)
        self._feed(t)
        fs = self.renderer.state(t, self.view, None)
        self.renderer.draw_early(self.screen, fs)
        self.renderer.draw_late(self.screen, fs)
        return fs

    def rgb(self) -> np.ndarray:
        """The picture as (h, w, 3) RGB."""
        import pygame
        w, h = self.screen.get_size()
        return np.frombuffer(pygame.image.tobytes(self.screen, "RGB"), np.uint8).reshape(h, w, 3)

    def pixels(self) -> tuple[np.ndarray, str]:
        """A copy of the picture as it is in memory (one copy, no conversion) and its PyAV
        format: the screen's 32-bit pixels, in the byte order its masks give."""
        surf = self.screen
        w, h = surf.get_size()
        if surf.get_bytesize() != 4:
            return self.rgb().copy(), "rgb24"
        order = {0x00FF0000: "bgra", 0x000000FF: "rgba"}.get(surf.get_masks()[0])
        if order is None:
            return self.rgb().copy(), "rgb24"
        buf = np.frombuffer(surf.get_buffer(), np.uint8).reshape(h, surf.get_pitch())[:, :4 * w]
        return np.array(buf.reshape(h, w, 4)), order

    def close(self) -> None:
        self.director.stop()


class _Encoder:
    """H.264 and AAC through PyAV on a thread of its own (PyAV lets go of the GIL while the
    codecs work), so the next frame is drawn while this one is encoded; the queue between
    them is short, so memory stays small and the order is kept."""

    def __init__(self, out, size, fps: int, sound: np.ndarray, samplerate: int, crf: int, preset: str):
        import queue
        import threading
        self.fps, self.sound, self.sr = fps, sound, samplerate
        self.container = av.open(str(out), "w")
        vs = self.container.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        vs.options = {"crf": str(crf), "preset": preset}
        vs.codec_context.time_base = Fraction(1, fps)
        self.vs = vs
        self.audio = self.container.add_stream("aac", rate=samplerate, layout="stereo") if sound.shape[1] else None
        self.sent = 0
        self.error: BaseException | None = None
        self.q: queue.Queue = queue.Queue(maxsize=3)
        self.thread = threading.Thread(target=self._run, name="stage-render-encode", daemon=True)
        self.thread.start()

    def put(self, k: int, pixels: np.ndarray, fmt: str = "rgb24") -> None:
        if self.error is not None:
            raise self.error
        self.q.put((k, pixels, fmt))

    def _sound_until(self, upto: int, last: bool) -> None:
        chunk = 1024
        snd = self.sound
        while self.sent + chunk <= upto or (last and self.sent < snd.shape[1]):
            block = snd[:, self.sent:self.sent + chunk]
            if block.shape[1] < chunk:
                block = np.pad(block, ((0, 0), (0, chunk - block.shape[1])))
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout="stereo")
            af.sample_rate, af.pts = self.sr, self.sent
            for pkt in self.audio.encode(af):
                self.container.mux(pkt)
            self.sent += chunk

    def _run(self) -> None:
        try:
            while True:
                item = self.q.get()
                if item is None:
                    break
                k, px, fmt = item
                vf = av.VideoFrame.from_ndarray(px, format=fmt)
                vf.pts = k
                for pkt in self.vs.encode(vf):
                    self.container.mux(pkt)
                if self.audio is not None:          # the sound up to this frame's end
                    self._sound_until(min(self.sound.shape[1], int(round((k + 1) / self.fps * self.sr))), False)
            for pkt in self.vs.encode():
                self.container.mux(pkt)
            if self.audio is not None:
                self._sound_until(self.sound.shape[1], True)
                for pkt in self.audio.encode():
                    self.container.mux(pkt)
        except BaseException as e:                  # said by the next put() or by close()
            self.error = e
            while True:                             # let the drawing side finish
                try:
                    if self.q.get_nowait() is None:
                        break
                except Exception:
                    break

    def close(self) -> None:
        try:
            self.q.put(None, timeout=60)
        except Exception:
            pass
        self.thread.join()
        self.container.close()
        if self.error is not None:
            raise self.error


def render_take(take, out, size=(1280, 720), view: str = "studio", fps: int | None = None,
                progress: bool = False, crf: int = 18, preset: str = "superfast") -> dict:
    """Write the take to ``out`` (H.264 + AAC); returns what was done and how fast."""
    if fps is None:
        fps = 30
    if not 1 <= fps <= 120:
        raise ValueError(f"--fps must be 1-120, got {fps}")
    w, h = size
    if w % 2 or h % 2 or w < 64 or h < 64:
        raise ValueError(f"--size must be even and at least 64x64 (H.264 in yuv420p), got {w}x{h}")
    t_begin, cpu_begin, main_begin = time.perf_counter(), time.process_time(), time.thread_time()
    tr = TakeRenderer(take, size, view, fps)
    sound = take_sound(take)
    n = tr.frames()
    enc = _Encoder(out, size, fps, sound, take.samplerate, crf, preset)
    bar = None
    try:
        if progress:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
            bar = Progress(TextColumn(f"rendering {take.folder.name}"), BarColumn(),
                           TextColumn("{task.completed}/{task.total} frames"), TimeRemainingColumn(), transient=True)
            bar.start()
            task = bar.add_task("render", total=n)
        for k in range(n):
            tr.frame(k)
            enc.put(k, *tr.pixels())
            if bar is not None:
                bar.update(task, completed=k + 1)
    finally:
        if bar is not None:
            bar.stop()
        try:
            enc.close()
        finally:
            tr.close()
    took = time.perf_counter() - t_begin
    video_s = n / fps
    return {"out": str(out), "frames": n, "fps": fps, "size": f"{w}x{h}", "view": view, "video_s": round(video_s, 3),
            "render_s": round(took, 3), "speed_x_realtime": round(video_s / took, 2) if took > 0 else None,
            "cpu_s": round(time.process_time() - cpu_begin, 3),                # every thread (film, draw, encode)
            "draw_thread_cpu_s": round(time.thread_time() - main_begin, 3)}    # the drawing thread alone
