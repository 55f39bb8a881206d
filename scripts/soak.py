#!/usr/bin/env python3
"""An evening on stage, in an hour: `stage run` at 1920x1080 under Xvfb with a 1080p H.264 film
looping, 8 players of recorded sound played into it through a JACK dummy server by a second
client, a cue switch every 10 s over OSC (liblo's `oscsend`) and a take recording throughout.

Every 10 s it reads, from outside the program, the resident memory of `stage` and of its
capture process (/proc/PID/status), their threads (/proc/PID/task) and open file descriptors
(/proc/PID/fd), and from the run's trace the frame intervals. At the end it checks the take
with its own reader (libsndfile through soundfile): the frames written against the run's
length. Targets (issue 13): memory growth at most 20 MB after the first minute; the p99 frame
interval of the last ten minutes no worse than of the first ten; no thread or descriptor more
at the end than at the start. It writes a plot of memory and frame interval over the run
(matplotlib) and prints one JSON line of figures.

    scripts/soak.py                      # the hour (BENCHMARKS.md)
    scripts/soak.py --minutes 3          # a short look that the script works
"""

from __future__ import annotations

import argparse
import json
import os
import re
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

from bench_latency import PLAYERS, machine  # noqa: E402
from bench_render import make_1080p  # noqa: E402

from stage_testing import StageRun, free_udp_port, rig  # noqa: E402

T_PRESENT = re.compile(rb'"t_present":\s*([0-9.]+)')


def proc_figures(pid: int) -> dict | None:
    try:
        rss = next(int(line.split()[1]) / 1024.0 for line in open(f"/proc/{pid}/status") if line.startswith("VmRSS:"))
        return {"rss_mb": rss, "threads": len(os.listdir(f"/proc/{pid}/task")), "fds": len(os.listdir(f"/proc/{pid}/fd"))}
    except (OSError, StopIteration):
        return None


def capture_pid(pid: int) -> int | None:
    """stage's capture process (python -m stage.audio.capture), a child of ``pid``."""
    try:
        out = subprocess.run(["pgrep", "-P", str(pid), "-f", "stage.audio.capture"], capture_output=True,
                             text=True).stdout.split()
        return int(out[0]) if out else None
    except OSError:
        return None


def recorded_sound(seconds: float = 20.0) -> np.ndarray:
    """8 channels of recorded instrument lines: the tests' four rendered lines (flute, muted
    trumpet, tenor sax, upright bass), each twice, the second time a third of the way in."""
    import soundfile as sf
    lines = sorted((ROOT / "tests" / "data").glob("*.flac"))
    n = int(seconds * 48000)
    chans = []
    for k in range(8):
        x, sr = sf.read(str(lines[k % len(lines)]), dtype="float32", always_2d=True)
        if sr != 48000:
            sys.exit(f"{lines[k % len(lines)]}: {sr} Hz, the soak plays 48 kHz")
        x = x[:, 0]
        shift = (k // len(lines)) * len(x) // 3          # the same line twice: not in step
        x = np.roll(x, shift)
        chans.append(np.resize(x, n))
    return np.stack(chans, axis=1)


def session_text(film: Path, port: int) -> str:
    s = (f'[film]\nfile = "{film}"\n\n[control]\nosc_listen = {port}\n\n'
         f'[audio]\ninput = "system"\nsamplerate = 48000\nblocksize = 256\nhop = 256\n\n'
         '[[cues]]\nname = "one"\nin = 0.0\nout = 6.0\n\n[[cues]]\nname = "two"\nin = 7.0\nout = 13.0\n')
    lines = sorted((ROOT / "tests" / "data").glob("*.flac"))
    ranges = {"flute": ("C4", "C7"), "muted_trumpet": ("E3", "C6"), "tenor_sax": ("Ab2", "E5"),
              "upright_bass": ("E1", "G3")}
    for k in range(8):
        kind = lines[k % len(lines)].name.split("-")[0]
        lo, hi = ranges.get(kind, (PLAYERS[k][1], PLAYERS[k][2]))
        s += f'\n[[players]]\nname = "{kind}{k + 1}"\nchannel = {k + 1}\nlowest = "{lo}"\nhighest = "{hi}"\n'
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--switch-every", type=float, default=10.0, help="seconds between cue switches")
    ap.add_argument("--plot", default=str(ROOT / "assets" / "soak.png"))
    ap.add_argument("--json", default=None, help="write the samples here too")
    a = ap.parse_args()
    oscsend = shutil.which("oscsend") or sys.exit("needs liblo's oscsend (Debian liblo-tools)")
    tmp = Path(tempfile.mkdtemp(prefix="stage-soak-"))
    film = make_1080p(ROOT / "assets" / "demo_film.mp4", tmp / "hd.mp4", 14.0)
    port = free_udp_port()
    sess = tmp / "soak.toml"
    sess.write_text(session_text(film, port))
    seconds = a.minutes * 60
    name, jackd = rig.start_jack(channels=8, period=256)
    disp, xvfb = rig.start_xvfb((1920, 1080))
    samples = []
    switches = 0
    t_start = time.monotonic()
    try:
        with StageRun(sess, seconds + 5, jack=name, inject=8, display=disp, size=(1920, 1080), silent=True,
                      timeout=seconds + 300, cwd=tmp, extra=["--record", "--takes", str(tmp / "takes")]) as run:
            run.injector.play_loop(recorded_sound())
            pid = run.proc.pid
            trace = open(run.trace_path, "rb")
            buf = b""
            presents: list[float] = []
            t_run0 = time.monotonic()
            next_switch = t_run0 + a.switch_every
            next_sample = t_run0
            while time.monotonic() - t_run0 < seconds and run.proc.poll() is None:
                now = time.monotonic()
                if now >= next_switch:
                    switches += 1
                    subprocess.run([oscsend, "127.0.0.1", str(port), "/stage/cue", "ff", str(switches % 2 + 1), "1"],
                                   check=True)
                    next_switch += a.switch_every
                if now >= next_sample:
                    buf += trace.read()
                    *whole, buf = buf.split(b"\n")
                    for line in whole:
                        m = T_PRESENT.search(line)
                        if m:
                            presents.append(float(m.group(1)))
                    main_f = proc_figures(pid)
                    cap = capture_pid(pid)
                    kid = proc_figures(cap) if cap else None
                    iv = np.diff(presents) * 1000 if len(presents) > 1 else np.array([])
                    samples.append({"t": round(now - t_run0, 1), "stage": main_f, "capture": kid,
                                    "frames": len(presents),
                                    "interval_p99_ms": round(float(np.percentile(iv, 99)), 2) if len(iv) else None,
                                    "interval_max_ms": round(float(iv.max()), 2) if len(iv) else None})
                    presents = presents[-1:]
                    next_sample += 10.0
                    if len(samples) % 6 == 1 and main_f:
                        print(f"{samples[-1]['t']:7.0f} s: stage {main_f['rss_mb']:.0f} MB, {main_f['threads']} threads, "
                              f"{main_f['fds']} fds; capture {kid['rss_mb'] if kid else 0:.0f} MB; frame interval p99 "
                              f"{samples[-1]['interval_p99_ms']} ms; {switches} switches", flush=True)
                time.sleep(0.05)
            trace.close()
        stats = run.stats
        code = run.returncode
    finally:
        rig.stop(xvfb)
        rig.stop(jackd)
    wall = time.monotonic() - t_start
    import soundfile as sf
    takes = sorted(p for p in (tmp / "takes").iterdir() if p.is_dir())
    take_frames = 0
    for t in takes:
        m = json.loads((t / "manifest.json").read_text())
        take_frames += sf.info(str(t / m["files"]["audio"])).frames
    good = [s for s in samples if s["stage"]]
    t_min = 60.0
    after_min = [s for s in good if s["t"] >= t_min]
    first = after_min[0] if after_min else good[0]
    last = good[-1]
    rss = lambda s: s["stage"]["rss_mb"] + (s["capture"]["rss_mb"] if s["capture"] else 0.0)  # noqa: E731
    ten = min(600.0, seconds / 3)

    def p99(lo, hi):
        v = [s["interval_p99_ms"] for s in good if lo <= s["t"] < hi and s["interval_p99_ms"] is not None]
        return round(float(np.median(v)), 2) if v else None

    def rss_median(lo, hi, key="stage"):
        v = [s[key]["rss_mb"] for s in good if lo <= s["t"] < hi and s[key]]
        return round(float(np.median(v)), 1) if v else None

    # resident memory swings by a film player's decoded head (1.25 s of frames at the picture's
    # size, ~250 MB at 1080p) around every switch, so growth is read from medians of windows
    early_rss, late_rss = rss_median(t_min, t_min + ten), rss_median(seconds - ten, seconds + 1)
    report = {
        "machine": machine(), "minutes": a.minutes, "switches": switches, "exit": code,
        "stage_rss_median_first_window_mb": early_rss, "stage_rss_median_last_window_mb": late_rss,
        "stage_rss_growth_of_medians_mb": round(late_rss - early_rss, 1) if early_rss and late_rss else None,
        "capture_rss_growth_of_medians_mb": (round(rss_median(seconds - ten, seconds + 1, "capture")
                                                   - rss_median(t_min, t_min + ten, "capture"), 1)
                                             if rss_median(t_min, t_min + ten, "capture") else None),
        "cue_switches_seen": stats.get("cue_switches") if isinstance(stats, dict) else None,
        "stage_rss_after_1_min_mb": round(first["stage"]["rss_mb"], 1), "stage_rss_end_mb": round(last["stage"]["rss_mb"], 1),
        "stage_rss_growth_mb": round(last["stage"]["rss_mb"] - first["stage"]["rss_mb"], 1),
        "capture_rss_growth_mb": round((last["capture"] or {"rss_mb": 0})["rss_mb"] - (first["capture"] or {"rss_mb": 0})["rss_mb"], 1),
        "total_rss_growth_mb": round(rss(last) - rss(first), 1),
        "stage_rss_max_mb": round(max(s["stage"]["rss_mb"] for s in good), 1),
        "threads_start_end": [good[0]["stage"]["threads"], first["stage"]["threads"], last["stage"]["threads"]],
        "fds_start_end": [good[0]["stage"]["fds"], first["stage"]["fds"], last["stage"]["fds"]],
        "capture_threads_fds_end": [last["capture"]["threads"], last["capture"]["fds"]] if last["capture"] else None,
        "frame_interval_p99_first_10_min_ms (median of 10 s windows)": p99(0, ten),
        "frame_interval_p99_last_10_min_ms (median of 10 s windows)": p99(seconds - ten, seconds + 1),
        "frame_interval_worst_window_p99_ms": max((s["interval_p99_ms"] or 0) for s in good),
        "takes": len(takes), "take_seconds": round(take_frames / 48000, 1), "wall_s": round(wall, 1),
        "run_stats": {k: stats.get(k) for k in ("frames_drawn", "frames_dropped", "frames_late", "frame_interval_p50_ms",
                                               "frame_interval_p99_ms", "overruns", "audio_blocks")} if isinstance(stats, dict) else None,
    }
    if a.json:
        Path(a.json).write_text(json.dumps({"report": report, "samples": samples}))
    plot(samples, Path(a.plot), report)
    print(f"machine: {report['machine']}")
    print(json.dumps(report))


def plot(samples, out: Path, report) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    good = [s for s in samples if s["stage"]]
    t = np.array([s["t"] for s in good]) / 60
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    ax1.plot(t, [s["stage"]["rss_mb"] for s in good], label="stage")
    ax1.plot(t, [s["capture"]["rss_mb"] if s["capture"] else np.nan for s in good], label="capture process")
    ax1.set_ylabel("resident MB")
    ax1.legend(loc="center right")
    ax1.set_title(f"soak: {report['minutes']:.0f} min at 1920x1080, 8 players, a cue switch every 10 s, recording")
    ax2.plot(t, [s["interval_p99_ms"] for s in good], ".", ms=3, label="p99 of each 10 s")
    ax2.plot(t, [s["interval_max_ms"] for s in good], ".", ms=2, alpha=0.4, label="max of each 10 s")
    ax2.axhline(1000 / 60, color="grey", lw=0.8)
    ax2.set_ylabel("frame interval ms")
    ax2.set_xlabel("minutes")
    ax2.set_yscale("log")
    ax2.legend(loc="upper right")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)


if __name__ == "__main__":
    main()
