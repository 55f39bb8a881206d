#!/usr/bin/env python3
"""Takes: how fast a take's files are written, and how long sync() takes.

Ten minutes (``--minutes``) of 8 channels at 48 kHz (``--channels``) through
``stage.takes.TakeFiles``, with what the recorder hands it besides: the analysis of 8 players
(``--players``) at the hop rate (256), 30 MIDI messages a second and a marker every 30 s.
The writer is woken every ``--batch`` blocks of 256 frames (4: every 21 ms) and writes what
has come since in one call per file, as the recorder's writer thread will.

- ``--mode fast``: as fast as it goes (throughput; run it under ``nice -n 19``);
- ``--mode realtime``: paced by the clock, synced once a second: the worst ``sync()``, the
  worst call, the writer thread's CPU, how late its wakes were, and the longest the take's
  flusher thread took to make a sync durable (fdatasync of every file, .mid, manifest);
- ``--mode both``.

Prints one JSON object per mode. The take is written to ``--dir`` (default: a temporary
folder on /tmp's disk) and deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stage import clock  # noqa: E402
from stage.takes import TakeFiles, analysis_rows, new_take_folder  # noqa: E402

SR, HOP = 48000, 256


def machine() -> str:
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, python {platform.python_version()}"


def pct(xs, q) -> float:
    return float(np.percentile(xs, q)) if len(xs) else 0.0


def run(mode: str, takes_dir: Path, minutes: float, channels: int, players: int, batch: int) -> dict:
    rng = np.random.default_rng(1)
    pool = [(rng.random((HOP * batch, channels), dtype=np.float32) * 2 - 1) for _ in range(16)]
    names = [f"player{i + 1}" for i in range(players)]
    t0 = clock.now()
    folder = new_take_folder(takes_dir, f"bench-{mode}")
    take = TakeFiles(folder, {
        "cue": f"bench {mode}", "samplerate": SR, "channels": channels,
        "players": [{"name": n, "channel": i + 1} for i, n in enumerate(names)],
        "film": {"fps": "24000/1001", "first_frame": "01:00:00:00"}, "start": {"monotonic_raw": t0, "frame": 0}})
    rows = analysis_rows(batch)
    rows["timecode"] = b"01:00:00:00"
    rows["f0_hz"], rows["confidence"], rows["level_db"] = 440.0, 0.9, -20.0
    wakes = int(minutes * 60 * SR / (HOP * batch))
    per_wake = HOP * batch / SR
    audio_ms, rows_ms, sync_ms, late_ms = [], [], [], []
    midi_due = marker_due = 0.0
    next_sync = t0 + 1.0 if mode == "realtime" else 1.0
    cpu0, w0 = time.thread_time(), clock.now()
    for k in range(wakes):
        audio_t = (k + 1) * per_wake                       # seconds of audio after this wake
        if mode == "realtime":
            due = t0 + audio_t
            clock.sleep_until(due)
            late_ms.append((clock.now() - due) * 1e3)
        a = clock.now()
        take.write_audio(pool[k % len(pool)])
        b = clock.now()
        rows["t_capture"] = t0 + audio_t
        for n in names:
            take.write_analysis(n, rows)
        c = clock.now()
        audio_ms.append((b - a) * 1e3)
        rows_ms.append((c - b) * 1e3)
        while midi_due < audio_t:
            take.write_midi(t0 + midi_due, [0x90 | (int(midi_due * 30) % 4), 60 + int(midi_due * 30) % 24, 90],
                            port="keys")
            midi_due += 1 / 30
        if audio_t >= marker_due:
            take.add_marker(t0 + audio_t, int(audio_t * 24), f"mark {int(marker_due)}")
            marker_due += 30.0
        if (clock.now() if mode == "realtime" else audio_t) >= next_sync:
            s = clock.now()
            take.sync()
            sync_ms.append((clock.now() - s) * 1e3)
            next_sync += 1.0
    s = clock.now()
    take.close()
    close_ms = (clock.now() - s) * 1e3
    wall = clock.now() - w0
    cpu = time.thread_time() - cpu0
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    audio_s = wakes * per_wake
    out = {
        "mode": mode, "audio_s": round(audio_s, 1), "channels": channels, "players": players, "batch_blocks": batch,
        "wall_s": round(wall, 2), "x_realtime": round(audio_s / wall, 1), "bytes": size,
        "mb_per_s": round(size / wall / 1e6, 1), "writer_cpu_pct_of_a_core": round(100 * cpu / wall, 2),
        "write_audio_ms": {"p50": round(pct(audio_ms, 50), 3), "p99": round(pct(audio_ms, 99), 3),
                           "max": round(max(audio_ms), 2)},
        "write_analysis_8_players_ms": {"p50": round(pct(rows_ms, 50), 3), "p99": round(pct(rows_ms, 99), 3),
                                        "max": round(max(rows_ms), 2)},
        "sync_ms": {"count": len(sync_ms), "p50": round(pct(sync_ms, 50), 2), "p99": round(pct(sync_ms, 99), 2),
                    "max": round(max(sync_ms), 2)},
        "close_ms": round(close_ms, 1), "worst_sync_s_reported": round(take.status.worst_sync_s, 4),
        "worst_flush_s": round(take.status.worst_flush_s, 4),
        "state": take.status.state, "error": take.status.error,
    }
    if late_ms:
        out["wake_late_ms"] = {"p50": round(pct(late_ms, 50), 3), "p99": round(pct(late_ms, 99), 3),
                               "max": round(max(late_ms), 2)}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("fast", "realtime", "both"), default="both")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--players", type=int, default=8)
    ap.add_argument("--batch", type=int, default=4, help="blocks of 256 frames per wake of the writer (default 4)")
    ap.add_argument("--dir", type=Path, default=None, help="where to write the takes (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the takes")
    a = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="stage-bench-takes-", dir=a.dir))
    fs = subprocess.run(["stat", "-f", "-c", "%T", str(base)], capture_output=True, text=True).stdout.strip()
    try:
        for mode in (("fast", "realtime") if a.mode == "both" else (a.mode,)):
            r = run(mode, base, a.minutes, a.channels, a.players, a.batch)
            r.update(machine=machine(), filesystem=fs, nice=os.nice(0), date=time.strftime("%Y-%m-%d"))
            print(json.dumps(r), flush=True)
    finally:
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
