#!/usr/bin/env python3
"""Make the demo performance: a muted trumpet line over a walking bass, D minor, 30 s.

Written as MIDI (ground truth, kept beside the sound), rendered from real sampled
instruments with fluidsynth and the FluidR3 GM soundfont (Debian: fluidsynth,
fluid-soundfont-gm), one instrument per channel as if each had its own microphone:
channel 1 trumpet, channel 2 bass. Remake with:

    python scripts/make_demo_performance.py assets/
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

SR = 48000
BPM = 128
TPB = 480
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")

# (bars) chord roots for the walking bass: Dm7 x4, Ebmaj7 x2, Dm7 x2, repeated; 16 bars = 30 s
CHANGES = ["Dm7"] * 4 + ["Ebmaj7"] * 2 + ["Dm7"] * 2 + ["Dm7"] * 4 + ["Ebmaj7"] * 2 + ["Dm7", "A7alt"]
BASS_PATTERNS = {
    "Dm7": [[38, 41, 45, 48], [38, 45, 43, 40], [50, 48, 45, 41], [38, 40, 41, 44]],
    "Ebmaj7": [[39, 43, 46, 50], [51, 50, 46, 43]],
    "A7alt": [[33, 37, 40, 44]],
}
# trumpet: (start beat, length in beats, MIDI note); rests between phrases
TRUMPET = [
    (2, 2.5, 69), (5, 1, 72), (6, 1, 74), (7, 3, 69),
    (12, 0.5, 65), (12.5, 0.5, 67), (13, 0.5, 69), (13.5, 0.5, 72), (14, 2, 74), (16, 4, 77),
    (22, 1.5, 75), (23.5, 0.5, 74), (24, 1, 72), (25, 3, 70),
    (30, 0.5, 67), (30.5, 0.5, 70), (31, 0.5, 74), (31.5, 0.5, 77), (32, 0.5, 79), (32.5, 0.5, 77),
    (33, 0.5, 74), (33.5, 0.5, 72), (34, 4, 69),
    (40, 1, 62), (41, 1, 65), (42, 1, 69), (43, 1, 72), (44, 6, 74),
    (51, 0.5, 76), (51.5, 0.5, 77), (52, 1, 81), (53, 1, 79), (54, 2, 77), (56, 2, 74),
    (60, 3, 70), (63, 1, 72), (64, 4, 67),
]


def write_midi(path: Path, program: int, notes, velocity=96, channel=0):
    mid = mido.MidiFile(ticks_per_beat=TPB)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(BPM), time=0))
    tr.append(mido.Message("program_change", program=program, channel=channel, time=0))
    events = []
    for start, length, note, vel in notes:
        events.append((int(start * TPB), 1, note, vel))
        events.append((int((start + length) * TPB) - 12, 0, note, 0))
    events.sort(key=lambda e: (e[0], e[1]))
    now = 0
    for tick, on, note, vel in events:
        tr.append(mido.Message("note_on" if on else "note_off", note=note, velocity=vel,
                               channel=channel, time=tick - now))
        now = tick
    tr.append(mido.MetaMessage("end_of_track", time=TPB * 2))
    mid.save(str(path))


def bass_notes():
    out = []
    beat = 0
    counts: dict[str, int] = {}
    for chord in CHANGES:
        pats = BASS_PATTERNS[chord]
        k = counts.get(chord, 0)
        counts[chord] = k + 1
        for i, n in enumerate(pats[k % len(pats)]):
            out.append((beat + i, 0.92, n, 100 if i % 2 == 0 else 88))
        beat += 4
    return out


def render(fluidsynth: str, mid: Path, wav: Path):
    subprocess.run([fluidsynth, "-ni", "-q", "-g", "0.7", "-r", str(SR), "-R", "0", "-C", "0",
                    "-F", str(wav), str(SOUNDFONT), str(mid)], check=True)
    x, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    assert sr == SR, sr
    return x.mean(axis=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?", default="assets")
    a = ap.parse_args()
    fs = shutil.which("fluidsynth")
    if not fs or not SOUNDFONT.exists():
        sys.exit("needs Debian's fluidsynth and fluid-soundfont-gm: apt-get install fluidsynth fluid-soundfont-gm")
    out = Path(a.outdir)
    seconds = len(CHANGES) * 4 * 60 / BPM
    n = int(seconds * SR)
    parts = {"trumpet": (59, [(start, length, m, 100) for start, length, m in TRUMPET]), "bass": (32, bass_notes())}
    tracks = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (program, notes) in parts.items():
            mid = out / f"demo_{name}.mid"
            write_midi(mid, program, notes)
            x = render(fs, mid, Path(tmp) / f"{name}.wav")
            x = np.pad(x, (0, max(0, n - len(x))))[:n]
            tracks.append(x / max(1e-6, np.abs(x).max()) * 0.5)
    mix = np.stack(tracks, axis=1).astype(np.float32)
    fade = int(0.02 * SR)
    mix[-fade:] *= np.linspace(1, 0, fade)[:, None]
    sf.write(str(out / "demo_performance.flac"), mix, SR, subtype="PCM_16")
    print(f"wrote {out / 'demo_performance.flac'}: {seconds:.2f} s, 2 ch (1 trumpet, 2 bass)", file=sys.stderr)


if __name__ == "__main__":
    main()
