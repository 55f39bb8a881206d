"""The online pYIN tracker (AnalysisSettings(tracker="hmm"), or "auto" for a range from C2 up)
on synthesized signals: steady tones, a legato change, silence and noise, determinism."""

import numpy as np
import pytest

from stage.audio.analysis import (AnalysisSettings, HmmTracker, PitchTracker, PlayerAnalyzer,
                                  analyze_signal)
from stage.music import midi_to_hz, parse_note

from .signals import SR, tone

HMM = AnalysisSettings(tracker="hmm")


def run(x, lowest, highest, settings=HMM):
    rows = list(analyze_signal(x, SR, 256, parse_note(lowest), parse_note(highest), settings))
    return np.array([r[0] for r in rows]), np.array([r[1].f0_hz for r in rows])


def cents(a, b):
    return 1200 * np.log2(np.maximum(a, 1e-3) / b)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("note,lowest,highest", [("E2", "E2", "C5"), ("A2", "E2", "C5"), ("A3", "E3", "C6"),
                                                  ("E5", "E3", "C6"), ("C6", "C4", "C7")])
def test_steady_tones(note, lowest, highest):
    f = midi_to_hz(parse_note(note))
    t, f0 = run(tone(f, 1.0), lowest, highest)
    settled = f0[t > 0.15]
    assert (settled > 0).mean() >= 0.95
    assert np.median(np.abs(cents(settled[settled > 0], f))) < 5


@pytest.mark.timeout(60)
@pytest.mark.parametrize("a,b", [("C3", "G3"), ("G3", "C3"), ("A4", "C5"), ("C5", "E3")])
def test_a_legato_change_shows_no_wrong_note_and_the_new_one_soon(a, b):
    fa, fb = midi_to_hz(parse_note(a)), midi_to_hz(parse_note(b))
    x = np.concatenate([tone(fa, 0.5), tone(fb, 0.5)])
    t, f0 = run(x, "E2", "C6")
    after = (t >= 0.5) & (f0 > 0)
    wrong = after & (np.abs(cents(f0, fb)) >= 450) & (np.abs(cents(f0, fa)) > 100)
    assert not wrong.any(), f"{a}->{b}: shown {f0[wrong][:5]}"
    right = (t >= 0.5) & (np.abs(cents(f0, fb)) < 50)
    assert right.any() and t[np.argmax(right)] - 0.5 <= 0.04
    assert right[t > 0.6].all()


@pytest.mark.timeout(60)
def test_silence_and_noise_show_no_pitch():
    r = np.random.default_rng(1)
    x = np.concatenate([np.zeros(SR // 2, np.float32), (0.1 * r.standard_normal(SR)).astype(np.float32)])
    _t, f0 = run(x, "E2", "C6")
    assert (f0 > 0).mean() < 0.02


@pytest.mark.timeout(60)
def test_deterministic():
    x = np.concatenate([tone(220.0, 0.3), tone(330.0, 0.3)])
    assert np.array_equal(run(x, "E2", "C6")[1], run(x, "E2", "C6")[1])


def test_auto_keeps_the_rule_tracker_for_a_bass():
    auto = AnalysisSettings(tracker="auto")
    assert isinstance(PlayerAnalyzer(SR, 256, parse_note("E1"), parse_note("G3"), auto).tracker, PitchTracker)
    assert isinstance(PlayerAnalyzer(SR, 256, parse_note("E2"), parse_note("C5"), auto).tracker, HmmTracker)
    assert isinstance(PlayerAnalyzer(SR, 256, parse_note("E2"), parse_note("C5")).tracker, PitchTracker)
