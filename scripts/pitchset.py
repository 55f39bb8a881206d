#!/usr/bin/env python3
"""The pitch-accuracy set: monophonic lines played by sampled instruments, truth from the MIDI.

Renders, reproducibly (fixed seeds), lines for eleven instruments in five styles (ballad,
swing, bebop runs at 8-10 notes a second, wide leaps, the instrument's whole range) with
Debian's fluidsynth and the FluidR3 GM soundfont, gain-staged (the loudest 100 ms of each line
at -14 dBFS RMS), each dry and again with reverb and room noise. Before a note is used, its sample's tuning is measured on a held note; a note whose
sample is more than 30 cents off, or unsteady, or that opens an octave or a twelfth low, is left out
of the lines (and listed), and the truth carries each kept note's measured tuning.

    python scripts/pitchset.py [OUTDIR]        # renders what is missing, prints the set

Used by scripts/bench_pitch.py and to make tests/data.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

from stage.audio.score import truth  # noqa: F401  (the set's truth, pitchset.truth)

SR = 48000
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "build" / "pitchset"


@dataclass(frozen=True)
class Instrument:
    name: str
    program: int         # General MIDI program (0-based)
    lowest: int          # MIDI notes, concert pitch: the range a session would give
    highest: int
    family: str
    monophonic: bool = True   # one note at a time (winds, brass, bowed strings); struck ones ring on


INSTRUMENTS = [
    Instrument("trumpet", 56, 52, 84, "brass"),
    Instrument("muted trumpet", 59, 52, 84, "brass"),
    Instrument("trombone", 57, 40, 72, "brass"),
    Instrument("alto sax", 65, 49, 81, "reeds"),
    Instrument("tenor sax", 66, 44, 76, "reeds"),
    Instrument("clarinet", 71, 50, 89, "reeds"),
    Instrument("flute", 73, 60, 96, "flute"),
    Instrument("violin", 40, 55, 93, "strings"),
    Instrument("upright bass", 32, 28, 60, "strings"),
    Instrument("vibraphone", 11, 53, 89, "mallets and piano", monophonic=False),
    Instrument("piano", 0, 28, 100, "mallets and piano", monophonic=False),
]
STYLES = ["ballad", "swing", "bebop", "leaps", "range"]
VARIANTS = ["dry", "room"]


# ---------------------------------------------------------------- rendering

def write_midi(path: Path, program: int, notes) -> None:
    """notes: (start_s, end_s, midi, velocity). Tempo 120 bpm, 960 ticks a beat: 1 s = 1920 ticks."""
    tpb = 960
    mid = mido.MidiFile(ticks_per_beat=tpb)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
    tr.append(mido.Message("program_change", program=program, time=0))
    ev = []
    for s, e, m, v in notes:
        ev.append((round(s * 2 * tpb), 1, m, v))
        ev.append((round(e * 2 * tpb), 0, m, 0))
    ev.sort(key=lambda x: (x[0], x[1]))
    now = 0
    for tick, on, m, v in ev:
        tr.append(mido.Message("note_on" if on else "note_off", note=m, velocity=v, time=tick - now))
        now = tick
    tr.append(mido.MetaMessage("end_of_track", time=2 * tpb))
    mid.save(str(path))


def render(notes, program: int, seconds: float) -> np.ndarray:
    """Mono float32 at SR: fluidsynth, no reverb or chorus (added later, on purpose)."""
    fs = shutil.which("fluidsynth")
    if not fs or not SOUNDFONT.exists():
        sys.exit("needs Debian's fluidsynth and fluid-soundfont-gm: apt-get install fluidsynth fluid-soundfont-gm")
    with tempfile.TemporaryDirectory() as d:
        mid, wav = Path(d) / "l.mid", Path(d) / "l.wav"
        write_midi(mid, program, notes)
        subprocess.run([fs, "-ni", "-q", "-g", "0.6", "-r", str(SR), "-R", "0", "-C", "0", "-O", "float",
                        "-T", "wav", "-F", str(wav), str(SOUNDFONT), str(mid)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        x, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    assert sr == SR, sr
    x = x.mean(axis=1)
    n = int(seconds * SR)
    return np.pad(x, (0, max(0, n - len(x))))[:n]


def sounded_onset(x: np.ndarray, start_s: float) -> float:
    """When a note rendered alone is first heard: its level (1 ms RMS) reaching 20 dB under
    its peak over the first 300 ms. Samplers' attacks take 3-40 ms to speak (a flute's
    breath, a bowed string): the tracker is timed from the sound, not from the key."""
    a = int(start_s * SR)
    seg = x[a:a + int(0.3 * SR)].astype(np.float64)
    if len(seg) < 48:
        return start_s
    env = np.sqrt(np.convolve(seg ** 2, np.ones(48) / 48, "same"))
    return start_s + int(np.argmax(env >= 0.1 * env.max())) / SR


def render_line(notes, inst: Instrument, seconds: float) -> tuple[np.ndarray, list[float]]:
    """The line as the instrument plays it, and when each note is first heard. The odd and
    even notes are rendered apart (so each note's own sound can be timed). A sampler lets
    each release ring on under the next note, which a horn or a bowed string cannot do: for a
    monophonic instrument each note fades out over 10 ms when the next one begins (its
    release rings in full before a rest); struck instruments ring on."""
    n = int(seconds * SR)
    fade = int(0.010 * SR)
    out = np.zeros(n, np.float32)
    sounded = [0.0] * len(notes)
    for parity in (0, 1):
        x = render(notes[parity::2], inst.program, seconds)
        gain = np.zeros(n, np.float32)
        for k, (s, _e, _m, _v) in enumerate(notes):
            if k % 2 != parity:
                continue
            sounded[k] = sounded_onset(x, s)
            a = int(s * SR)
            b = int(notes[k + 1][0] * SR) if k + 1 < len(notes) and inst.monophonic else n
            gain[a:b] = 1.0
            f = gain[b:b + fade]
            f[:] = np.linspace(1.0, 0.0, len(f), endpoint=False)
        out += x * gain if inst.monophonic else x
    return out, sounded


LINE_LEVEL_DB = -14.0


def gain_staged(x: np.ndarray) -> np.ndarray:
    """As the operator sets a channel's gain: the line's loudest 100 ms at -14 dBFS RMS (the
    sampler renders some instruments 15 dB quieter than others)."""
    n = len(x) // 4800
    loudest = float(np.sqrt((x[: n * 4800].reshape(n, 4800) ** 2).mean(axis=1)).max()) if n else 0.0
    return (x * (10 ** (LINE_LEVEL_DB / 20) / loudest)).astype(np.float32) if loudest > 0 else x


def room(x: np.ndarray, seed: int) -> np.ndarray:
    """Reverb (a dense exponentially decaying tail, RT60 0.9 s, 12 ms pre-delay, 12 dB under
    the direct sound: a horn close-miked in a live room) and room noise (pinkish hiss and a 50 Hz hum, 40 dB under the
    line's level)."""
    from scipy.signal import fftconvolve, lfilter
    r = np.random.default_rng(seed)
    n_ir = int(1.2 * SR)
    t = np.arange(n_ir) / SR
    ir = r.normal(0, 1, n_ir) * np.exp(-6.91 * t / 0.9)
    ir[: int(0.012 * SR)] = 0
    ir *= 10 ** (-12 / 20) / np.sqrt(np.sum(ir ** 2))
    wet = fftconvolve(x, ir)[: len(x)]
    y = x + wet
    active = y[np.abs(y) > 1e-3]
    level = np.sqrt(np.mean(active ** 2)) if len(active) else 0.05
    hiss = lfilter([0.049922, -0.095993, 0.050612, -0.004408], [1, -2.494956, 2.017265, -0.522189],
                   r.normal(0, 1, len(y)))
    hiss /= np.sqrt(np.mean(hiss ** 2))
    hum = np.sin(2 * np.pi * 50 * np.arange(len(y)) / SR) + 0.5 * np.sin(2 * np.pi * 150 * np.arange(len(y)) / SR)
    hum /= np.sqrt(np.mean(hum ** 2))
    noise = (0.9 * hiss + 0.45 * hum) * level * 10 ** (-40 / 20)
    return (y + noise).astype(np.float32)


# ---------------------------------------------------------------- tuning check

def measure_tuning(inst: Instrument) -> dict:
    """Each note of the range held 0.9 s: its steady pitch (aubio yin over 0.25-0.8 s, median),
    and the pitch of its first 80 ms. Returns {midi: {"cents": c, "ok": bool, "why": str}}."""
    import aubio
    notes = [(0.2 + 1.2 * i, 0.2 + 1.2 * i + 0.9, m, 96) for i, m in enumerate(range(inst.lowest, inst.highest + 1))]
    x = render(notes, inst.program, notes[-1][1] + 1.0)
    out = {}
    win = 8192 if inst.lowest < 40 else 4096
    for s, _e, m, _v in notes:
        nominal = 440.0 * 2 ** ((m - 69) / 12)
        p = aubio.pitch("yin", win, 512, SR)
        p.set_unit("Hz")
        p.set_tolerance(0.15)
        p.set_silence(-120.0)
        start = int(s * SR)
        seg = x[start: start + int(0.9 * SR)].astype(np.float32)
        f, ts = [], []
        for i in range(0, len(seg) - 512 + 1, 512):
            f.append(float(p(seg[i:i + 512])[0]))
            ts.append((i + 512) / SR)
        f, ts = np.array(f), np.array(ts)
        steady = f[(ts >= 0.25 + win / SR / 2) & (ts <= 0.85)]
        steady = steady[steady > 0]
        if len(steady) < 3:
            out[m] = {"cents": 0.0, "ok": False, "why": "no steady pitch"}
            continue
        cents = 1200 * np.log2(steady / nominal)
        med = float(np.median(cents))
        spread = float(np.percentile(cents, 90) - np.percentile(cents, 10))
        # the attack: does the sample open with its octave below? (a short window, hop by hop,
        # over the first 100 ms)
        q = aubio.pitch("yin", 2048 if inst.lowest < 40 else 1024, 256, SR)
        q.set_unit("Hz")
        q.set_tolerance(0.15)
        q.set_silence(-120.0)
        att = np.array([float(q(seg[i:i + 256])[0]) for i in range(0, int(0.1 * SR), 256)])
        att = att[att > 0]
        # (or its twelfth below: a body's thump at a third of the note's frequency)
        low = (np.abs(1200 * np.log2(att / (nominal / 2))) < 60) | (np.abs(1200 * np.log2(att / (nominal / 3))) < 60) \
            if len(att) else np.array([False])
        low_start = int(low.sum()) >= 5                    # 27 ms or more
        if abs(med) > 30:
            out[m] = {"cents": med, "ok": False, "why": f"sample {med:+.0f} cents off"}
        elif spread > 60:
            out[m] = {"cents": med, "ok": False, "why": f"unsteady ({spread:.0f} cents)"}
        elif low_start:
            out[m] = {"cents": med, "ok": False, "why": "starts an octave (or a twelfth) low"}
        else:
            out[m] = {"cents": med, "ok": True, "why": ""}
    return out


# ---------------------------------------------------------------- lines

def compose(inst: Instrument, style: str, trusted: list[int], seed: int):
    """(notes, seconds): notes as (start_s, end_s, midi, velocity)."""
    r = np.random.default_rng(seed)
    t = 0.4
    notes = []
    lo, hi = trusted[0], trusted[-1]
    mid = [m for m in trusted if lo + (hi - lo) * 0.15 <= m <= hi - (hi - lo) * 0.15] or trusted

    def near(cur, steps):
        cands = [m for m in trusted if 0 < abs(m - cur) <= steps]
        return int(r.choice(cands)) if cands else cur

    def vel():
        return int(r.integers(70, 112))

    if style == "range":
        seq = trusted + trusted[::-1][1:]
        for m in seq:
            notes.append((t, t + 0.17, m, vel()))
            t += 0.2
        return notes, t + 1.0
    if style == "leaps":
        cur = int(r.choice(mid))
        for i in range(22):
            cands = [m for m in trusted if 7 <= abs(m - cur) <= 24]
            cur = int(r.choice(cands)) if cands else cur
            d = float(r.choice([0.35, 0.5, 0.7]))
            notes.append((t, t + d * 0.9, cur, vel()))
            t += d
            if i % 6 == 5:
                t += 0.6                                     # a rest between phrases
        return notes, t + 1.0
    if style == "ballad":
        beat, cur, total = 60 / 66, int(r.choice(mid)), 0
        while total < 20:
            for _ in range(int(r.integers(3, 6))):
                d = float(r.choice([0.5, 1, 1, 1.5, 2, 3])) * beat
                cur = near(cur, 4)
                notes.append((t, t + d * 0.97, cur, vel()))
                t += d
                total += 1
            t += float(r.choice([1, 2])) * beat              # rest
        return notes, t + 1.0
    if style == "swing":
        beat, cur = 60 / 160, int(r.choice(mid))
        for _ in range(5):
            for k in range(int(r.integers(6, 13))):
                d = beat * (2 / 3 if k % 2 == 0 else 1 / 3)
                cur = near(cur, 5)
                notes.append((t, t + d * 0.85, cur, vel()))
                t += d
            t += float(r.choice([1, 1.5, 2])) * beat
        return notes, t + 1.0
    if style == "bebop":
        cur = int(r.choice(mid))
        for _ in range(6):
            rate = float(r.uniform(8.0, 10.0))                 # notes a second
            for _k in range(int(r.integers(8, 15))):
                cur = near(cur, int(r.choice([1, 2, 3, 4])))
                notes.append((t, t + 0.92 / rate, cur, vel()))
                t += 1 / rate
            t += 0.5
        return notes, t + 1.0
    raise ValueError(style)


def trusted_notes(inst: Instrument, out: Path) -> tuple[list[int], dict]:
    path = out / "tuning" / f"{inst.name.replace(' ', '_')}.json"
    if path.exists():
        tun = {int(k): v for k, v in json.loads(path.read_text()).items()}
    else:
        tun = measure_tuning(inst)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(tun, indent=1))
    return [m for m in sorted(tun) if tun[m]["ok"]], tun


@dataclass
class Item:
    instrument: Instrument
    style: str
    variant: str
    audio: Path
    notes: list        # (heard_s, end_s, midi, velocity, cents): from when the note is first heard
    keyed: list = None  # the same notes from their MIDI note-on (the key, before the sound speaks)


def build(out: Path = DEFAULT_OUT, instruments=None, styles=None, variants=None, quiet=False) -> list[Item]:
    out.mkdir(parents=True, exist_ok=True)
    items = []
    for ii, inst in enumerate(INSTRUMENTS):
        if instruments and inst.name not in instruments:
            continue
        trusted, tun = trusted_notes(inst, out)
        for si, style in enumerate(STYLES):
            if styles and style not in styles:
                continue
            notes, seconds = compose(inst, style, trusted, seed=1000 * ii + si)
            base = out / f"{inst.name.replace(' ', '_')}-{style}"
            dry = base.with_name(base.name + "-dry.flac")
            meta = base.with_name(base.name + "-notes.json")
            if not dry.exists() or not meta.exists():
                x, sounded = render_line(notes, inst, seconds)
                x = gain_staged(x)
                sf.write(str(dry), x, SR, subtype="PCM_24")
                sf.write(str(base.with_name(base.name + "-room.flac")), room(x, seed=ii * 10 + si), SR,
                         subtype="PCM_24")
                meta.write_text(json.dumps(sounded))
                if not quiet:
                    print(f"rendered {base.name} ({len(notes)} notes, {seconds:.1f} s)", flush=True)
            sounded = json.loads(meta.read_text())
            # (start_s, end_s, midi, velocity, cents): the note from when it is heard
            keyed = [(s, e, m, v, tun[m]["cents"]) for s, e, m, v in notes]
            notes = [(h, e, m, v, tun[m]["cents"]) for (s, e, m, v), h in zip(notes, sounded)]
            for variant in VARIANTS:
                if variants and variant not in variants:
                    continue
                items.append(Item(inst, style, variant, base.with_name(f"{base.name}-{variant}.flac"), notes, keyed))
    return items


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    a = ap.parse_args()
    items = build(a.out)
    for inst in INSTRUMENTS:
        trusted, tun = trusted_notes(inst, a.out)
        left = {m: v["why"] for m, v in tun.items() if not v["ok"]}
        print(f"{inst.name:<14} range {inst.lowest}-{inst.highest}: {len(trusted)} notes kept"
              + (f"; left out {left}" if left else ""))
    print(f"{len(items)} lines in {a.out}")


if __name__ == "__main__":
    main()
