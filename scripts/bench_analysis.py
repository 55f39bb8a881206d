#!/usr/bin/env python3
"""Analysis cost per player at 48 kHz, as a share of one core.

Runs the live analyzer (the pitch tracker's detectors for each instrument's range, level,
onsets, gates) on
synthesized lines (a tone that changes note every 250 ms, with noise), measuring thread CPU
time against the audio's duration. Target: at most 2% of one core per player.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np

from stage.audio.analysis import PlayerAnalyzer
from stage.music import midi_to_hz, parse_note

SR = 48000
HOP = 256
RANGES = {"bass E1-G3": ("E1", "G3"), "cello C2-C5": ("C2", "C5"), "trumpet E3-C6": ("E3", "C6"),
          "flute C4-C7": ("C4", "C7"), "full E1-C8": ("E1", "C8")}


def line(lowest: int, highest: int, seconds: float, seed: int = 0) -> np.ndarray:
    r = np.random.default_rng(seed)
    n = int(seconds * SR)
    notes = r.integers(lowest, highest + 1, int(seconds * 4) + 1)
    f = np.repeat([midi_to_hz(m) for m in notes], SR // 4)[:n]
    ph = 2 * np.pi * np.cumsum(f) / SR
    x = 0.3 * (np.sin(ph) + 0.5 * np.sin(2 * ph) + 0.2 * np.sin(3 * ph)) / 1.7
    return (x + r.normal(0, 0.003, n)).astype(np.float32)


def cost(lowest: int, highest: int, seconds: float) -> tuple[float, int]:
    x = line(lowest, highest, seconds)
    an = PlayerAnalyzer(SR, HOP, lowest, highest)
    t0 = time.thread_time()
    for i in range(0, len(x) - HOP + 1, HOP):
        an.process(x[i:i + HOP])
    return (time.thread_time() - t0) / seconds, an.window


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    print(f"machine: {platform.node()} {platform.machine()} {platform.processor() or ''} "
          f"python {platform.python_version()}")
    results = {}
    for name, (lo, hi) in RANGES.items():
        runs = [cost(parse_note(lo), parse_note(hi), a.seconds) for _ in range(a.repeats)]
        med = statistics.median(r[0] for r in runs)
        results[name] = {"window": runs[0][1], "core_percent_median": round(100 * med, 3),
                         "core_percent_min": round(100 * min(r[0] for r in runs), 3)}
        print(f"{name:<16} longest pitch window {runs[0][1]:5d}  CPU {100 * med:6.3f}% of one core (median of {a.repeats}), "
              f"{'OK' if med <= 0.02 else 'OVER'} against 2%")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
