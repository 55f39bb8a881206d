"""Decoding the film loop away from the draw thread (PyAV / FFmpeg).

Frames are converted by FFmpeg straight to the size they are shown at, in BGRA: the same
32-bit layout as the screen, so a blit is a copy. The loop's first ``head`` frames are kept
decoded for good; the rest of the loop streams through a short queue. At the out point the
decoder seeks back to the frame after the head while the head plays from memory, so the wrap
never waits on a seek (seeks on long GOPs can take most of a second).
"""

from __future__ import annotations

import collections
import math
import os
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..clock import place_thread
from .timecode import EmbeddedTimecode, TimecodeError, TimecodeFormat


def _why(e: BaseException) -> str:
    """An FFmpeg or OS error in words, without the call it came from."""
    why = getattr(e, "strerror", None)         # (FFmpeg's errors carry theirs too)
    return str(why) if why else (str(e) or type(e).__name__)


class FilmError(RuntimeError):
    """A film that cannot be used, naming the file; ``point`` is "in" or "out" where a loop
    point is at fault."""

    def __init__(self, *args, point: str | None = None):
        super().__init__(*args)
        self.point = point


@dataclass
class FilmInfo:
    path: Path
    fps: Fraction
    width: int
    height: int
    aspect: float            # display aspect ratio (sample aspect applied)
    frames: int              # frames in the file
    has_audio: bool
    timecode: EmbeddedTimecode | None = None   # the start timecode the file carries, and where
    truncated_at: int | None = None            # the first frame whose data the file's index says is past its end

    @property
    def duration(self) -> float:
        return self.frames / float(self.fps)


def probe(path) -> FilmInfo:
    path = Path(path)
    if not path.exists():
        raise FilmError(f"{path}: no such file")
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise FilmError(f"{path}: has no video stream{_holds(c)}")
            s = c.streams.video[0]
            if s.codec_context is None:          # FFmpeg knows the stream, but has no decoder for it
                raise FilmError(f"{path}: its video cannot be decoded: this FFmpeg ({av.ffmpeg_version_info}, "
                                f"through PyAV {av.__version__}) has no decoder for its codec; convert the film "
                                f"to H.264, ProRes or DNxHR")
            rate = s.average_rate or s.guessed_rate or s.base_rate
            if not rate:
                raise FilmError(f"{path}: frame rate unknown")
            fps = Fraction(rate).limit_denominator(1001)
            w, h = s.codec_context.width, s.codec_context.height
            if not w or not h:
                raise FilmError(f"{path}: video stream has no picture size")
            sar = s.sample_aspect_ratio or s.codec_context.sample_aspect_ratio or Fraction(1)
            aspect = w * float(sar) / h if sar else w / h
            frames = s.frames
            if not frames:
                dur = (float(s.duration * s.time_base) if s.duration else
                       (c.duration / 1e6 if c.duration else 0.0))
                frames = int(round(dur * float(fps)))
            if frames <= 0:
                raise FilmError(f"{path}: cannot tell how long the film is")
            # decode one frame: a file whose codec cannot be read fails here, not on stage
            try:
                next(c.decode(s))
            except StopIteration:
                raise FilmError(f"{path}: video stream holds no frames") from None
            return FilmInfo(path, fps, w, h, aspect, int(frames), bool(c.streams.audio), embedded_timecode(c, s),
                            _truncated_at(path, s, fps))
    except FilmError:
        raise
    except (av.FFmpegError, OSError, ValueError) as e:
        raise FilmError(f"{path}: cannot be read as video: {_why(e)}") from None


def _truncated_at(path: Path, stream, fps) -> int | None:
    """Where a file whose index runs past its end was cut off (a copy that stopped half way):
    the first frame whose data is not there, or None. Read from the index the demuxer keeps
    (QuickTime, MP4, Matroska's cues), newest first, so a whole file costs one look."""
    try:
        size = path.stat().st_size
        entries = stream.index_entries
        n = len(entries)
    except (OSError, AttributeError):
        return None
    t0 = stream.start_time or 0
    cut = None
    for k in range(n - 1, -1, -1):
        e = entries[k]
        if e.pos < 0 or e.pos + e.size <= size:
            break
        cut = e
    if cut is None:
        return None
    return max(0, int(math.floor(float((cut.timestamp - t0) * stream.time_base) * float(fps) + 0.5)))


def _holds(container) -> str:
    """What a file holds instead of a picture: ' (it holds 1 audio stream, aac)'."""
    kinds = [f"{st.type} ({st.codec_context.name})" if st.codec_context is not None else st.type
             for st in container.streams]
    if not kinds:
        return ": it holds no streams at all"
    return f": it holds {len(kinds)} stream{'s' if len(kinds) > 1 else ''}: {', '.join(kinds)}"


_QUICKTIME = {"mov", "mp4", "m4a", "3gp", "3g2", "mj2"}     # FFmpeg's mov demuxer's names


def embedded_timecode(container, video) -> EmbeddedTimecode | None:
    """The start timecode a file carries, as FFmpeg's demuxers expose it: the ``timecode`` tag
    of the video stream (in QuickTime, copied there from the tmcd track it refers to), of a data
    stream (QuickTime's tmcd tracks are data streams) or of the container (MXF, Matroska)."""
    def tag(metadata) -> str | None:
        for k, v in metadata.items():
            if k.lower() == "timecode" and str(v).strip():
                return str(v).strip()
        return None

    quicktime = bool(_QUICKTIME & set(container.format.name.split(",")))
    data = [t for t in (tag(d.metadata) for d in container.streams.data) if t]
    own = tag(video.metadata)
    if own is not None:
        return EmbeddedTimecode(own, "tmcd" if quicktime and own in data else "stream")
    if data:
        return EmbeddedTimecode(data[0], "tmcd" if quicktime else "data")
    top = tag(container.metadata)
    return EmbeddedTimecode(top, "container") if top is not None else None


def resolve_loop(info: FilmInfo, loop_in, loop_out, tc: TimecodeFormat | None = None) -> tuple[int, int]:
    """Loop points from the session (timecode in the film's own, or seconds from its first
    frame) to frames [in, out). A point outside the film is reported with the film's range."""
    tc = tc or TimecodeFormat(info.fps)

    def runs(point: str) -> str:
        how = tc.describe_source()
        text = f"the film runs {tc.label(0)}-{tc.label(info.frames - 1)}"
        if point == "out":
            text += f" (an out point may be its end, {tc.label(info.frames)})"
        text += (f", {info.frames} frames, {info.duration:.2f} s; timecode{':' if tc.source == 'none' else ''} {how}")
        if tc.source not in ("session", "none"):
            text += "; give points in the film's timecode or in seconds, or set [film] start to count from another"
        return text

    def shown(value, frame) -> str:
        return str(value) if isinstance(value, str) else f"{value} s ({tc.label(frame)})"

    points = {}
    end = info.frames if info.truncated_at is None else min(info.frames, info.truncated_at)
    for point, value, default in (("in", loop_in or 0, 0), ("out", loop_out, end)):
        try:
            frame = default if value is None else tc.offset(value)
        except TimecodeError as e:
            raise FilmError(f"{info.path}: loop {point} point: {e}", point=point) from None
        if frame < 0:
            raise FilmError(f"{info.path}: loop {point} point {shown(value, frame)} is before the film's first frame: "
                            f"{runs(point)}", point=point)
        last = info.frames - 1 if point == "in" else info.frames
        if frame > last:
            raise FilmError(f"{info.path}: loop {point} point {shown(value, frame)} is past the end of the film: "
                            f"{runs(point)}", point=point)
        if info.truncated_at is not None and frame > (info.truncated_at - 1 if point == "in" else info.truncated_at):
            raise FilmError(f"{info.path}: the file is truncated: its data stops at frame {info.truncated_at} "
                            f"({tc.label(info.truncated_at)}) of {info.frames}, and the loop {point} point "
                            f"{shown(value, frame)} is past that; copy the film again, or loop before "
                            f"{tc.label(info.truncated_at)}", point=point)
        points[point] = frame
    fin, fout = points["in"], points["out"]
    if fout - fin < 2:
        what = {0: "a loop of zero length", 1: "a loop of one frame"}.get(fout - fin, "a loop that runs backwards")
        raise FilmError(f"{info.path}: loop out point must come after the in point: in {tc.label(fin)}, out "
                        f"{tc.label(fout)} is {what} (a loop is at least 2 frames)", point="out")
    return fin, fout


@dataclass
class Damage:
    """Frames [first, last] of a file that cannot be shown, and why."""
    first: int
    last: int
    why: str


def scan_loop(info: FilmInfo, loop_in: int, loop_out: int) -> list[Damage]:
    """Decode every frame of [loop_in, loop_out) as the show will (without converting them) and
    say which cannot be shown: packets that will not decode and the frames that follow them up
    to the next clean keyframe, frames FFmpeg marks corrupt, data that cannot be read, a file
    that ends before the loop does. For `stage check`: damage found here is damage the show
    would hold the last good frame over."""
    found: list[Damage] = []

    def mark(a: int, b: int, why: str) -> None:
        a, b = max(a, loop_in), min(b, loop_out - 1)
        if a > b:
            return
        if found and a <= found[-1].last + 1:
            found[-1].last = max(found[-1].last, b)
        else:
            found.append(Damage(a, b, why))

    with av.open(str(info.path)) as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        t0 = stream.start_time or 0
        tb, fps = stream.time_base, float(info.fps)

        def index(pts):
            return int(math.floor(float((pts - t0) * tb) * fps + 0.5))

        c.seek(max(t0, int(loop_in / fps / float(tb)) + t0), stream=stream, backward=True, any_frame=False)
        expected, why, until_key = loop_in, "", False
        packets = c.demux(stream)
        while expected < loop_out:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except (av.FFmpegError, OSError) as e:
                mark(expected, loop_out - 1, f"cannot be read ({_why(e)})")
                return found
            try:
                frames = packet.decode()
            except (av.FFmpegError, ValueError) as e:
                until_key, why = True, f"damaged ({_why(e)})"
                continue
            for f in frames:
                if f.pts is None:
                    continue
                idx = index(f.pts)
                if f.key_frame and not f.is_corrupt:
                    until_key = False
                if idx < loop_in:
                    continue
                if idx >= loop_out:
                    expected = loop_out
                    break
                if until_key or f.is_corrupt:
                    mark(idx, idx, why if until_key else "damaged (a corrupt frame)")
                    continue
                if idx > expected and why:               # frames lost with the packets that failed
                    mark(expected, idx - 1, why)
                why = ""
                expected = max(expected, idx + 1)
        if expected < loop_out - 2:
            mark(expected, loop_out - 1, f"the file ends at frame {expected} (truncated?)")
    return found


def fit_rect(aspect: float, screen: tuple[int, int]) -> tuple[int, int, int, int]:
    """Letterbox or pillarbox: (x, y, w, h) of the picture inside the screen, even sizes."""
    sw, sh = screen
    if sw / sh > aspect:
        h = sh
        w = int(round(sh * aspect))
    else:
        w = sw
        h = int(round(sw / aspect))
    w -= w % 2
    h -= h % 2
    return ((sw - w) // 2, (sh - h) // 2, max(2, w), max(2, h))


@dataclass
class DecodedFrame:
    seq: int                 # pass * loop_length + offset: grows through every pass
    index: int               # frame number in the file
    pixels: np.ndarray       # (h, w, 4) BGRA, contiguous


class FilmDecoder:
    """The decoding thread. Lifecycle: start(), stop(). Draw thread reads ``head`` and ``queue``."""

    def __init__(self, info: FilmInfo, loop_in: int, loop_out: int, size: tuple[int, int],
                 head_seconds: float = 1.25, queue_seconds: float = 0.75, start_seq: int = 0):
        self.info, self.loop_in, self.loop_out, self.size = info, loop_in, loop_out, size
        self.length = loop_out - loop_in
        fps = float(info.fps)
        self.head_len = min(self.length, max(2, int(math.ceil(head_seconds * fps))))
        self.queue_len = max(4, int(math.ceil(queue_seconds * fps)))
        self.head: list[np.ndarray | None] = [None] * self.head_len
        self.head_ready = threading.Event()
        self.queue: collections.deque[DecodedFrame] = collections.deque()
        self.error: str | None = None
        self.decoded = 0
        self.seeks = 0
        self._next_seq = start_seq if start_seq % self.length >= self.head_len else (start_seq // self.length) * self.length + self.head_len
        self._request: int | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._start_seq = start_seq
        self._thread = threading.Thread(target=self._run, name="stage-film", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self, wait: bool = True):
        self._stop.set()
        self._wake.set()
        if wait:
            self._thread.join(timeout=3)

    def request(self, seq: int) -> None:
        """Ask for the stream to restart at ``seq`` (after a jump the queue cannot serve)."""
        off = seq % self.length
        if off < self.head_len:
            seq = seq - off + self.head_len
        self._request = seq
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    @property
    def next_seq(self) -> int:
        return self._next_seq

    # -- decoder thread
    def _convert(self, frame) -> np.ndarray:
        w, h = self.size
        img = frame.reformat(width=w, height=h, format="bgra", interpolation="BILINEAR").to_ndarray()
        return np.ascontiguousarray(img)

    def _index(self, frame, stream, t0) -> int:
        if frame.pts is None:
            return -1
        t = float((frame.pts - t0) * stream.time_base)
        return int(math.floor(t * float(self.info.fps) + 0.5))

    def _frames_from(self, container, stream, t0, index: int):
        """Decoded frames from ``index`` on (seeking to the keyframe before it). A damaged file
        never ends the show: a packet that will not decode is skipped, and so is every frame
        after it until the next clean keyframe (H.264 conceals damage with smears until then),
        so the caller holds the last good frame over them; data that cannot be read (a file
        truncated or gone under us) ends the frames early, and is said in ``error``."""
        target_pts = int(index / float(self.info.fps) / float(stream.time_base)) + t0
        try:
            container.seek(max(t0, target_pts), stream=stream, backward=True, any_frame=False)
        except (av.FFmpegError, OSError) as e:
            self._cut_short = True
            self._fault(f"cannot seek ({_why(e)})", index)
            return
        self.seeks += 1
        self._damaged_until_key = self._cut_short = False
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except (av.FFmpegError, OSError) as e:
                self._cut_short = True
                self._fault(f"cannot be read on from here ({_why(e)})", self._packet_index(None, stream, t0))
                return
            self._last_packet_pts = packet.pts
            try:
                frames = packet.decode()
            except (av.FFmpegError, ValueError) as e:   # damaged data: skip it, hold the last good frame
                self._damaged_until_key = True
                self._fault(f"damaged ({_why(e)})", self._packet_index(packet.pts, stream, t0))
                continue
            for frame in frames:
                idx = self._index(frame, stream, t0)
                if frame.key_frame and not frame.is_corrupt:
                    self._damaged_until_key = False
                if self._damaged_until_key or frame.is_corrupt:
                    if frame.is_corrupt and not self._damaged_until_key and idx >= index:
                        self._fault("damaged (a corrupt frame)", idx)
                    continue
                if idx < index:
                    continue
                yield idx, frame

    _damaged_until_key = False
    _cut_short = False       # the last read ended on an error (said already)
    _last_packet_pts = None
    held = 0                 # frames that could not be shown (damaged, unreadable): the last good one held
    faults = 0               # damaged packets, corrupt frames, reads that failed

    def _packet_index(self, packet_pts=None, stream=None, t0=0):
        pts = packet_pts if packet_pts is not None else self._last_packet_pts
        if pts is None or stream is None:
            return None
        return int(math.floor(float((pts - t0) * stream.time_base) * float(self.info.fps) + 0.5))

    def _fault(self, what: str, frame: int | None = None) -> None:
        """A fault in the file, for the HUD: what, where, and that the picture holds."""
        self.faults += 1
        where = f" at frame {frame} ({frame / float(self.info.fps):.2f} s)" if frame is not None else ""
        self.error = f"{self.info.path.name}: {what}{where}: the last good frame is held"

    def _run(self):
        # Decoding runs ahead by a queue's worth, so it can give way: a nicer thread, kept off
        # the draw loop's core (the codec's own threads, started from here, inherit both).
        # See BENCHMARKS.md for what this did to the frame interval at 1080p on 2 cores.
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 5)
        except (OSError, AttributeError):
            pass
        place_thread(first_core=False)
        try:
            with av.open(str(self.info.path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                t0 = stream.start_time or 0
                # the head, once
                if not self.head_ready.is_set():
                    for idx, frame in self._frames_from(container, stream, t0, self.loop_in):
                        off = idx - self.loop_in
                        if off >= self.head_len or self._stop.is_set():
                            break
                        self.head[off] = self._convert(frame)
                        self.decoded += 1
                    good = [px for px in self.head if px is not None]
                    last = good[0] if good else self._blank()
                    for i in range(self.head_len):         # a missing frame repeats its neighbour
                        if self.head[i] is None:
                            self.head[i] = last
                        last = self.head[i]
                    self.head_ready.set()
                if self.length <= self.head_len:
                    return
                self._last_pixels = self.head[-1]          # held if the first frames after the head are damaged
                while not self._stop.is_set():
                    seq = self._next_seq
                    self._stream_from(container, stream, t0, seq)
        except Exception as e:  # the file cannot be opened (gone, unreadable): say so; the picture holds
            self.error = f"{self.info.path.name}: cannot be read ({_why(e)}): the last good frame is held"
            self.faults += 1
            self.head_ready.set()
        finally:
            if self._stop.is_set():     # stopped: let go of the decoded frames now, not when collected
                self.head = []
                self.queue.clear()

    def _blank(self):
        w, h = self.size
        a = np.zeros((h, w, 4), np.uint8)
        a[..., 3] = 255
        return a

    def _stream_from(self, container, stream, t0, seq: int):
        """Decode offsets [head, length) of successive passes into the queue, from ``seq``."""
        self._request = None
        self.queue.clear()
        pass_no, off = divmod(seq, self.length)
        while not self._stop.is_set():
            expected = self.loop_in + off
            for idx, frame in self._frames_from(container, stream, t0, expected):
                if self._stop.is_set() or self._request is not None:
                    break
                if idx >= self.loop_out:
                    break
                while idx > expected and expected < self.loop_out:   # a gap (or damage): hold
                    self._put(pass_no * self.length + expected - self.loop_in, self._last_pixels)
                    expected += 1
                    self.held += self.faults > 0
                px = self._convert(frame)
                self._last_pixels = px
                self._put(pass_no * self.length + idx - self.loop_in, px)
                self.decoded += 1
                expected = idx + 1
                if self._request is not None:
                    break
            if self._request is not None:
                self._next_seq = self._request
                return
            if self._stop.is_set():
                return
            if expected < self.loop_out - 2 and not self._cut_short:
                # the data ended before the loop did (a file truncated under us): the rest of the
                # pass holds the last good frame, so the picture keeps time
                if not self.error or "ends early" not in self.error:
                    self._fault("ends early (truncated?)", expected)
            short = expected < self.loop_out - 2
            while expected < self.loop_out and not self._stop.is_set() and self._request is None:
                self._put(pass_no * self.length + expected - self.loop_in, self._last_pixels)
                expected += 1
                self.held += short
            if self._request is not None:
                self._next_seq = self._request
                return
            pass_no += 1
            off = self.head_len
            self._next_seq = pass_no * self.length + off

    _last_pixels = None

    def _put(self, seq: int, pixels) -> None:
        while len(self.queue) >= self.queue_len and not self._stop.is_set() and self._request is None:
            self._wake.wait(0.005)
            self._wake.clear()
        if self._request is None and pixels is not None:
            self.queue.append(DecodedFrame(seq, self.loop_in + seq % self.length, pixels))
        self._next_seq = seq + 1


class FilmPlayer:
    """Picks the frame to show for a place in the cue (its ``seq``); drops frames that are late,
    never shows late.

    Used by the draw thread only (and the decoder it reads from). ``frame_for(seq, epoch)``
    returns (seq, pixels) of the frame to show, the one already shown while the due frame is
    not decoded yet."""

    def __init__(self, decoder: FilmDecoder):
        self.decoder = decoder
        self.fps = float(decoder.info.fps)
        self.current_seq = -1
        self.current: np.ndarray | None = None
        self.dropped = 0        # decoded frames skipped because their time had passed
        self.late = 0           # draws where the due frame was not decoded yet (picture held)
        self._requested = None
        self._epoch = None
        self._jump = False

    @property
    def length(self) -> int:
        return self.decoder.length

    @property
    def ready(self) -> bool:
        return self.decoder.head_ready.is_set()

    def seq_at(self, seconds: float) -> int:
        return int(math.floor(max(0.0, seconds) * self.fps + 1e-6))

    def frame_at(self, seconds: float):
        """The frame due ``seconds`` after the cue began (every pass counted)."""
        return self.frame_for(self.seq_at(seconds))

    def frame_for(self, seq: int, epoch=None):
        """The frame for ``seq``; a new ``epoch`` (the transport jumped) means the frames skipped
        are not drops."""
        if epoch != self._epoch:
            self._epoch = epoch
            self._jump = True
        try:
            return self._frame_for(seq)
        except IndexError:      # the decoder cleared its queue under us (a seek): hold the picture
            return self.current_seq, self.current

    def _frame_for(self, seq: int):
        dec = self.decoder
        if seq == self.current_seq:
            return self.current_seq, self.current
        off = seq % dec.length
        q = dec.queue
        if off < dec.head_len:
            if not dec.head_ready.is_set():
                return self.current_seq, self.current
            while q and q[0].seq < seq:      # the previous pass's tail, now late
                q.popleft()
            dec.wake()
            self._show(seq, dec.head[off])
            return seq, self.current
        while q and q[0].seq < seq:
            q.popleft()
            dec.wake()
        if q and q[0].seq == seq:
            fr = q.popleft()
            dec.wake()
            self._show(seq, fr.pixels)
            return seq, self.current
        # the due frame is not here: behind the stream (a jump back) or far ahead of it
        ahead_of_decoder = seq - dec.next_seq
        if (q and q[0].seq > seq) or ahead_of_decoder > dec.queue_len or (not q and ahead_of_decoder < -1):
            if self._requested != seq:
                dec.request(seq)
                self._requested = seq
        self.late += 1
        return self.current_seq, self.current

    def jumped(self) -> None:
        """The clock was moved on purpose (a nudge, a locate): the frames skipped are not drops."""
        self._jump = True

    def _show(self, seq, pixels):
        gap = seq - self.current_seq - 1
        if self.current_seq >= 0 and gap > 0 and not self._jump:
            self.dropped += gap        # frames whose time passed before they could be shown
        self._jump = False
        self.current_seq = seq
        self.current = pixels
        self._requested = None

    def close(self) -> None:
        """Stop decoding and let go of every frame (the decoder's thread ends on its own)."""
        self.decoder.stop(wait=False)
        self.current = None
