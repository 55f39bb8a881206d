"""Clips made on the spot, for tests and benchmarks: each frame shows its own number.

The number is written as 16 black/white bars across the top (readable after scaling and
H.264), with a moving gradient below so the encoder has real motion to code.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

BITS = 16


def numbered_frame(n: int, width: int, height: int) -> np.ndarray:
    img = np.empty((height, width, 3), np.uint8)
    x = np.arange(width, dtype=np.int32)
    img[:] = ((x * 255 // max(1, width - 1) + n * 7) % 256).astype(np.uint8)[None, :, None]
    img[..., 1] = (np.arange(height)[:, None] * 200 // height).astype(np.uint8)
    bar_h = height // 3
    bw = width // BITS
    for b in range(BITS):
        v = 255 if (n >> (BITS - 1 - b)) & 1 else 0
        img[:bar_h, b * bw:(b + 1) * bw] = v
    return img


def read_number(bgra: np.ndarray) -> int:
    """The number a (possibly scaled) numbered frame shows, from its top bars."""
    h, w = bgra.shape[:2]
    bw = w / BITS
    y = h // 6
    n = 0
    for b in range(BITS):
        x = int((b + 0.5) * bw)
        v = int(bgra[y, x, :3].mean())
        n = (n << 1) | (1 if v > 127 else 0)
    return n


def make_numbered_clip(path, frames: int, fps=Fraction(24), size=(320, 180), gop: int = 48,
                       crf: int = 23, sar: Fraction | None = None, tone_hz: float | None = None) -> Path:
    """A numbered clip; with ``tone_hz``, also a sound track holding that tone (48 kHz stereo AAC)."""
    path = Path(path)
    fps = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w") as out:
        a = None
        if tone_hz:
            a = out.add_stream("aac", rate=48000)
            a.layout = "stereo"
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height = size
        s.pix_fmt = "yuv420p"
        s.options = {"crf": str(crf), "g": str(gop), "preset": "veryfast", "bf": "2"}
        if sar is not None:
            s.codec_context.sample_aspect_ratio = sar
        for i in range(frames):
            f = av.VideoFrame.from_ndarray(numbered_frame(i, *size), format="rgb24")
            f.pts = i
            f.time_base = 1 / fps
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
        if a is not None:
            n = int(frames / fps * 48000)
            t = np.arange(n) / 48000
            x = (0.3 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)
            x = np.stack([x, x])
            for i in range(0, n, 1024):
                chunk = np.ascontiguousarray(x[:, i:i + 1024])
                af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                af.sample_rate = 48000
                af.pts = i
                for p in a.encode(af):
                    out.mux(p)
            for p in a.encode():
                out.mux(p)
    return path


def scene_frame(scene: int, t: int, width: int, height: int, rng_seed: int = 0) -> np.ndarray:
    """Frame t of scene ``scene``: blobs of its own colours drifting over a gradient, with grain."""
    r = np.random.default_rng(rng_seed * 1000 + scene)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = r.uniform(20, 200, 3)
    tilt = r.uniform(-0.6, 0.6, 3)
    img = base[None, None, :] + tilt[None, None, :] * (xx[..., None] - width / 2) * 255 / width
    for _ in range(4):
        cx, cy = r.uniform(0, width), r.uniform(0, height)
        vx, vy = r.uniform(-2, 2, 2)
        rad = r.uniform(0.08, 0.25) * width
        col = r.uniform(0, 255, 3)
        d2 = ((xx - cx - vx * t) ** 2 + (yy - cy - vy * t) ** 2) / rad ** 2
        img += (np.exp(-d2)[..., None] * (col - img)) * 0.8
    img += np.random.default_rng(t + scene * 7919).normal(0, 4, (height, width, 1))
    return img.clip(0, 255).astype(np.uint8)


def make_scene_clip(path, frames: int, cuts: list[int], flashes: list[int] = (), fps=Fraction(24),
                    size=(320, 180), seed: int = 0) -> Path:
    """A clip of scenes changing at ``cuts`` (frame numbers), with 2-frame flashes (a lamp, a
    lightning strike: not cuts) at ``flashes``."""
    path = Path(path)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=Fraction(fps))
        s.width, s.height = size
        s.pix_fmt = "yuv420p"
        s.options = {"crf": "23", "g": "48", "preset": "veryfast"}
        scene, start = 0, 0
        for i in range(frames):
            if i in cuts:
                scene, start = scene + 1, i
            img = scene_frame(scene, i - start, *size, rng_seed=seed)
            if any(f <= i < f + 2 for f in flashes):
                img = np.clip(img.astype(np.int16) * 2 + 60, 0, 255).astype(np.uint8)
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = i
            f.time_base = 1 / Fraction(fps)
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


REEL_CODECS = {
    # codec: (pixel format, options): intra-frame codecs as cutting rooms deliver picture in
    "prores_ks": ("yuv422p10le", {"profile": "0"}),           # ProRes 422 Proxy
    "dnxhd": ("yuv422p", {"profile": "dnxhr_lb"}),           # DNxHR LB: any picture size
}


def make_reel(path, frames: int, fps=Fraction(24), size=(320, 180), codec: str = "prores_ks",
              timecode: str | None = "01:00:00:00", where: str = "container") -> Path:
    """A numbered QuickTime reel in ProRes or DNxHR whose first frame is labelled ``timecode``
    ("01:00:00:00", or "00:59:59;00" drop-frame at 29.97). FFmpeg's mov muxer writes a tmcd
    track for a ``timecode`` tag on the container (``where="container"``) or on the video
    stream (``where="stream"``); ``timecode=None`` makes a reel without one."""
    path = Path(path)
    fps = Fraction(fps).limit_denominator(1001)
    pix_fmt, options = REEL_CODECS[codec]
    with av.open(str(path), "w", format="mov") as out:
        if timecode is not None and where == "container":
            out.metadata["timecode"] = timecode
        s = out.add_stream(codec, rate=fps)
        s.width, s.height = size
        s.pix_fmt = pix_fmt
        s.options = dict(options)
        if timecode is not None and where == "stream":
            s.metadata["timecode"] = timecode
        for i in range(frames):
            f = av.VideoFrame.from_ndarray(numbered_frame(i, *size), format="rgb24")
            f.pts = i
            f.time_base = 1 / fps
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path
