#!/usr/bin/env python3
"""Pitch accuracy on sampled instruments: stage's tracker against raw aubio and pYIN.

Runs, on the set scripts/pitchset.py renders (eleven instruments, five styles, dry and with
reverb and room noise), side by side:

- ``stage``: the live tracker, exactly as ``stage analyze --lowest --highest`` runs it, given
  each instrument's range as a session would;
- ``aubio yinfft`` and ``aubio yin``: raw aubio streamed as a new user would (window 2048,
  hop 256, aubio's own -50 dB silence gate; a value of 0 is "no pitch");
- ``pyin``: librosa's pYIN, offline (its Viterbi pass sees the whole file), with the
  instrument's range and a frame as long as stage's longest window for that range (1024 for a
  flute, 4096 for a bass), hop 256; scored by the same causal rule, each frame's value stamped
  with its last sample (its centre + half a frame); and again as ``pyin centred``, each value
  at its frame's centre, as if it could hear half a frame ahead.

Notes are timed from when they are first heard (``--onsets midi``: from the MIDI note-on,
before a slow attack speaks). Scored with the MIREX melody metrics (mir_eval.melody) on a
256-sample grid: raw pitch and
raw chroma accuracy (50 cents), voicing recall, voicing false alarm in release tails (up to
250 ms after a note-off) and in rests (the rest of the unvoiced time). Streamed trackers are
scored causally: a value stamped at time t (its last input sample) counts from t on. And
time-to-lock: from each note's onset until the shown pitch is within 50 cents of the note and
stays so for 20 ms (median, 90th percentile, share of notes never locked before they end).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pitchset  # noqa: E402

from stage.audio.score import causal_on, lock_times  # noqa: E402

HOP = 256
SR = pitchset.SR
METHODS = ["stage", "aubio yinfft", "aubio yin", "pyin"]
TAIL_S = 0.25
LOCK_HOLD_S = 0.020


# ---------------------------------------------------------------- trackers: (stamps, f0) rows

def run_stage(x, inst):
    from stage.audio.analysis import analyze_signal
    t0 = time.thread_time()
    rows = [(t, fr.f0_hz) for t, fr in analyze_signal(x, SR, HOP, inst.lowest, inst.highest)]
    cpu = time.thread_time() - t0
    t, f = np.array(rows).T
    return t, f, cpu


def run_aubio(x, method):
    import aubio
    p = aubio.pitch(method, 2048, HOP, SR)
    p.set_unit("Hz")
    t0 = time.thread_time()
    n = len(x) // HOP
    f = np.array([float(p(x[i * HOP:(i + 1) * HOP])[0]) for i in range(n)])
    cpu = time.thread_time() - t0
    return (np.arange(n) + 1) * HOP / SR - 1 / SR, f, cpu


def pyin_frame(inst) -> int:
    """pYIN's frame for the instrument's range, as long as stage's own longest window for it
    (4096 for a bass down to E1, 1024 for a flute)."""
    from stage.audio.analysis import window_for
    return window_for(inst.lowest, SR, HOP)


def run_pyin(x, inst):
    import librosa
    t0 = time.thread_time()
    f, voiced, _p = librosa.pyin(x, fmin=librosa.midi_to_hz(inst.lowest - 1), fmax=librosa.midi_to_hz(inst.highest + 1),
                                 sr=SR, frame_length=pyin_frame(inst), hop_length=HOP)
    cpu = time.thread_time() - t0
    f = np.where(voiced, np.nan_to_num(f), 0.0)
    return np.arange(len(f)) * HOP / SR, f, cpu          # frame centres (librosa centres its frames)


def signed_cents(est, ref):
    ok = (ref > 0) & (est > 0)
    c = 1200 * np.log2(est[ok] / ref[ok])
    return c[np.abs(c) <= 50].astype(np.float32)


def score_item(args):
    item, methods, onsets = args
    if onsets == "midi":
        item.notes = item.keyed
    import mir_eval
    x, sr = sf.read(str(item.audio), dtype="float32")
    assert sr == SR
    grid = np.arange(len(x) // HOP) * HOP / SR
    ref = pitchset.truth(item.notes, grid)
    ends = np.array([n[1] for n in item.notes])
    since_end = grid[:, None] - ends[None, :]
    tail = ((since_end >= 0) & (since_end < TAIL_S)).any(axis=1) & (ref == 0)
    rest = (ref == 0) & ~tail
    res = {}
    runs = []
    for meth in methods:
        if meth == "stage":
            runs.append((meth, *run_stage(x, item.instrument)))
        elif meth == "pyin":
            centres, f, cpu = run_pyin(x, item.instrument)
            runs.append(("pyin", centres + (pyin_frame(item.instrument) / 2 - 1) / SR, f, cpu))   # its last sample
            runs.append(("pyin centred", centres, f, cpu))
        else:
            runs.append((meth, *run_aubio(x, meth.split()[1])))
    for meth, st, f, cpu in runs:
        est = causal_on(grid, st, f)
        rv, rc, ev, ec = mir_eval.melody.to_cent_voicing(grid, ref, grid, est)
        res[meth] = {
            "n_voiced": int((ref > 0).sum()),
            "rpa_hits": float(mir_eval.melody.raw_pitch_accuracy(rv, rc, ev, ec) * (ref > 0).sum()),
            "rca_hits": float(mir_eval.melody.raw_chroma_accuracy(rv, rc, ev, ec) * (ref > 0).sum()),
            "vr_hits": int(((ref > 0) & (est > 0)).sum()),
            "n_tail": int(tail.sum()), "fa_tail": int((tail & (est > 0)).sum()),
            "n_rest": int(rest.sum()), "fa_rest": int((rest & (est > 0)).sum()),
            "locks": lock_times(item.notes, st, f, LOCK_HOLD_S),
            # the bias: signed cents off the note, where the shown pitch is within 50 of it
            "cents": signed_cents(est, ref),
            "cpu_s": cpu, "audio_s": len(x) / SR,
        }
    return item.instrument.name, item.instrument.family, item.style, item.variant, res


def summarize(rows: list[dict]) -> dict:
    n = sum(r["n_voiced"] for r in rows)
    locks = [v for r in rows for v in r["locks"]]
    got = [v for v in locks if v is not None]
    nt, nr = sum(r["n_tail"] for r in rows), sum(r["n_rest"] for r in rows)
    return {
        "rpa": sum(r["rpa_hits"] for r in rows) / n, "rca": sum(r["rca_hits"] for r in rows) / n,
        "vr": sum(r["vr_hits"] for r in rows) / n,
        "vfa_tail": sum(r["fa_tail"] for r in rows) / max(1, nt),
        "vfa_rest": sum(r["fa_rest"] for r in rows) / max(1, nr),
        "lock_med_ms": 1000 * statistics.median(got) if got else float("nan"),
        "lock_p90_ms": 1000 * float(np.percentile(got, 90)) if got else float("nan"),
        "never": 1 - len(got) / max(1, len(locks)), "notes": len(locks),
        "cpu": sum(r["cpu_s"] for r in rows) / sum(r["audio_s"] for r in rows),
        "bias_cents": float(np.median(np.concatenate([r["cents"] for r in rows]))) if n else float("nan"),
    }


def line(name, s):
    return (f"| {name} | {100 * s['rpa']:.1f} | {100 * s['rca']:.1f} | {100 * s['vr']:.1f} | "
            f"{100 * s['vfa_tail']:.1f} | {100 * s['vfa_rest']:.1f} | {s['lock_med_ms']:.0f} | "
            f"{s['lock_p90_ms']:.0f} | {100 * s['never']:.1f} | {s['bias_cents']:+.1f} | {100 * s['cpu']:.2f} |")


HEAD = ("| | RPA % | RCA % | voicing recall % | VFA tails % | VFA rests % | lock median ms | "
        "lock p90 ms | never locked % | bias, cents | CPU % of a core |\n|---|---|---|---|---|---|---|---|---|---|---|")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", type=Path, default=pitchset.DEFAULT_OUT, help="where the rendered set lives")
    ap.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, of {METHODS}")
    ap.add_argument("--instruments", default="", help="comma-separated names (default: all)")
    ap.add_argument("--styles", default="", help=f"comma-separated, of {pitchset.STYLES}")
    ap.add_argument("--variants", default="", help="dry,room")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--onsets", choices=("heard", "midi"), default="heard",
                    help="notes start when first heard (default) or at their MIDI note-on")
    ap.add_argument("--json", type=Path, help="write every figure here")
    a = ap.parse_args()
    methods = [m for m in a.methods.split(",") if m]
    items = pitchset.build(a.set, instruments=[s for s in a.instruments.split(",") if s] or None,
                           styles=[s for s in a.styles.split(",") if s] or None,
                           variants=[s for s in a.variants.split(",") if s] or None)
    print(f"machine: {platform.node()} {platform.machine()} python {platform.python_version()}; "
          f"{len(items)} lines, {sum(len(i.notes) for i in items)} notes", flush=True)
    with ProcessPoolExecutor(a.jobs) as ex:
        results = list(ex.map(score_item, [(i, methods, a.onsets) for i in items]))
    report = {}
    methods = list(results[0][4]) if results else methods
    for meth in methods:
        groups: dict[str, list] = {}
        for inst, fam, style, variant, res in results:
            r = res[meth]
            for key in (f"instrument/{inst}", f"family/{fam}", f"style/{style}", f"variant/{variant}", "overall"):
                groups.setdefault(key, []).append(r)
        report[meth] = {k: summarize(v) for k, v in groups.items()}
    for kind in ("instrument", "family", "style", "variant"):
        keys = sorted({k for m in report.values() for k in m if k.startswith(kind + "/")})
        print(f"\n### by {kind}\n")
        for meth in methods:
            print(f"**{meth}**\n\n{HEAD}")
            for k in keys:
                print(line(k.split("/", 1)[1], report[meth][k]))
            print(line("**overall**", report[meth]["overall"]))
            print()
    print("\n### overall\n\n" + HEAD)
    for meth in methods:
        print(line(meth, report[meth]["overall"]))
    if a.json:
        a.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
