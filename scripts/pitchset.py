#!/usr/bin/env python3
"""The pitch-accuracy set: monophonic lines played by sampled and modelled instruments, truth
from the MIDI, every note kept, in a tuning split and a held-out split.

Renders, reproducibly (fixed seeds), lines in five styles (ballad, swing, bebop runs at 8-10
notes a second, wide leaps, the instrument's whole range) from four sources: the FluidR3 GM
and TimGM6mb soundfonts through Debian's fluidsynth, the freepats GUS patches through timidity,
and STK's physical models (clarinet, flute, sax, brass, bowed, plucked) through Debian's
stk-demo. Each line is gain-staged (the loudest 100 ms at -14 dBFS RMS), dry and again with
reverb and room noise. Every note of each range is played, as the instrument gives it (a
sample that opens an octave low, a thump, an out-of-tune sample: all kept). Each note's
steady pitch is measured on a held note first; the truth carries that tuning where the
note has one within a semitone of its name (listed otherwise).

The split: within each family, the instruments (source and patch) are shuffled with a fixed
seed and dealt alternately to ``held-out`` and ``tuning``; the held-out split is for
reporting, never for tuning.

    python scripts/pitchset.py [OUTDIR] [--jobs 2]    # renders what is missing, lists the set

Used by scripts/bench_pitch.py and to make tests/data.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

from stage.audio.score import truth  # noqa: F401  (the set's truth, pitchset.truth)

SR = 48000
SOUNDFONTS = {"fluidr3": Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
              "timgm6mb": Path("/usr/share/sounds/sf2/TimGM6mb.sf2")}
FREEPATS_CFG = Path("/etc/timidity/freepats.cfg")
SOURCES = ["fluidr3", "timgm6mb", "freepats", "stk"]
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "build" / "pitchset"
SPLIT_SEED = 20261202
NEEDS = {"fluidr3": "fluidsynth fluid-soundfont-gm", "timgm6mb": "fluidsynth timgm6mb-soundfont",
         "freepats": "timidity freepats", "stk": "stk"}


@dataclass(frozen=True)
class Instrument:
    name: str
    program: int | str   # General MIDI program (0-based), or the STK model's name
    lowest: int          # MIDI notes, concert pitch: the range a session would give
    highest: int
    family: str
    monophonic: bool = True   # one note at a time (winds, brass, bowed strings); struck ones ring on
    source: str = "fluidr3"

    @property
    def key(self) -> str:
        return f"{self.source}:{self.name}"

    @property
    def slug(self) -> str:
        return f"{self.source}-{self.name.replace(' ', '_')}"

    @property
    def split(self) -> str:
        return SPLIT[self.key]


def _gm(source, names):
    table = {"trumpet": (56, 52, 84, "brass"), "muted trumpet": (59, 52, 84, "brass"),
             "trombone": (57, 40, 72, "brass"), "french horn": (60, 41, 77, "brass"),
             "alto sax": (65, 49, 81, "reeds"), "tenor sax": (66, 44, 76, "reeds"),
             "soprano sax": (64, 56, 88, "reeds"), "clarinet": (71, 50, 89, "reeds"),
             "flute": (73, 60, 96, "flute"), "violin": (40, 55, 93, "strings"),
             "cello": (42, 36, 76, "strings"), "upright bass": (32, 28, 60, "bass"),
             "vibraphone": (11, 53, 89, "mallets and piano"), "piano": (0, 28, 100, "mallets and piano")}
    return [Instrument(n, *table[n], monophonic=table[n][3] != "mallets and piano", source=source)
            for n in names]


INSTRUMENTS = (
    _gm("fluidr3", ["trumpet", "muted trumpet", "trombone", "french horn", "alto sax", "tenor sax",
                    "soprano sax", "clarinet", "flute", "violin", "cello", "upright bass", "vibraphone",
                    "piano"])
    + _gm("timgm6mb", ["trumpet", "trombone", "french horn", "alto sax", "tenor sax", "soprano sax",
                       "clarinet", "flute", "violin", "cello", "upright bass", "vibraphone", "piano"])
    + _gm("freepats", ["trumpet", "trombone", "french horn", "alto sax", "tenor sax", "soprano sax",
                       "clarinet", "flute", "violin", "cello", "upright bass", "piano"])
    + [Instrument("clarinet", "Clarinet", 50, 89, "reeds", source="stk"),
       Instrument("sax", "Saxofony", 49, 81, "reeds", source="stk"),
       Instrument("flute", "Flute", 60, 96, "flute", source="stk"),
       Instrument("brass", "Brass", 52, 84, "brass", source="stk"),
       Instrument("bowed violin", "Bowed", 55, 93, "strings", source="stk"),
       Instrument("bowed cello", "Bowed", 36, 76, "strings", source="stk"),
       Instrument("plucked bass", "Plucked", 28, 60, "bass", source="stk")]
)
STYLES = ["ballad", "swing", "bebop", "leaps", "range"]
VARIANTS = ["dry", "room"]
SPLITS = ["tuning", "held-out"]


def _deal() -> dict:
    """Per family, the instruments shuffled with SPLIT_SEED and dealt alternately, held-out first."""
    r = np.random.default_rng(SPLIT_SEED)
    out = {}
    for fam in sorted({i.family for i in INSTRUMENTS}):
        keys = sorted(i.key for i in INSTRUMENTS if i.family == fam)
        for k, idx in enumerate(r.permutation(len(keys))):
            out[keys[int(idx)]] = SPLITS[1] if k % 2 == 0 else SPLITS[0]
    return out


SPLIT = _deal()


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


def write_skini(path: Path, notes) -> None:
    """STK's score format: absolute times as deltas in seconds, one event a line."""
    ev = sorted([(s, 1, m, v) for s, _e, m, v in notes] + [(e, 0, m, 64) for _s, e, m, _v in notes],
                key=lambda x: (x[0], x[1]))
    now, lines = 0.0, []
    for t, on, m, v in ev:
        lines.append(f"{'NoteOn' if on else 'NoteOff'} {t - now:.6f} 1 {m} {v}")
        now = t
    lines.append("ExitProgram")
    path.write_text("\n".join(lines) + "\n")


def _need(tool: str, source: str) -> str:
    exe = shutil.which(tool)
    if not exe:
        sys.exit(f"the {source} source needs Debian's {NEEDS[source]}: apt-get install {NEEDS[source]}")
    return exe


def render(notes, inst: Instrument, seconds: float) -> np.ndarray:
    """Mono float32 at SR, no reverb or chorus (added later, on purpose)."""
    with tempfile.TemporaryDirectory() as d:
        mid, wav = Path(d) / "l.mid", Path(d) / "l.wav"
        if inst.source in SOUNDFONTS:
            fs = _need("fluidsynth", inst.source)
            if not SOUNDFONTS[inst.source].exists():
                sys.exit(f"needs {SOUNDFONTS[inst.source]}: apt-get install {NEEDS[inst.source]}")
            write_midi(mid, inst.program, notes)
            subprocess.run([fs, "-ni", "-q", "-g", "0.6", "-r", str(SR), "-R", "0", "-C", "0", "-O", "float",
                            "-T", "wav", "-F", str(wav), str(SOUNDFONTS[inst.source]), str(mid)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elif inst.source == "freepats":
            tm = _need("timidity", inst.source)
            if not FREEPATS_CFG.exists():
                sys.exit(f"needs {FREEPATS_CFG}: apt-get install {NEEDS[inst.source]}")
            write_midi(mid, inst.program, notes)
            subprocess.run([tm, "-c", str(FREEPATS_CFG), "-OwM", "--output-24bit", "--preserve-silence", "-s", str(SR),
                            "-EFreverb=0", "-EFchorus=0", "-o", str(wav), str(mid)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elif inst.source == "stk":
            stk = _need("stk-demo", inst.source)
            ski = Path(d) / "l.ski"
            write_skini(ski, notes)
            subprocess.run([stk, inst.program, "-s", str(SR), "-ow", str(wav), "-if", str(ski)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=d)
        else:
            raise ValueError(inst.source)
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
        x = render(notes[parity::2], inst, seconds)
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
    x = render(notes, inst, notes[-1][1] + 1.0)
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
            out[m] = {"cents": 0.0, "ok": False, "why": "no steady pitch", "measured": None}
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
        # every note is kept; the flags say what the old set left out and why
        why = []
        if abs(med) > 30:
            why.append(f"sample {med:+.0f} cents off")
        if spread > 60:
            why.append(f"unsteady ({spread:.0f} cents)")
        if low_start:
            why.append("starts an octave (or a twelfth) low")
        out[m] = {"cents": med if abs(med) <= PLAYED_CENTS else 0.0, "ok": not why, "why": "; ".join(why),
                  "measured": med}
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


PLAYED_CENTS = 100.0


def played(t: dict) -> bool:
    """Does the instrument play this note at all? Its held note sounds within a semitone of
    its name. (Not a judgement of how hard it is: a note that opens low, wavers or is 90 cents
    off is played. Some of STK's models sound an octave up or not at all on some notes: the
    MIDI cannot be their truth there.)"""
    return t.get("measured") is not None and abs(t["measured"]) <= PLAYED_CENTS


def tuning(inst: Instrument, out: Path) -> dict:
    """{midi: {"cents", "ok", "why", "measured"}}, measured once and cached."""
    path = out / "tuning" / f"{inst.slug}.json"
    if path.exists():
        return {int(k): v for k, v in json.loads(path.read_text()).items()}
    tun = measure_tuning(inst)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(tun, indent=1))
    return tun


@dataclass
class Item:
    instrument: Instrument
    style: str
    variant: str
    audio: Path
    notes: list        # (heard_s, end_s, midi, velocity, cents): from when the note is first heard
    keyed: list = None  # the same notes from their MIDI note-on (the key, before the sound speaks)

    @property
    def split(self) -> str:
        return self.instrument.split


def _seed(inst: Instrument, style: str) -> int:
    return zlib.crc32(f"{inst.key}/{style}".encode())


def _stale(meta: Path, notes) -> bool:
    try:
        got = json.loads(meta.read_text())
        return not isinstance(got, dict) or got["notes"] != [list(n) for n in notes]
    except (ValueError, KeyError):
        return True


def _render_one(args) -> str:
    inst, style, out, notes, seconds = args
    base = out / inst.source / f"{inst.slug}-{style}"
    base.parent.mkdir(parents=True, exist_ok=True)
    x, sounded = render_line(notes, inst, seconds)
    x = gain_staged(x)
    sf.write(str(base.with_name(base.name + "-dry.flac")), x, SR, subtype="PCM_24")
    sf.write(str(base.with_name(base.name + "-room.flac")), room(x, seed=_seed(inst, style) % 100000), SR,
             subtype="PCM_24")
    base.with_name(base.name + "-notes.json").write_text(json.dumps({"notes": [list(n) for n in notes], "heard": sounded}))
    return f"rendered {base.name} ({len(notes)} notes, {seconds:.1f} s)"


def _tuning_one(args):
    inst, out = args
    tuning(inst, out)
    return inst.key


def select(instruments=None, sources=None, split=None) -> list[Instrument]:
    return [i for i in INSTRUMENTS
            if (not instruments or i.name in instruments or i.key in instruments)
            and (not sources or i.source in sources) and (not split or i.split == split)]


def build(out: Path = DEFAULT_OUT, instruments=None, styles=None, variants=None, quiet=False,
          sources=None, split=None, jobs: int = 1) -> list[Item]:
    """The set's lines (rendering what is missing), filtered; ``instruments`` by name or key."""
    out.mkdir(parents=True, exist_ok=True)
    insts = select(instruments, sources, split)
    todo = [(i, out) for i in insts if not (out / "tuning" / f"{i.slug}.json").exists()]
    if todo:
        with ProcessPoolExecutor(max(1, jobs)) as ex:
            for k in ex.map(_tuning_one, todo):
                if not quiet:
                    print(f"measured the tuning of {k}", flush=True)
    plan, render = [], []
    for inst in insts:
        tun = tuning(inst, out)
        notes_all = [m for m in sorted(tun) if played(tun[m])]
        for style in STYLES:
            if styles and style not in styles:
                continue
            notes, seconds = compose(inst, style, notes_all, seed=_seed(inst, style))
            base = out / inst.source / f"{inst.slug}-{style}"
            meta = base.with_name(base.name + "-notes.json")
            if not all(base.with_name(base.name + suf).exists() for suf in ("-dry.flac", "-room.flac")) \
                    or not meta.exists() or _stale(meta, notes):
                render.append((inst, style, out, notes, seconds))
            plan.append((inst, style, base, notes, tun))
    if render:
        with ProcessPoolExecutor(max(1, jobs)) as ex:
            for msg in ex.map(_render_one, render):
                if not quiet:
                    print(msg, flush=True)
    items = []
    for inst, style, base, notes, tun in plan:
        sounded = json.loads(base.with_name(base.name + "-notes.json").read_text())["heard"]
        # (start_s, end_s, midi, velocity, cents): from the key, and from when it is heard
        keyed = [(s, e, m, v, tun[m]["cents"]) for s, e, m, v in notes]
        heard = [(h, e, m, v, tun[m]["cents"]) for (s, e, m, v), h in zip(notes, sounded)]
        for variant in VARIANTS:
            if variants and variant not in variants:
                continue
            items.append(Item(inst, style, variant, base.with_name(f"{base.name}-{variant}.flac"), heard, keyed))
    return items


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--sources", default="", help=f"comma-separated, of {SOURCES}")
    a = ap.parse_args()
    items = build(a.out, sources=[s for s in a.sources.split(",") if s] or None, jobs=a.jobs)
    for inst in select(sources=[s for s in a.sources.split(",") if s] or None):
        tun = tuning(inst, a.out)
        flagged = {m: v["why"] for m, v in tun.items() if not v["ok"] and played(v)}
        gone = [m for m, v in tun.items() if not played(v)]
        print(f"{inst.split:<8} {inst.key:<24} range {inst.lowest}-{inst.highest}: {len(tun) - len(gone)} notes"
              + (f"; not played (sounds more than a semitone off its name, or not at all): {gone}" if gone else "")
              + (f"; the old set would have left out {flagged}" if flagged else ""))
    print(f"{len(items)} lines, {sum(len(i.notes) for i in items)} notes in {a.out}")


if __name__ == "__main__":
    main()
