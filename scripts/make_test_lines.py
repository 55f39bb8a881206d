#!/usr/bin/env python3
"""Cut the few short instrument lines the tests keep in tests/data from the pitch set.

    python scripts/make_test_lines.py        # needs fluidsynth (see scripts/pitchset.py)

Each line is a few seconds of one rendered line (mono FLAC, 48 kHz, 16 bit) and its notes
(JSON: heard_s, end_s, midi, velocity, cents), so the tests can check the tracker on sampled
instruments without fluidsynth.
"""

from __future__ import annotations

import json
from pathlib import Path

import soundfile as sf

import pitchset

LINES = [("trumpet", "bebop", "dry", 3.2), ("tenor sax", "swing", "room", 3.2),
         ("upright bass", "swing", "dry", 3.2), ("flute", "leaps", "room", 3.2)]
OUT = Path(__file__).resolve().parent.parent / "tests" / "data"


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name, style, variant, seconds in LINES:
        item, = pitchset.build(instruments=[name], styles=[style], variants=[variant])
        x, sr = sf.read(str(item.audio), dtype="float32")
        x = x[: int(seconds * sr)]
        notes = [n for n in item.notes if n[1] <= seconds]
        stem = f"{name.replace(' ', '_')}-{style}-{variant}"
        sf.write(str(OUT / f"{stem}.flac"), x, sr, subtype="PCM_16")
        meta = {"instrument": name, "lowest": item.instrument.lowest, "highest": item.instrument.highest,
                "notes": [list(n) for n in notes]}
        (OUT / f"{stem}.json").write_text(json.dumps(meta, indent=1))
        print(f"{stem}: {len(notes)} notes, {len(x) / sr:.1f} s")


if __name__ == "__main__":
    main()
