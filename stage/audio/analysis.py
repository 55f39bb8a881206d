"""Per-player analysis: fundamental frequency (aubio), confidence, level and onsets.

Pure: no pygame, no threads, no devices. Created once per player and called once per hop
with exactly ``hop`` float32 samples, as aubio wants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import aubio
import numpy as np

from ..music import midi_to_hz

SILENCE_DB = -120.0


@dataclass(frozen=True)
class AnalysisSettings:
    method: str = "yinfast"       # aubio's yin, at a fraction of the CPU; yinfft's confidence reads 0
    tolerance: float = 0.15       # yin threshold on the cumulative mean normalised difference
    voiced_on: float = 0.85       # confidence to start showing a pitch
    voiced_off: float = 0.70      # confidence below which a shown pitch stops (hysteresis)
    gate_db: float = -50.0        # below this RMS level nothing is pitched (silence, room noise)
    gate_hysteresis_db: float = 6.0
    onset_method: str = "hfc"
    onset_threshold: float = 0.3
    onset_silence_db: float = -55.0
    onset_min_interval: float = 0.05   # seconds between onsets, shortest a player articulates
    range_margin: float = 1.0     # semitones allowed beyond the instrument's written range


def window_for(lowest_midi: int, samplerate: int, hop: int, margin: float = 1.0) -> int:
    """Power-of-two window long enough for yin to see two periods of the lowest note."""
    f_low = midi_to_hz(lowest_midi - margin)
    need = 2.0 * samplerate / f_low
    win = 1024
    while win < need:
        win <<= 1
    return max(win, hop * 2)


def db(x: float) -> float:
    return 20.0 * math.log10(x) if x > 1e-6 else SILENCE_DB


@dataclass(frozen=True)
class Frame:
    """One hop's result for one player."""
    f0_hz: float        # 0 where no pitch is judged present
    confidence: float
    level_db: float     # RMS over the hop, dBFS
    peak_db: float      # sample peak over the hop, dBFS
    onset: bool


class PlayerAnalyzer:
    def __init__(self, samplerate: int, hop: int, lowest_midi: int = 28, highest_midi: int = 108,
                 settings: AnalysisSettings = AnalysisSettings()):
        self.samplerate, self.hop, self.settings = samplerate, hop, settings
        self.window = window_for(lowest_midi, samplerate, hop, settings.range_margin)
        self.f_min = midi_to_hz(lowest_midi - settings.range_margin)
        self.f_max = midi_to_hz(highest_midi + settings.range_margin)
        self._pitch = aubio.pitch(settings.method, self.window, hop, samplerate)
        self._pitch.set_unit("Hz")
        self._pitch.set_tolerance(settings.tolerance)
        self._pitch.set_silence(-120.0)     # we gate on level ourselves, with hysteresis
        self._onset = aubio.onset(settings.onset_method, max(1024, hop * 4), hop, samplerate)
        self._onset.set_threshold(settings.onset_threshold)
        self._onset.set_silence(settings.onset_silence_db)
        self._onset.set_minioi_s(settings.onset_min_interval)
        self._voiced = False

    def process(self, x: np.ndarray) -> Frame:
        s = self.settings
        f0 = float(self._pitch(x)[0])
        conf = float(self._pitch.get_confidence())
        onset = bool(self._onset(x)[0])
        rms = float(np.sqrt(np.dot(x, x) / len(x)))
        peak = float(np.max(np.abs(x)))
        level = db(rms)
        in_range = self.f_min <= f0 <= self.f_max
        if self._voiced:
            voiced = in_range and conf >= s.voiced_off and level >= s.gate_db - s.gate_hysteresis_db
        else:
            voiced = in_range and conf >= s.voiced_on and level >= s.gate_db
        self._voiced = voiced
        return Frame(f0 if voiced else 0.0, max(0.0, min(1.0, conf)), level, db(peak), onset)


def analyze_signal(x: np.ndarray, samplerate: int, hop: int = 256, lowest_midi: int = 28,
                   highest_midi: int = 108, settings: AnalysisSettings = AnalysisSettings()):
    """Run the live analyzer over a whole mono signal, as fast as it goes.

    Yields (time_s, Frame) per hop, time_s being the time of the last sample that hop used.
    """
    an = PlayerAnalyzer(samplerate, hop, lowest_midi, highest_midi, settings)
    x = np.ascontiguousarray(x, dtype=np.float32)
    n = len(x) // hop
    for i in range(n):
        end = (i + 1) * hop
        yield (end - 1) / samplerate, an.process(x[end - hop:end])
