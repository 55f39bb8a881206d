#!/usr/bin/env python3
"""Cut detection: precision, recall and speed.

On clips made here (scenes of drifting shapes with grain, cut at random frames, with 2-frame
flashes that are not cuts) and on the demo film (5 cuts through rain, a flickering lift light
and a blinking neon sign).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_latency import machine  # noqa: E402

from stage.film.cuts import detect_cuts  # noqa: E402
from stage.film.synth import make_scene_clip  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--frames", type=int, default=480)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="stage-cuts-"))
    tp = fp = fn = 0
    frames = seconds = 0.0
    r = np.random.default_rng(5)
    for seed in range(a.clips):
        cuts, f = [], int(r.integers(10, 40))
        while f < a.frames - 10:
            cuts.append(f)
            f += int(r.integers(10, 90))                  # shots of 0.4 to 3.7 s
        flashes = sorted(int(x) for x in r.integers(5, a.frames - 5, 4) if min(abs(x - c) for c in cuts) > 6)
        path = make_scene_clip(tmp / f"c{seed}.mp4", a.frames, cuts, flashes, seed=seed + 100)
        t0 = time.perf_counter()
        found, _ = detect_cuts(path)
        seconds += time.perf_counter() - t0
        frames += a.frames
        got, want = set(found), set(cuts)
        tp, fp, fn = tp + len(got & want), fp + len(got - want), fn + len(want - got)
    demo_found, _ = detect_cuts(ROOT / "assets" / "demo_film.mp4")
    demo_want = {144, 264, 396, 504, 612}
    report = {
        "machine": machine(),
        "clips": a.clips, "cuts": tp + fn, "precision": round(tp / max(1, tp + fp), 4),
        "recall": round(tp / max(1, tp + fn), 4), "false_positives": fp, "missed": fn,
        "frames_per_second": round(frames / seconds, 1),
        "demo_film": {"found": demo_found, "precision": len(set(demo_found) & demo_want) / max(1, len(demo_found)),
                      "recall": len(set(demo_found) & demo_want) / len(demo_want)},
    }
    print(f"machine: {report['machine']}")
    print(f"{a.clips} clips, {tp + fn} cuts: precision {report['precision']:.3f}, recall {report['recall']:.3f} "
          f"({fp} false, {fn} missed); {report['frames_per_second']} frames/s (320x180 H.264)")
    print(f"demo film: found {demo_found}, precision {report['demo_film']['precision']:.2f}, "
          f"recall {report['demo_film']['recall']:.2f}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
