#!/usr/bin/env python3
"""MTC chase: lock time and position error.

A JACK dummy server; `stage run --headless --trace` chasing MTC on a JACK MIDI port; this
script is the DAW: it plays from a spot, locates every few seconds (as a DAW looping a
passage does) and sends MTC (quarter frames at 24 fps) from its own transport. For each
start or locate: the time until the picture is within one frame of the code and stays there
(lock time); while locked: the picture's error against the DAW, in frames.
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
from stage.film.timecode import TimecodeFormat  # noqa: E402
from stage.film.transport import Transport  # noqa: E402
from stage.midi.mtc import MtcSender  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--locates", type=int, default=10)
    ap.add_argument("--every", type=float, default=3.0)
    a = ap.parse_args()
    name, jackd = rig.start_jack(channels=2)
    os.environ["JACK_DEFAULT_SERVER"] = name
    import rtmidi
    tmp = Path(tempfile.mkdtemp(prefix="stage-mtc-"))
    sess = tmp / "mtc.toml"
    sess.write_text(f'[film]\nfile = "{ROOT / "assets" / "demo_film.mp4"}"\n\n[sync]\nmtc_in = "stage-bench-daw"\n\n'
                    f'[[players]]\nname = "A"\nmidi = "stage-bench-daw"\n')
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="stage-bench-daw")
    out.open_virtual_port("mtc")
    daw = Transport(24, (0, 24 * 3600 * 4), clock=raw)       # the DAW's transport: one long timeline
    daw.locate(1.0, playing=False)
    sender = MtcSender(out, daw, TimecodeFormat(24), clock=raw)
    seconds = a.locates * a.every + 4
    segments = []                                      # (t_start, daw seconds at t_start)
    r = np.random.default_rng(2)
    try:
        with StageRun(sess, seconds, jack=name, midi_ports=["stage-bench-daw:mtc"], timeout=seconds + 60,
                      cwd=ROOT, silent=False) as run:
            sender.start()
            time.sleep(0.5)
            daw.play()
            segments.append((raw(), daw.at().offset))
            for _ in range(a.locates - 1):
                time.sleep(a.every)
                target = float(r.uniform(1.0, 25.0))
                daw.locate(target)
                segments.append((raw(), target))
            time.sleep(a.every)
            daw.pause()
            t_stop = raw()
    finally:
        sender.stop()
        out.delete()
        rig.stop(jackd)
    if not run.ok:
        sys.exit(run.stderr)
    frames = run.frames
    locks, errors, never = [], [], 0
    bounds = [s[0] for s in segments[1:]] + [t_stop]
    for (t0, p0), t1 in zip(segments, bounds):
        # the frame on screen against the frame the DAW was in (a whole frame: the picture's own step)
        seg = [(f["t_present"], f["film"]["frame"] - np.floor((p0 + f["t_present"] - t0) * 24))
               for f in frames if t0 < f["t_present"] < t1]
        # locked: from the first frame after which every frame is within one frame of the code
        lock_at = None
        for i in range(len(seg)):
            if all(abs(e) <= 1.0 for _, e in seg[i:]):
                lock_at = seg[i][0]
                break
        if lock_at is None:
            never += 1
            continue
        locks.append((lock_at - t0) * 1000)
        errors += [e for t, e in seg if t >= lock_at]
    errors = np.abs(np.array(errors))
    report = {"machine": machine(), "starts_and_locates": len(segments), "never_locked": never,
              "lock_ms_median": round(float(np.median(locks)), 1), "lock_ms_max": round(float(np.max(locks)), 1),
              "error_frames_median": round(float(np.median(errors)), 3),
              "error_frames_p99": round(float(np.percentile(errors, 99)), 3),
              "error_frames_max": round(float(errors.max()), 3)}
    print(f"machine: {report['machine']}")
    print(f"{len(segments)} starts and locates: lock in median {report['lock_ms_median']} ms, max "
          f"{report['lock_ms_max']} ms ({never} never locked); while locked the picture is off the code by "
          f"median {report['error_frames_median']} frames, p99 {report['error_frames_p99']}, "
          f"max {report['error_frames_max']}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
