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
    confirm_cents: float = 35.0   # two readings this close confirm a new pitch


def window_for(lowest_midi: int, samplerate: int, hop: int, margin: float = 1.0) -> int:
    """Power-of-two window long enough for yin to see two periods of the lowest note."""
    f_low = midi_to_hz(lowest_midi - margin)
    need = samplerate / (0.45 * f_low)
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


def tracker_windows(lowest_midi: int, highest_midi: int, samplerate: int, hop: int,
                    margin: float = 1.0) -> list[int]:
    """The pitch windows a player gets, shortest first: from the one long enough for the
    lowest note (two periods) down to the shortest that still sees a note of the range.
    Short windows show a new note at once; long ones reach the low notes and hold steady."""
    longest = window_for(lowest_midi, samplerate, hop, margin)
    f_high = midi_to_hz(highest_midi + margin)
    out = [longest]
    w = longest // 2
    while w >= max(256, hop) and samplerate / (0.45 * w) <= f_high:
        out.append(w)
        w //= 2
    return sorted(out)


DECIMATE_FROM = 2048


def _cents(a: float, b: float) -> float:
    return 1200.0 * abs(math.log2(a / b))


class PitchTracker:
    """Fundamental frequency from several aubio ``yinfast`` windows at once, shortest first.

    Every hop each window looks at the latest samples. An estimate counts when it is confident,
    inside the player's range and its period fits the window twice; a *new* pitch is believed
    once it is confirmed, by the same window a hop earlier or by another window now, so the
    shortest window that has seen enough of a new note switches the display to it (a few ms
    after the attack) while one-hop glitches are ignored. While the pitch holds, the longest
    agreeing window gives the value (the finest resolution). Octave errors of the short
    windows (a low note with a weak fundamental read an octave up) are overruled by a longer
    window reading the octave below with confidence, once that window has had time to see
    the note.
    """

    def __init__(self, samplerate: int, hop: int, lowest_midi: int, highest_midi: int,
                 settings: "AnalysisSettings"):
        self.sr, self.hop, self.s = samplerate, hop, settings
        self.f_min = midi_to_hz(lowest_midi - settings.range_margin)
        self.f_max = midi_to_hz(highest_midi + settings.range_margin)
        self.windows = tracker_windows(lowest_midi, highest_midi, samplerate, hop, settings.range_margin)
        # windows of 2048 and more read the signal at half the rate (their notes are low):
        # half the work, the same periods
        self._det, self._half = [], []
        for w in self.windows:
            half = w >= DECIMATE_FROM
            n, rate = (w // 2, samplerate // 2) if half else (w, samplerate)
            p = aubio.pitch("yinfast", n, n, rate)              # hop = window: it reads what it is given
            p.set_unit("Hz")
            p.set_tolerance(settings.tolerance)
            p.set_silence(-120.0)
            self._det.append(p)
            self._half.append(half)
        self._hist = np.zeros(self.windows[-1], np.float32)
        self._hist2 = np.zeros(self.windows[-1] // 2, np.float32)
        self._tail = np.zeros(3, np.float32)       # the last samples, for the half-rate filter
        self._prev = [0.0] * len(self.windows)     # each window's last confident estimate
        self.shown = 0.0
        self.confidence = 0.0
        self._age = 0                              # samples since the shown pitch changed

    def _estimates(self):
        out = []
        for w, p, half in zip(self.windows, self._det, self._half):
            f = float(p(self._hist2[-(w // 2):] if half else self._hist[-w:])[0])
            c = float(p.get_confidence())
            # a period at the end of the window's lag range is the range's edge, not the note
            ok = c >= self.s.voiced_off and self.f_min <= f <= self.f_max and self.sr / f <= 0.45 * w
            out.append((f if ok else 0.0, c))
        return out

    def process(self, x: np.ndarray) -> tuple[float, float]:
        n = len(x)
        self._hist[:-n] = self._hist[n:]
        self._hist[-n:] = x
        if self._half[-1]:
            # [1 3 3 1]/8 low-pass, every other sample: 24 kHz for the long windows
            y = np.concatenate((self._tail, x))
            self._tail = y[-3:]
            lp = (y[3:] + 3.0 * y[2:-1] + 3.0 * y[1:-2] + y[:-3]) * 0.125
            m = n // 2
            self._hist2[:-m] = self._hist2[m:]
            self._hist2[-m:] = lp[1::2]
        est = self._estimates()
        prev, self._prev = self._prev, [f for f, _ in est]
        tol = self.s.confirm_cents
        confirmed = []
        for i, (f, c) in enumerate(est):
            if f <= 0:
                continue
            again = prev[i] > 0 and _cents(f, prev[i]) <= tol
            other = any(j != i and g > 0 and _cents(f, g) <= tol for j, (g, _) in enumerate(est))
            if again or other:
                confirmed.append((i, f, c))
        self._age += n
        if not confirmed:
            self.confidence = max((c for _f, c in est), default=0.0)
            # hold a shown pitch while the longest window still hears it (a steady note)
            if self.shown > 0 and any(f > 0 and _cents(f, self.shown) <= 50 for f, _ in est):
                return self.shown, self.confidence
            self.shown = 0.0
            return 0.0, self.confidence
        i0, f_new, c_new = confirmed[0]                       # the shortest confirmed window
        # octave check: a longer window that has seen the whole note reads it an octave down
        for i, f, c in confirmed[1:]:
            w = self.windows[i]
            if self._age >= w // 2 and abs(_cents(f_new, 2 * f)) <= 50:
                i0, f_new, c_new = i, f, c
                break
        if self.shown <= 0 or _cents(f_new, self.shown) > 50:
            self.shown = f_new
            self._age = 0
        # the finest reading: the longest window agreeing with the shown note that has seen
        # mostly this note (a longer one still blends in the note before)
        best, c_best = f_new, c_new
        for i, f, c in confirmed:
            if i > i0 and _cents(f, f_new) <= 50 and self._age >= self.windows[i] // 2:
                best, c_best = f, c
        self.shown, self.confidence = best, c_best
        return best, c_best


class PlayerAnalyzer:
    def __init__(self, samplerate: int, hop: int, lowest_midi: int = 28, highest_midi: int = 108,
                 settings: AnalysisSettings = AnalysisSettings()):
        self.samplerate, self.hop, self.settings = samplerate, hop, settings
        self.tracker = PitchTracker(samplerate, hop, lowest_midi, highest_midi, settings)
        self.window = self.tracker.windows[-1]
        self._onset = aubio.onset(settings.onset_method, max(1024, hop * 4), hop, samplerate)
        self._onset.set_threshold(settings.onset_threshold)
        self._onset.set_silence(settings.onset_silence_db)
        self._onset.set_minioi_s(settings.onset_min_interval)
        self._gated = True

    def process(self, x: np.ndarray) -> Frame:
        s = self.settings
        onset = bool(self._onset(x)[0])
        rms = float(np.sqrt(np.dot(x, x) / len(x)))
        peak = float(np.max(np.abs(x)))
        level = db(rms)
        self._gated = level < (s.gate_db if self._gated else s.gate_db - s.gate_hysteresis_db)
        f0, conf = self.tracker.process(x)
        if self._gated:
            f0 = 0.0
        return Frame(f0, max(0.0, min(1.0, conf)), level, db(peak), onset)


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
