#!/usr/bin/env python3
"""A real take past 4 GiB: written, killed with SIGKILL, repaired, read back whole.

Too big for CI (it writes about 4.4 GB, then reads it twice), so it is a script; the tests
cover the same code with a small RF64 limit and a sparse file past 4 GiB
(tests/test_takes_files.py). A writer process writes 8 channels of a known signal at
48 kHz through ``stage.takes.TakeFiles``, syncing after every second of audio: as fast as it
can to 10 s past 4 GiB (about 46.6 minutes), then in real time in tenths of a second. Once
it is past 4 GiB the script checks that the file on disk is RF64 and that ffprobe reads it
as it grows, kills the writer with SIGKILL between two syncs, repairs the take (its header is
then behind what is on disk), and compares every sample with what was written, as libsndfile
(soundfile) and FFmpeg read it. ``--clean`` closes the take instead of killing the writer.

Needs twice the file's size free on the disk of ``--dir`` (default /tmp). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stage import clock  # noqa: E402
from stage.takes import TakeFiles, new_take_folder, repair_take  # noqa: E402
from stage.takes import wav  # noqa: E402

SR, CH = 48000, 8
LIMIT_FRAMES = (2 ** 32 - wav.HEADER_BYTES) // (4 * CH)


def second(k: int) -> np.ndarray:
    """Second ``k`` of the known signal: random float32 in [-1, 1), a new draw every second."""
    return np.random.default_rng([11, k]).random((SR, CH), dtype=np.float32) * 2 - 1


def writer(folder: str, progress: str, seconds: int, clean: bool) -> None:
    """As fast as it goes up to ``fast_seconds`` (past 4 GiB), then in real time in tenths of
    a second, synced once a second, as the recorder writes."""
    counts = np.memmap(progress, dtype=np.int64, mode="r+", shape=(2,))
    take = TakeFiles(folder, {"cue": "4GiB", "samplerate": SR, "channels": CH, "players": [],
                              "film": {"fps": 24}, "start": {"monotonic_raw": clock.now(), "frame": 0}})
    fast = fast_seconds(seconds)
    for k in range(fast):
        take.write_audio(second(k))
        counts[0] = (k + 1) * SR
        take.sync()
    t = clock.now()
    for k in range(fast, seconds):
        s = second(k)
        for j in range(10):
            clock.sleep_until(t + (k - fast) + (j + 1) / 10)
            take.write_audio(s[j * SR // 10:(j + 1) * SR // 10])
            counts[0] = k * SR + (j + 1) * SR // 10
        take.sync()
    if clean:
        take.close()
        counts[1] = 1
    else:
        while True:
            time.sleep(1)


def fast_seconds(seconds: int) -> int:
    return (int(LIMIT_FRAMES / SR) + seconds) // 2 + 1


def compare_stream(read_chunk, frames: int) -> int:
    """Frames equal bit for bit, reading ``read_chunk(n)`` (bytes) a second at a time."""
    same = 0
    for k in range(-(-frames // SR)):
        n = min(SR, frames - k * SR)
        got = read_chunk(n * 4 * CH)
        want = second(k)[:n].tobytes()
        if got != want:
            return same
        same += n
    return same


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=Path("/tmp"))
    ap.add_argument("--past", type=float, default=20.0,
                    help="seconds of audio past 4 GiB to write (default 20; the second half in real time)")
    ap.add_argument("--clean", action="store_true", help="close the take instead of killing the writer")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--writer", nargs=4, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.writer:
        writer(a.writer[0], a.writer[1], int(a.writer[2]), a.writer[3] == "1")
        return
    seconds = int(LIMIT_FRAMES / SR + a.past) + 1
    need = seconds * SR * CH * 4
    free = shutil.disk_usage(a.dir).free
    if free < 2 * need:
        sys.exit(f"check_takes_4gib: {a.dir} has {free / 1e9:.1f} GB free; {2 * need / 1e9:.1f} GB are needed")
    base = Path(tempfile.mkdtemp(prefix="stage-4gib-", dir=a.dir))
    out = {"date": time.strftime("%Y-%m-%d"), "dir": str(base), "clean": a.clean}
    try:
        folder = new_take_folder(base, "4GiB")
        progress = base / "progress"
        progress.write_bytes(bytes(16))
        t = time.monotonic()
        proc = subprocess.Popen([sys.executable, __file__, "--writer", str(folder), str(progress), str(seconds),
                                 "1" if a.clean else "0"])
        path = None
        live_rf64 = live_probe = None
        target = (fast_seconds(seconds) + 2) * SR + 3 * SR // 10 if not a.clean else None
        while True:
            c = np.fromfile(progress, dtype=np.int64, count=2)
            if path is None:
                path = next(folder.glob("*.wav"), None)
            if a.clean and c[1]:
                break
            if not a.clean and c[0] >= target:
                with open(path, "rb") as f:
                    live_rf64 = f.read(4).decode()
                r = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
                                   capture_output=True, text=True, timeout=60)
                live_probe = int(json.loads(r.stdout)["streams"][0]["duration_ts"])
                while np.fromfile(progress, dtype=np.int64, count=1)[0] % SR != SR // 2:
                    time.sleep(0.001)                  # half way between two syncs
                os.kill(proc.pid, signal.SIGKILL)
                break
            if proc.poll() is not None and not a.clean:
                sys.exit(f"check_takes_4gib: the writer ended early ({proc.returncode})")
            time.sleep(0.05)
        proc.wait()
        handed = int(np.fromfile(progress, dtype=np.int64, count=1)[0])
        out.update(write_s=round(time.monotonic() - t, 1), frames_handed_over=handed,
                   live_header=live_rf64, live_ffprobe_frames=live_probe)
        before = wav.read_info(path)
        out["header_frames_before_repair"] = before.header_frames
        out["repair"] = repair_take(folder)
        info = wav.read_info(path)
        out.update(form=info.form, frames=info.header_frames, file_bytes=info.file_bytes,
                   past_4gib=info.file_bytes > 2 ** 32)
        import soundfile as sf
        out["soundfile_frames"] = sf.info(str(path)).frames
        r = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
                           capture_output=True, text=True, timeout=60)
        out["ffprobe_frames"] = int(json.loads(r.stdout)["streams"][0]["duration_ts"])
        t = time.monotonic()
        with sf.SoundFile(str(path)) as f:
            out["soundfile_equal_frames"] = compare_stream(lambda n: f.read(n // (4 * CH), dtype="float32").tobytes(),
                                                           info.header_frames)
        ff = subprocess.Popen(["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-c:a", "pcm_f32le", "-f", "f32le",
                               "-"], stdout=subprocess.PIPE)

        def ff_read(n):
            buf = bytearray()
            while len(buf) < n:
                chunk = ff.stdout.read(n - len(buf))
                if not chunk:
                    break
                buf += chunk
            return bytes(buf)
        out["ffmpeg_equal_frames"] = compare_stream(ff_read, info.header_frames)
        out["ffmpeg_extra_bytes"] = len(ff.stdout.read())
        ff.wait()
        out["read_s"] = round(time.monotonic() - t, 1)
        ok = (info.form == "RF64" and out["past_4gib"] and info.header_frames >= handed
              and (a.clean or before.header_frames < info.header_frames)
              and out["soundfile_frames"] == out["ffprobe_frames"] == info.header_frames
              == out["soundfile_equal_frames"] == out["ffmpeg_equal_frames"] and out["ffmpeg_extra_bytes"] == 0)
        out["ok"] = bool(ok)
        print(json.dumps(out), flush=True)
        sys.exit(0 if ok else 1)
    finally:
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
