#!/usr/bin/env python3
"""Cut the few short instrument lines the tests keep in tests/data from the pitch set.

    python scripts/make_test_lines.py        # needs fluidsynth (see scripts/pitchset.py)

Each line is a few seconds of one rendered line (mono FLAC, 48 kHz, 16 bit) and its notes
(JSON: heard_s, end_s, midi, velocity, cents; and "keyed": the same from their note-on), so
the tests can check the tracker on sampled instruments without fluidsynth. Only lines of the
tuning split are cut (the held-out split is never tuned on, tests included).
"""

from __future__ import annotations

import json
from pathlib import Path

import soundfile as sf

import pitchset

# (instrument key, style, variant, seconds, file stem)
LINES = [("fluidr3:muted trumpet", "bebop", "dry", 3.2, "muted_trumpet-bebop-dry"),
         ("timgm6mb:tenor sax", "swing", "room", 3.2, "tenor_sax-swing-room"),
         ("fluidr3:upright bass", "leaps", "dry", 4.0, "upright_bass-leaps-dry"),
         ("fluidr3:flute", "leaps", "room", 3.2, "flute-leaps-room")]
OUT = Path(__file__).resolve().parent.parent / "tests" / "data"


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for key, style, variant, seconds, stem in LINES:
        item, = pitchset.build(instruments=[key], styles=[style], variants=[variant])
        assert item.split == "tuning", f"{key} is held out"
        x, sr = sf.read(str(item.audio), dtype="float32")
        x = x[: int(seconds * sr)]
        keep = [k for k, n in enumerate(item.keyed) if n[1] <= seconds]
        notes = [list(item.notes[k]) for k in keep]
        keyed = [list(item.keyed[k]) for k in keep]
        sf.write(str(OUT / f"{stem}.flac"), x, sr, subtype="PCM_16")
        meta = {"instrument": key, "lowest": item.instrument.lowest, "highest": item.instrument.highest,
                "notes": notes, "keyed": keyed}
        (OUT / f"{stem}.json").write_text(json.dumps(meta, indent=1))
        print(f"{stem}: {len(notes)} notes, {len(x) / sr:.1f} s")


if __name__ == "__main__":
    main()
