#!/usr/bin/env python3
"""An evening of cue switches: resident memory of `stage run` at 1920x1080 over 200 switches.

Makes a 1080p H.264 film (the demo's picture, scaled) with two cues of 3 s, runs `stage run`
headless at 1920x1080 with OSC control, and switches cue 200 times with liblo's `oscsend`
(`/stage/cue N 1`: at once), each time waiting until the trace shows the new cue; it reads the
process's resident memory (/proc/PID/status) after each switch. Target (issue 9): after the
200th within 100 MB of after the 4th.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_latency import machine  # noqa: E402
from bench_render import make_1080p  # noqa: E402

from stage_testing import StageRun, free_udp_port  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def last_cue(trace: Path):
    try:
        lines = trace.read_text().splitlines()
    except FileNotFoundError:
        return None
    for line in reversed(lines[-5:]):
        try:
            return json.loads(line)["film"]["cue"]
        except (ValueError, KeyError, TypeError):
            continue
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--switches", type=int, default=200)
    a = ap.parse_args()
    oscsend = shutil.which("oscsend") or sys.exit("needs liblo's oscsend (Debian liblo-tools)")
    tmp = Path(tempfile.mkdtemp(prefix="stage-switches-"))
    film = make_1080p(ROOT / "assets" / "demo_film.mp4", tmp / "hd.mp4", 8.0)
    port = free_udp_port()
    sess = tmp / "s.toml"
    sess.write_text(f'[film]\nfile = "{film}"\n\n[control]\nosc_listen = {port}\n\n'
                    f'[audio]\nfile = "{ROOT / "assets" / "demo_performance.flac"}"\n\n'
                    '[[cues]]\nname = "one"\nin = 0.0\nout = 3.0\n\n[[cues]]\nname = "two"\nin = 4.0\nout = 7.0\n\n'
                    '[[players]]\nname = "A"\nchannel = 1\n')
    rss, times = {}, []
    with StageRun(sess, 3600, size=(1920, 1080), timeout=60) as run:
        pid = run.proc.pid
        rss[0] = rss_mb(pid)
        for k in range(1, a.switches + 1):
            want = k % 2                                  # cue index 1, 0, 1, ...
            t0 = time.monotonic()
            subprocess.run([oscsend, "127.0.0.1", str(port), "/stage/cue", "ff", str(want + 1), "1"], check=True)
            while last_cue(run.trace_path) != want and time.monotonic() - t0 < 20:
                time.sleep(0.02)
            if last_cue(run.trace_path) != want:
                sys.exit(f"switch {k} did not happen")
            times.append(time.monotonic() - t0)
            time.sleep(1.0)                               # the old player's decoder ends, its frames let go
            rss[k] = rss_mb(pid)
            if k in (1, 4, 10, 50, 100, 150, 200) or k == a.switches:
                print(f"switch {k:4d}: {rss[k]:7.1f} MB resident", flush=True)
        run.proc.terminate()
    growth = rss[a.switches] - rss[4]
    early = float(np.median([rss[k] for k in range(4, min(14, a.switches + 1))]))
    late = float(np.median([rss[k] for k in range(max(4, a.switches - 9), a.switches + 1)]))
    report = {"machine": machine(), "size": "1920x1080", "switches": a.switches, "rss_start_mb": round(rss[0], 1),
              "rss_after_4_mb": round(rss[4], 1), "rss_after_last_mb": round(rss[a.switches], 1),
              "rss_max_mb": round(max(rss.values()), 1), "growth_mb": round(growth, 1),
              "rss_median_switches_4_13_mb": round(early, 1), "rss_median_last_10_mb": round(late, 1),
              "switch_s_median": round(sorted(times)[len(times) // 2], 3)}
    print(f"machine: {report['machine']}")
    print(f"{a.switches} switches at 1920x1080: {rss[4]:.0f} MB after the 4th, {rss[a.switches]:.0f} MB after the "
          f"last (growth {growth:+.0f} MB, target within 100); most {max(rss.values()):.0f} MB; median of "
          f"switches 4-13 {early:.0f} MB, of the last 10 {late:.0f} MB")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
