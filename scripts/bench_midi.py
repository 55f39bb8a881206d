#!/usr/bin/env python3
"""MIDI-in to frame latency, end to end.

A JACK dummy server; `stage run --headless --trace` with the demo film playing and a MIDI
player on a JACK MIDI port; this script plays notes into that port (python-rtmidi, a virtual
output port) and times, for each note, from the moment it was sent to the first presented
frame whose trace shows that note. Times are CLOCK_MONOTONIC_RAW on both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_latency import machine  # noqa: E402

from stage_testing import StageRun, rig  # noqa: E402
from stage.clock import now as raw  # noqa: E402  (CLOCK_MONOTONIC_RAW, as JACK)
from stage.music import midi_to_hz  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=int, default=200)
    ap.add_argument("--gap", type=float, default=0.12, help="seconds between notes")
    a = ap.parse_args()
    name, jackd = rig.start_jack(channels=2)
    os.environ["JACK_DEFAULT_SERVER"] = name
    import rtmidi
    tmp = Path(tempfile.mkdtemp(prefix="stage-midi-"))
    sess = tmp / "midi.toml"
    sess.write_text(f'[film]\nfile = "{ROOT / "assets" / "demo_film.mp4"}"\n\n[[players]]\nname = "Keys"\n'
                    f'midi = "stage-bench-keys"\nlowest = "C2"\nhighest = "C7"\n')
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="stage-bench-keys")
    out.open_virtual_port("out")
    seconds = a.notes * a.gap + 4
    sent = []
    try:
        with StageRun(sess, seconds, jack=name, midi_ports=["stage-bench-keys:out"], timeout=seconds + 60,
                      cwd=ROOT, silent=False) as run:
            time.sleep(0.5)
            r = np.random.default_rng(3)
            t_next = raw()
            prev = None
            for _ in range(a.notes):
                note = int(r.integers(48, 84))
                while note == prev:
                    note = int(r.integers(48, 84))
                while raw() < t_next:
                    time.sleep(0.0005)
                if prev is not None:
                    out.send_message([0x80, prev, 0])
                t = raw()
                out.send_message([0x90, note, 100])
                sent.append((t, note))
                prev = note
                t_next += a.gap * (0.8 + 0.4 * r.random())        # not locked to the frame rate
    finally:
        out.delete()
        rig.stop(jackd)
    if not run.ok:
        sys.exit(run.stderr)
    frames = run.frames
    tp = np.array([f["t_present"] for f in frames])
    f0 = np.array([f["players"]["Keys"]["f0_hz"] for f in frames])
    lat, missed = [], 0
    for t, note in sent:
        idx = np.nonzero((tp > t) & (np.abs(f0 - midi_to_hz(note)) < 0.01))[0]
        if len(idx) and tp[idx[0]] - t < 0.5:
            lat.append((tp[idx[0]] - t) * 1000)
        else:
            missed += 1
    lat = np.array(lat)
    stats = run.stats
    report = {"machine": machine(), "notes": len(sent), "missed": missed,
              "midi_to_frame_p50_ms": round(float(np.median(lat)), 2),
              "midi_to_frame_p99_ms": round(float(np.percentile(lat, 99)), 2),
              "midi_to_frame_max_ms": round(float(lat.max()), 2),
              "frame_interval_p99_ms": stats["frame_interval_p99_ms"]}
    print(f"machine: {report['machine']}")
    print(f"MIDI note sent -> first frame showing it: median {report['midi_to_frame_p50_ms']} ms, "
          f"p99 {report['midi_to_frame_p99_ms']} ms, max {report['midi_to_frame_max_ms']} ms "
          f"({len(sent)} notes, {missed} missed)")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
