#!/usr/bin/env python3
"""Pitch accuracy on sampled and modelled instruments: stage's tracker against pYIN, on a
tuning split and a held-out split, every note kept.

Runs, on the set scripts/pitchset.py renders (FluidR3 GM and TimGM6mb through fluidsynth,
freepats through timidity, STK's physical models; five styles; dry and in a room), side by
side:

- ``stage``: the live tracker, exactly as ``stage analyze --lowest --highest`` runs it, given
  each instrument's range as a session would;
- ``pyin``: librosa's pYIN with the instrument's range and a frame as long as stage's longest
  window for that range (1024 for a flute, 4096 for a bass), hop 256, each frame's value
  stamped with its last sample (its centre + half a frame): causal in time, though its Viterbi
  pass sees the whole file (no causal tracker can); and again as ``pyin centred``, each value
  at its frame's centre, as if it heard half a frame ahead. Its results are cached under
  build/ (they do not change when stage does);
- optionally raw ``aubio yinfft`` and ``aubio yin`` (window 2048, hop 256).

Notes are timed from their MIDI note-on (``--onsets midi``, the default: before a slow attack
speaks) or from when they are first heard (``--onsets heard``, the old set's timing). Scored
on a 256-sample grid, causally: a value stamped at time t (its last input sample) counts from
t on. Per line and method:

- RPA / RCA: raw pitch / raw chroma accuracy at 50 cents (mir_eval.melody);
- voicing recall; false alarms in release tails (up to 250 ms after a note-off) and in rests
  (the rest of the unvoiced time);
- wrong-note flash: a note during which a pitch is shown 450 cents or more off the note (a
  fourth, less a quarter-tone of the sample's tuning) that is not the previous note (more
  than 50 cents from it): the share of notes with one;
- time to lock: from each note's start until the shown pitch is within 50 cents and stays for
  20 ms (or to the note's end): median, 90th percentile, share of notes never locked;
- wobble: of the notes held 150 ms or more that locked, the share during which, from 20 ms
  after the lock to the note's end, the shown value strays more than 50 cents (and less than
  a flash's 450) from the note;
- bias: the median signed error of the frames within 50 cents.
"""

from __future__ import annotations

import argparse
import hashlib
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

from stage.audio.score import causal_on, flashes, lock_times, wobbles  # noqa: E402

HOP = 256
SR = pitchset.SR
METHODS = ["stage", "pyin"]
ALL_METHODS = METHODS + ["stage:field=value+...", "aubio yinfft", "aubio yin", "pesto", "stage wait N (N hops)"]
TAIL_S = 0.25
LOCK_HOLD_S = 0.020


# ---------------------------------------------------------------- trackers: (stamps, f0) rows

def stage_settings(meth: str):
    """``stage`` or ``stage:field=value+field=value``: the live tracker with AnalysisSettings
    overridden (``stage:tracker=rules``, ``stage:tracker=hmm+hmm_lag=1``), to compare in one run."""
    from dataclasses import fields, replace
    from stage.audio.analysis import AnalysisSettings
    s = AnalysisSettings()
    if ":" not in meth:
        return s
    kinds = {f.name: type(getattr(s, f.name)) for f in fields(s)}
    over = dict(kv.split("=", 1) for kv in meth.split(":", 1)[1].split("+") if kv)
    return replace(s, **{k: kinds[k](v) for k, v in over.items()})


def run_stage(x, inst, settings=None):
    from stage.audio.analysis import AnalysisSettings, analyze_signal
    settings = settings or AnalysisSettings()
    t0 = time.thread_time()
    rows = [(t, fr.f0_hz) for t, fr in analyze_signal(x, SR, HOP, inst.lowest, inst.highest, settings)]
    cpu = time.thread_time() - t0
    t, f = np.array(rows).T
    return t, f, cpu


def waited(f: np.ndarray, hops: int) -> np.ndarray:
    """A display that waits: a new pitch (more than 50 cents from the one shown) is shown only
    once the tracker has read it ``hops`` hops running (from the last of them on); meanwhile the
    pitch shown stays while the tracker reads anything, else nothing is shown. Causal: what
    any fixed wait for a change to persist buys in flashes, and costs in time to lock."""
    out = np.zeros_like(f)
    shown = cand = 0.0
    run = 0
    for i, v in enumerate(f):
        if v <= 0:
            shown = cand = 0.0
            run = 0
        elif shown > 0 and abs(1200 * np.log2(v / shown)) <= 50:
            shown, cand, run = v, 0.0, 0
        else:
            if cand > 0 and abs(1200 * np.log2(v / cand)) <= 50:
                run += 1
            else:
                cand, run = v, 1
            if run >= hops:
                shown, cand, run = v, 0.0, 0
        out[i] = shown
    return out


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
    """pYIN's frame for the instrument's range, as long as the old tracker's longest window
    for it (4096 for a bass down to E1, 1024 for a flute)."""
    from stage.audio.analysis import window_for
    return window_for(inst.lowest, SR, HOP)


def run_pyin(x, inst, audio: Path, cache: Path):
    """Frame centres, f0 (0 unvoiced), CPU seconds; cached by the audio's content."""
    frame = pyin_frame(inst)
    key = hashlib.sha1(x.tobytes() + f"{inst.lowest},{inst.highest},{frame},{HOP}".encode()).hexdigest()[:16]
    path = cache / f"{audio.stem}-{key}.npz"
    if path.exists():
        z = np.load(path)
        return z["t"], z["f"], float(z["cpu"])
    import librosa
    t0 = time.thread_time()
    f, voiced, _p = librosa.pyin(x, fmin=librosa.midi_to_hz(inst.lowest - 1), fmax=librosa.midi_to_hz(inst.highest + 1),
                                 sr=SR, frame_length=frame, hop_length=HOP)
    cpu = time.thread_time() - t0
    f = np.where(voiced, np.nan_to_num(f), 0.0)
    t = np.arange(len(f)) * HOP / SR          # frame centres (librosa centres its frames)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, t=t, f=f, cpu=cpu)
    return t, f, cpu


def run_pesto(x, inst, audio: Path, cache: Path, conf_thr: float = 0.5):
    """pesto-pitch (its mir-1k_g7 weights, shipped in its package) exactly as its streaming mode
    runs hop by hop at hop 256 with ``mirror=1`` (each frame sees the newest 4224 samples, the
    rest of its 8192-sample kernel zeros: no look-ahead), computed here for all hops at once
    (the same numbers: checked against the streaming model); stamps at each hop's last sample,
    f0 0 where its confidence is under 0.5 or outside the instrument's range. Needs torch and
    pesto-pitch installed (not the project's dependencies: see BENCHMARKS.md). Cached."""
    key = hashlib.sha1(x.tobytes() + f"pesto2,{HOP}".encode()).hexdigest()[:16]
    path = cache / f"{audio.stem}-{key}.npz"
    if path.exists():
        z = np.load(path)
        f, conf, cpu = z["f"], z["conf"], float(z["cpu"])
    else:
        import types
        sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))   # pesto imports it for file loading only
        import torch
        from pesto.loader import load_model
        from pesto.utils import reduce_activations
        torch.set_num_threads(1)
        m = load_model("mir-1k_g7", step_size=1000 * HOP / SR, sampling_rate=SR, streaming=True, mirror=1.0)
        cq = m.preprocessor.hcqt_kernels.cqt_kernels[0]
        keep = cq.kernel_width - cq.conv.mirror.padding[1]
        w = cq.conv.weight[:, 0, :keep].T.contiguous()
        n = len(x) // HOP
        xp = np.concatenate([np.zeros(keep, np.float32), x.astype(np.float32)])
        win = np.lib.stride_tricks.sliding_window_view(xp, keep)
        fs, cs = [], []
        t0 = time.thread_time()
        with torch.inference_mode():
            for a in range(0, n, 2048):
                idx = np.arange(a, min(n, a + 2048))
                fr = torch.from_numpy(np.ascontiguousarray(win[(idx + 1) * HOP]))
                c = (fr @ w).view(-1, 2, cq.n_bins) * cq.sqrt_lengths.view(1, 1, cq.n_bins)
                mag = c.pow(2).sum(1)
                xx = (10 * torch.log10(mag.clamp(min=torch.finfo(torch.float32).eps ** 2))).unsqueeze(1)
                conf = m.confidence(xx.mul(np.log(10) / 10.).exp().squeeze(1))
                act = m.encoder(m.crop_cqt(xx)).roll(-round(m.shift.item() * m.bins_per_semitone), -1)
                p = reduce_activations(act, reduction=m.reduction)
                fs.append((440 * 2 ** ((p - 69) / 12)).numpy())
                cs.append(conf.numpy())
        cpu = time.thread_time() - t0
        f, conf = np.concatenate(fs), np.concatenate(cs)
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(path, f=f, conf=conf, cpu=cpu)
    lo, hi = 440 * 2 ** ((inst.lowest - 1 - 69) / 12), 440 * 2 ** ((inst.highest + 1 - 69) / 12)
    f = np.where((conf >= conf_thr) & (f >= lo) & (f <= hi), f, 0.0)
    return (np.arange(len(f)) + 1) * HOP / SR - 1 / SR, f, cpu


def signed_cents(est, ref):
    ok = (ref > 0) & (est > 0)
    c = 1200 * np.log2(est[ok] / ref[ok])
    return c[np.abs(c) <= 50].astype(np.float32)


def score_item(args):
    item, methods, onsets, cache = args
    notes = item.keyed if onsets == "midi" else item.notes
    import mir_eval
    x, sr = sf.read(str(item.audio), dtype="float32")
    assert sr == SR
    grid = np.arange(len(x) // HOP) * HOP / SR
    ref = pitchset.truth(notes, grid)
    ends = np.array([n[1] for n in notes])
    since_end = grid[:, None] - ends[None, :]
    tail = ((since_end >= 0) & (since_end < TAIL_S)).any(axis=1) & (ref == 0)
    rest = (ref == 0) & ~tail
    res = {}
    runs = []
    for meth in methods:
        if meth == "stage" or meth.startswith("stage:"):
            runs.append((meth, *run_stage(x, item.instrument, stage_settings(meth))))
        elif meth == "pyin":
            centres, f, cpu = run_pyin(x, item.instrument, item.audio, cache)
            runs.append(("pyin", centres + (pyin_frame(item.instrument) / 2 - 1) / SR, f, cpu))   # its last sample
            runs.append(("pyin centred", centres, f, cpu))
        elif meth.startswith("stage wait "):
            st, f, cpu = run_stage(x, item.instrument)
            runs.append((meth, st, waited(f, int(meth.split()[2])), cpu))
        elif meth == "pesto":
            runs.append(("pesto", *run_pesto(x, item.instrument, item.audio, cache.parent / "pesto")))
        else:
            runs.append((meth, *run_aubio(x, meth.split()[1])))
    for meth, st, f, cpu in runs:
        est = causal_on(grid, st, f)
        rv, rc, ev, ec = mir_eval.melody.to_cent_voicing(grid, ref, grid, est)
        nv = int((ref > 0).sum())
        res[meth] = {
            "n_voiced": nv,
            "rpa_hits": float(mir_eval.melody.raw_pitch_accuracy(rv, rc, ev, ec) * nv) if nv else 0.0,
            "rca_hits": float(mir_eval.melody.raw_chroma_accuracy(rv, rc, ev, ec) * nv) if nv else 0.0,
            "vr_hits": int(((ref > 0) & (est > 0)).sum()),
            "n_tail": int(tail.sum()), "fa_tail": int((tail & (est > 0)).sum()),
            "n_rest": int(rest.sum()), "fa_rest": int((rest & (est > 0)).sum()),
            "locks": (locks := lock_times(notes, st, f, LOCK_HOLD_S)),
            "flashes": flashes(notes, grid, est),
            "wobbles": [w for w in wobbles(notes, grid, est, locks) if w is not None],
            # the bias: signed cents off the note, where the shown pitch is within 50 of it
            "cents": signed_cents(est, ref),
            "cpu_s": cpu, "audio_s": len(x) / SR,
        }
    return item.instrument.key, item.instrument.family, item.style, item.variant, item.split, res


def summarize(rows: list[dict]) -> dict:
    n = sum(r["n_voiced"] for r in rows)
    locks = [v for r in rows for v in r["locks"]]
    fl = [v for r in rows for v in r["flashes"]]
    got = [v for v in locks if v is not None]
    nt, nr = sum(r["n_tail"] for r in rows), sum(r["n_rest"] for r in rows)
    cents = np.concatenate([r["cents"] for r in rows]) if rows else np.zeros(0)
    return {
        "rpa": sum(r["rpa_hits"] for r in rows) / max(1, n), "rca": sum(r["rca_hits"] for r in rows) / max(1, n),
        "vr": sum(r["vr_hits"] for r in rows) / max(1, n),
        "vfa_tail": sum(r["fa_tail"] for r in rows) / max(1, nt),
        "vfa_rest": sum(r["fa_rest"] for r in rows) / max(1, nr),
        "flash": sum(fl) / max(1, len(fl)),
        "wobble": sum(w for r in rows for w in r.get("wobbles", [])) / max(1, sum(len(r.get("wobbles", [])) for r in rows)),
        "lock_med_ms": 1000 * statistics.median(got) if got else float("nan"),
        "lock_p90_ms": 1000 * float(np.percentile(got, 90)) if got else float("nan"),
        "never": 1 - len(got) / max(1, len(locks)), "notes": len(locks),
        "cpu": sum(r["cpu_s"] for r in rows) / max(1e-9, sum(r["audio_s"] for r in rows)),
        "bias_cents": float(np.median(cents)) if len(cents) else float("nan"),
    }


def full_line(name, s):
    return (f"| {name} | {s['notes']} | {100 * s['rpa']:.1f} | {100 * s['rca']:.1f} | {100 * s['vr']:.1f} | "
            f"{100 * s['flash']:.1f} | {100 * s['wobble']:.1f} | {100 * s['vfa_tail']:.1f} | {100 * s['vfa_rest']:.1f} | "
            f"{s['lock_med_ms']:.0f} / {s['lock_p90_ms']:.0f} | {100 * s['never']:.1f} | {s['bias_cents']:+.1f} | "
            f"{100 * s['cpu']:.2f} |")


FULL_HEAD = ("| | notes | RPA % | RCA % | voicing recall % | notes with a wrong-note flash % | held notes that wobble % | "
             "VFA tails % | VFA rests % | lock median / p90 ms | never locked % | bias, cents | CPU % of a core |\n"
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|")

SIDE_HEAD = ("| | notes | RPA stage | RPA pyin | RPA pyin centred | flash % stage | flash % pyin | "
             "lock ms stage | lock ms pyin | never % stage | never % pyin | wobble % stage | wobble % pyin | "
             "FA rests % stage | FA rests % pyin |\n"
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def side_line(name, rep, key):
    s = rep["stage"][key]
    p = rep.get("pyin", {}).get(key)
    c = rep.get("pyin centred", {}).get(key)

    def f(d, k, scale=100, fmt="{:.1f}"):
        return fmt.format(scale * d[k]) if d else "-"

    def lk(d):
        return f"{d['lock_med_ms']:.0f} / {d['lock_p90_ms']:.0f}" if d else "-"
    return (f"| {name} | {s['notes']} | {f(s, 'rpa')} | {f(p, 'rpa')} | {f(c, 'rpa')} | {f(s, 'flash')} | "
            f"{f(p, 'flash')} | {lk(s)} | {lk(p)} | {f(s, 'never')} | {f(p, 'never')} | {f(s, 'wobble')} | "
            f"{f(p, 'wobble')} | {f(s, 'vfa_rest')} | "
            f"{f(p, 'vfa_rest')} |")


TARGETS = [("wrong-note flashes overall <= 2%", lambda r: r["overall"]["flash"] <= 0.02, lambda r: f"{100 * r['overall']['flash']:.1f}%"),
           ("flashes on any instrument <= 5%",
            lambda r: max(v["flash"] for k, v in r.items() if k.startswith("instrument/")) <= 0.05,
            lambda r: "worst {:.1f}% ({})".format(*max((100 * v["flash"], k.split("/", 1)[1]) for k, v in r.items() if k.startswith("instrument/")))),
           ("RPA overall >= 88", lambda r: r["overall"]["rpa"] >= 0.88, lambda r: f"{100 * r['overall']['rpa']:.1f}"),
           ("RPA bass >= 90", lambda r: r.get("family/bass", {"rpa": 1})["rpa"] >= 0.90,
            lambda r: f"{100 * r.get('family/bass', {'rpa': float('nan')})['rpa']:.1f}"),
           ("room within 4 points of dry", lambda r: r["variant/dry"]["rpa"] - r["variant/room"]["rpa"] <= 0.04,
            lambda r: f"{100 * r['variant/room']['rpa']:.1f} / {100 * r['variant/dry']['rpa']:.1f}"),
           ("lock median <= 25 ms", lambda r: r["overall"]["lock_med_ms"] <= 25, lambda r: f"{r['overall']['lock_med_ms']:.0f} ms"),
           ("bass lock median <= 40 ms", lambda r: r.get("family/bass", {"lock_med_ms": 0})["lock_med_ms"] <= 40,
            lambda r: f"{r.get('family/bass', {'lock_med_ms': float('nan')})['lock_med_ms']:.0f} ms"),
           ("never locked <= 2%", lambda r: r["overall"]["never"] <= 0.02, lambda r: f"{100 * r['overall']['never']:.1f}%"),
           ("false alarms in rests <= 2%", lambda r: r["overall"]["vfa_rest"] <= 0.02, lambda r: f"{100 * r['overall']['vfa_rest']:.1f}%")]


def report_of(results, methods, split):
    report = {}
    for meth in methods:
        groups: dict[str, list] = {}
        for inst, fam, style, variant, sp, res in results:
            if split != "full" and sp != split:
                continue
            r = res[meth]
            for key in (f"instrument/{inst}", f"family/{fam}", f"style/{style}", f"variant/{variant}",
                        f"family-variant/{fam}, {variant}", "overall"):
                groups.setdefault(key, []).append(r)
        report[meth] = {k: summarize(v) for k, v in groups.items()}
    return report


def markdown(report, methods, split) -> str:
    out = [f"#### {split}: overall\n", FULL_HEAD]
    for meth in methods:
        if "overall" in report[meth]:
            out.append(full_line(meth, report[meth]["overall"]))
    for kind in ("instrument", "family", "style", "variant", "family-variant"):
        keys = sorted({k for k in report["stage"] if k.startswith(kind + "/")})
        out.append(f"\n#### {split}: by {kind}\n\n{SIDE_HEAD}")
        for k in keys:
            out.append(side_line(k.split("/", 1)[1], report, k))
        out.append(side_line("**overall**", report, "overall"))
    st = report["stage"]
    out.append(f"\n#### {split}: stage against the targets\n")
    for name, ok, fig in TARGETS:
        try:
            out.append(f"- {name}: {fig(st)} {'(met)' if ok(st) else '(**not met**)'}")
        except (KeyError, ValueError):
            out.append(f"- {name}: n/a")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", type=Path, default=pitchset.DEFAULT_OUT, help="where the rendered set lives")
    ap.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, of {ALL_METHODS}")
    ap.add_argument("--split", choices=("tuning", "held-out", "both"), default="tuning",
                    help="which split to score (default: tuning; the held-out split is for reports only)")
    ap.add_argument("--instruments", default="", help="comma-separated names or source:name keys (default: all)")
    ap.add_argument("--sources", default="", help=f"comma-separated, of {pitchset.SOURCES}")
    ap.add_argument("--styles", default="", help=f"comma-separated, of {pitchset.STYLES}")
    ap.add_argument("--variants", default="", help="dry,room")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--onsets", choices=("heard", "midi"), default="midi",
                    help="notes start at their MIDI note-on (default) or when first heard")
    ap.add_argument("--json", type=Path, help="write every figure here")
    ap.add_argument("--md", type=Path, help="write the tables here")
    a = ap.parse_args()
    methods = [m for m in a.methods.split(",") if m]
    split = None if a.split == "both" else a.split
    items = pitchset.build(a.set, instruments=[s for s in a.instruments.split(",") if s] or None,
                           styles=[s for s in a.styles.split(",") if s] or None,
                           variants=[s for s in a.variants.split(",") if s] or None,
                           sources=[s for s in a.sources.split(",") if s] or None, split=split, jobs=a.jobs)
    print(f"machine: {platform.node()} {platform.machine()} python {platform.python_version()}; "
          f"{len(items)} lines, {sum(len(i.notes) for i in items)} notes, split {a.split}, onsets {a.onsets}",
          flush=True)
    cache = a.set / "pyin"
    if "pyin" in methods:
        # compile librosa's numba kernels once here, so the workers load them from its cache
        # (two workers compiling at once can leave a broken cache behind)
        import librosa
        librosa.pyin(np.zeros(8192, np.float32) + 1e-3 * np.sin(np.arange(8192) * 0.05).astype(np.float32),
                     fmin=100, fmax=400, sr=SR, frame_length=1024, hop_length=HOP)
    with ProcessPoolExecutor(a.jobs) as ex:
        results = list(ex.map(score_item, [(i, methods, a.onsets, cache) for i in items], chunksize=1))
    methods = list(results[0][5]) if results else methods
    splits = [s for s in pitchset.SPLITS if any(r[4] == s for r in results)]
    if len(splits) > 1:
        splits.append("full")
    text, every = [], {}
    for sp in splits:
        every[sp] = report_of(results, methods, sp)
    if a.json:
        a.json.write_text(json.dumps(every, indent=1))
    for sp in splits:
        text.append(markdown(every[sp], methods, sp))
    print("\n".join(text))
    if a.md:
        a.md.write_text("\n".join(text))


if __name__ == "__main__":
    main()
