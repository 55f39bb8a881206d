#!/usr/bin/env python3
"""`stage render` speed: a recorded take rendered offline, against real time.

Records a take as a user does (`stage run --record`, headless, through StageRun) of the demo
(its 1280x720 film and its recorded trumpet and bass), with 8 players (the demo's two lines,
each read by four players of different ranges and colours), for ``--seconds``; then renders
it with `stage render` in a process of its own at each size and view asked for, ``--runs``
times, and prints the speed (seconds of video per second of rendering, start-up included:
what a user waits for) and the frame's cost. Target (issue 12): faster than real time at
1280x720 on this 2-core machine. Run it under `nice -n 19` on a shared machine.

    nice -n 19 .venv/bin/python scripts/bench_render_take.py [--seconds 30] [--runs 3]
        [--sizes 1280x720,1920x1080] [--views studio,performance] [--fps 30]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stage_testing import StageRun, stage_cmd  # noqa: E402

PLAYERS = [("Trumpet", 1, "E3", "C6", "amber"), ("Bass", 2, "E1", "G3", "cyan"),
           ("Trumpet low", 1, "C3", "C6", "orange"), ("Bass wide", 2, "C1", "C4", "blue"),
           ("Trumpet high", 1, "G3", "E6", "yellow"), ("Bass 2", 2, "E1", "C4", "teal"),
           ("Trumpet 3", 1, "E3", "C7", "pink"), ("Bass 3", 2, "D1", "G3", "violet")]


def session(folder: Path, seconds: float) -> Path:
    shutil.copy(ROOT / "assets" / "demo_film.mp4", folder / "demo_film.mp4")
    shutil.copy(ROOT / "assets" / "demo_performance.flac", folder / "demo_performance.flac")
    text = (ROOT / "assets" / "demo_session.toml").read_text()
    head = text[:text.index("[[players]]")]
    head += f'\n[takes]\nfolder = "{folder / "takes"}"\nkeep_free_minutes = 1\n'
    for name, ch, lo, hi, col in PLAYERS:
        head += f'\n[[players]]\nname = "{name}"\ncolour = "{col}"\nchannel = {ch}\nlowest = "{lo}"\nhighest = "{hi}"\n'
    s = folder / "s.toml"
    s.write_text(head)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sizes", default="1280x720")
    ap.add_argument("--views", default="studio,performance")
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--keep", type=Path, default=None, help="keep the videos in this folder")
    a = ap.parse_args()
    print(f"machine: {platform.node()} {platform.machine()} python {platform.python_version()}", flush=True)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        s = session(d, a.seconds)
        with StageRun(s, a.seconds + 0.5, extra=["--record"], timeout=120) as run:
            pass
        assert run.ok, run.stderr
        take = next(p for p in (d / "takes").iterdir() if p.is_dir())
        m = json.loads((take / "manifest.json").read_text())
        print(f"take {take.name}: {m['seconds']:.1f} s, {len(m['players'])} players", flush=True)
        rows = []
        for size in a.sizes.split(","):
            for view in a.views.split(","):
                for r in range(a.runs):
                    out = (a.keep or d) / f"{take.name}-{size}-{view}-{r}.mp4"
                    t = time.perf_counter()
                    p = subprocess.run(stage_cmd("render", take, "--out", out, "--size", size, "--view", view,
                                                 "--fps", a.fps), capture_output=True, text=True, timeout=3600)
                    wall = time.perf_counter() - t
                    if p.returncode != 0:
                        sys.exit(p.stderr)
                    st = json.loads(p.stdout.strip().splitlines()[-1])
                    speed = st["video_s"] / wall
                    rows.append((size, view, r, st["frames"], st["video_s"], wall, speed))
                    print(f"{size} {view} run {r + 1}: {st['frames']} frames ({st['video_s']:.1f} s of video) in "
                          f"{wall:.1f} s (the command, start to end): {speed:.2f}x real time, "
                          f"{1000 * wall / st['frames']:.1f} ms a frame; inside: {st['speed_x_realtime']}x", flush=True)
        print("\n| size | view | fps | runs | video s | command s (each run) | speed, x real time (worst) |")
        print("|---|---|---|---|---|---|---|")
        for size in a.sizes.split(","):
            for view in a.views.split(","):
                rr = [x for x in rows if x[0] == size and x[1] == view]
                print(f"| {size} | {view} | {a.fps} | {len(rr)} | {rr[0][4]:.1f} | "
                      f"{', '.join(f'{x[5]:.1f}' for x in rr)} | {min(x[6] for x in rr):.2f} |")


if __name__ == "__main__":
    main()
