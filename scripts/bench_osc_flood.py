#!/usr/bin/env python3
"""An OSC flood against a running show: 10,000 packets a second for 10 s into `stage run`'s
OSC control port, and what it cost the picture.

`stage run` headless at 1280x720, 60 fps, the demo film with two cues and the demo
performance, OSC control on localhost. Each round: 3 s calm, then the flood (a quarter each
valid `/stage/studio_view`, malformed packets, unknown addresses, known actions with bad
arguments; from `python -m stage_testing.flood`, a process of its own, niced as a sender on
another machine would not compete here), then 3 s calm. It prints the packets sent, the run's
own counts (stats `osc_in`), and the frame interval (from the trace's t_present) during the
flood against the calm either side. A round without any flood is run first, as the control.
Target (issue 13): counted and dropped, never reaching an action, the picture no more than one
frame slower.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_latency import machine  # noqa: E402
from stage_testing import StageRun, free_udp_port  # noqa: E402

SESSION = """\
[film]
file = "{root}/assets/demo_film.mp4"
[display]
fps = 60
[audio]
file = "{root}/assets/demo_performance.flac"
[control]
osc_listen = {port}
[[cues]]
name = "one"
in = 0.0
out = 10.0
[[cues]]
name = "two"
in = 15.0
out = 25.0
[[players]]
name = "Trumpet"
channel = 1
lowest = "E3"
highest = "C6"
[[players]]
name = "Bass"
channel = 2
lowest = "E1"
highest = "G3"
"""


def now():
    return time.clock_gettime(time.CLOCK_MONOTONIC_RAW)


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, max(0, int(math.ceil(q * len(v))) - 1))]


def intervals(frames, t0, t1):
    t = [f["t_present"] for f in frames]
    return [b - a for a, b in zip(t, t[1:]) if t0 <= a and b <= t1]


def summary(v):
    late = sum(x > 2 / 60 for x in v)
    return {"frames": len(v), "median_ms": round(1e3 * statistics.median(v), 2), "p95_ms": round(1e3 * pct(v, .95), 2),
            "p99_ms": round(1e3 * pct(v, .99), 2), "max_ms": round(1e3 * max(v), 2), "over_2_frames": late}


def one_round(tmp: Path, rate: float, seconds: float, calm: float = 3.0) -> dict:
    port = free_udp_port()
    path = tmp / f"flood-{port}.toml"
    path.write_text(SESSION.format(root=ROOT, port=port))
    sent = None
    with StageRun(path, calm + seconds + calm + 0.5, size=(1280, 720)) as run:
        time.sleep(calm)
        t0 = now()
        if rate > 0:
            r = subprocess.run(["nice", "-n", "19", sys.executable, "-m", "stage_testing.flood", "127.0.0.1",
                                str(port), "--rate", str(rate), "--seconds", str(seconds)],
                               capture_output=True, text=True, cwd=ROOT, timeout=seconds + 60)
            sent = json.loads(r.stdout)
        else:
            time.sleep(seconds)
        t1 = now()
    assert run.ok, run.stderr
    frames = run.frames
    out = {"sent": sent, "osc_in": run.stats["osc_in"], "controls": run.stats["controls"],
           "controls_rejected": run.stats["controls_rejected"], "cue_switches": run.stats["cue_switches"],
           "calm": summary(intervals(frames, frames[0]["t_present"] + 0.5, t0) + intervals(frames, t1 + 0.2, 1e18)),
           "flood": summary(intervals(frames, t0, t1))}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=10000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    import tempfile
    tmp = Path(tempfile.mkdtemp(prefix="bench-osc-"))
    print(f"# {machine()}")
    rows = [("none (control)", one_round(tmp, 0, a.seconds))]
    for i in range(a.rounds):
        rows.append((f"{a.rate:.0f}/s x {a.seconds:g} s #{i + 1}", one_round(tmp, a.rate, a.seconds)))
    for name, r in rows:
        print(json.dumps({"round": name, **r}))
    print()
    print("| flood | packets sent | read | acted | malformed | unknown | bad args | flood dropped | kernel dropped "
          "| cue switches | interval calm: median / p95 / p99 / max | during: median / p95 / p99 / max |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, r in rows:
        o, c, f = r["osc_in"], r["calm"], r["flood"]
        sent = r["sent"]["total"] if r["sent"] else 0
        print(f"| {name} | {sent} | {o['received']} | {o['accepted']} | {o['malformed']} | {o['unknown']} | "
              f"{o['bad_args']} | {o['flood']} | {o['kernel_dropped']} | {r['cue_switches']} | "
              f"{c['median_ms']} / {c['p95_ms']} / {c['p99_ms']} / {c['max_ms']} ms | "
              f"{f['median_ms']} / {f['p95_ms']} / {f['p99_ms']} / {f['max_ms']} ms |")


if __name__ == "__main__":
    main()
