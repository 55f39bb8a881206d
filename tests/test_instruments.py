"""The tracker on sampled instruments: short lines rendered from the FluidR3 soundfont (made
by scripts/make_test_lines.py, truth from their MIDI), scored causally as the projector shows
them. The bounds sit under what the tracker does, well over what raw aubio does on the same
lines; scripts/bench_pitch.py measures the whole set."""

import json
from pathlib import Path

import aubio
import numpy as np
import pytest
import soundfile as sf

from stage.audio import score
from stage.audio.analysis import analyze_signal

DATA = Path(__file__).parent / "data"

# line: (raw pitch accuracy at least, median time-to-lock at most in ms, margin over raw aubio)
BOUNDS = {"trumpet-bebop-dry": (0.90, 12, 0.10), "flute-leaps-room": (0.95, 12, 0.05),
          "tenor_sax-swing-room": (0.82, 25, None), "upright_bass-swing-dry": (0.66, 50, 0.40)}


def load(stem):
    meta = json.loads((DATA / f"{stem}.json").read_text())
    x, sr = sf.read(str(DATA / f"{stem}.flac"), dtype="float32")
    return x, sr, meta


def stage_rows(x, sr, meta):
    rows = list(analyze_signal(x, sr, 256, meta["lowest"], meta["highest"]))
    return np.array([r[0] for r in rows]), np.array([r[1].f0_hz for r in rows])


def aubio_rows(x, sr):
    p = aubio.pitch("yinfft", 2048, 256, sr)
    p.set_unit("Hz")
    n = len(x) // 256
    f = np.array([float(p(x[i * 256:(i + 1) * 256])[0]) for i in range(n)])
    return (np.arange(n) + 1) * 256 / sr - 1 / sr, f


def rpa(x, sr, meta, stamps, f):
    grid = np.arange(len(x) // 256) * 256 / sr
    return score.raw_pitch_accuracy(score.truth(meta["notes"], grid), score.causal_on(grid, stamps, f))


@pytest.mark.parametrize("stem", sorted(BOUNDS))
def test_sampled_instrument_lines_are_tracked(stem):
    x, sr, meta = load(stem)
    least, lock_ms, margin = BOUNDS[stem]
    st, f = stage_rows(x, sr, meta)
    acc = rpa(x, sr, meta, st, f)
    locks = score.lock_times(meta["notes"], st, f)
    got = [v for v in locks if v is not None]
    assert acc >= least, f"{stem}: raw pitch accuracy {acc:.3f}"
    assert len(got) == len(locks), f"{stem}: {len(locks) - len(got)} notes never locked"
    assert 1000 * np.median(got) <= lock_ms, f"{stem}: median time to lock {1000 * np.median(got):.1f} ms"
    # raw aubio (yinfft, window 2048), streamed the same way, does worse: far worse on fast
    # lines and on the bass it cannot reach (on the tenor line the two are level)
    if margin is not None:
        st_a, f_a = aubio_rows(x, sr)
        assert acc > rpa(x, sr, meta, st_a, f_a) + margin


def test_rests_read_as_no_pitch():
    # between phrases, past the release tails, the room's noise is not a note; a room's reverb
    # rings on at the last note's pitch for a while (it is heard, and shown)
    for stem in BOUNDS:
        x, sr, meta = load(stem)
        st, f = stage_rows(x, sr, meta)
        grid = np.arange(len(x) // 256) * 256 / sr
        est = score.causal_on(grid, st, f)
        ends = np.array([n[1] for n in meta["notes"]])
        starts = np.array([n[0] for n in meta["notes"]])
        since_end = grid[:, None] - ends[None, :]
        rest = ~((grid[:, None] >= starts[None, :]) & (since_end < 0.25)).any(axis=1)
        if rest.sum() > 20:
            assert np.mean(est[rest] > 0) < (0.25 if stem.endswith("room") else 0.03), stem


def test_the_scoring_counts_a_value_only_from_its_stamp_on():
    stamps = np.array([0.010, 0.020])
    f = np.array([440.0, 0.0])
    shown = score.causal_on(np.array([0.005, 0.010, 0.015, 0.020, 0.5]), stamps, f)
    assert list(shown) == [0.0, 440.0, 440.0, 0.0, 0.0]
    # a note from 0 to 0.1 s locked at 10 ms for 10 ms only, then lost: not held 20 ms -> never
    assert score.lock_times([(0.0, 0.1, 69, 100, 0.0)], stamps, f) == [None]
    assert score.lock_times([(0.0, 0.1, 69, 100, 0.0)], np.array([0.01, 0.05]), np.array([440.0, 440.0])) == [
        pytest.approx(0.01)]
