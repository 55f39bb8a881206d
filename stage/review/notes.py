"""A monophonic line to notes: onset, offset, pitch and velocity, from the live tracker's rows.

Pure numpy, no pygame. The rows are what the live analysis gives every hop (and what a take
records): the time of the hop's last sample, the pitch shown (0 for none), the confidence,
the level (dBFS RMS) and aubio's onset flag. The same rows come from
``stage.audio.analysis.analyze_signal`` over a file (:func:`analyze_rows`) and from a take's
``analysis/<player>.npy``, so a transcription reads exactly what the stage showed, with
whatever tracker the program has.

How a note is made (the figures behind each setting are in BENCHMARKS.md, measured on the
pitch set's tuning split, scripts/bench_transcribe.py):

1. **Runs.** Consecutive voiced hops whose pitch stays within ``split_semitones`` of the
   run's pitch (the median of its hops, the last ``median_hops`` of them: a scoop into a note
   or a slow glide out of it does not move it) form a run; a hop further off, or a silence
   longer than ``bridge_s``, ends it. A run is cut again where the line is re-articulated on
   the same pitch: an onset flag out of a dip in the level (``rearticulate_db`` down, half of
   that back up).
2. **Stable pitch and a minimum length.** A run shorter than ``min_s``, or whose hops are
   not mostly (``stable_share``) within 50 cents of its median, is not a note: a wrong-note
   flash (a thump read an octave or a twelfth off, a window across two notes) lasts a few
   hops and goes. Two runs of the same note that such a flash, or a short dropout, had cut
   apart are one note again.
3. **When it began.** The tracker shows a note once its windows have heard enough of it; its
   first voiced hop is late by that. The note starts at the onset flag just before it (within
   ``onset_lookback_s``), less the onset detector's own delay, or else at its first hop less
   the tracker's typical lag (``pitch_lag_s``).
4. **When it ended.** The last voiced hop, less the lag of the tracker's release
   (``end_lag_s``), and never after the next note's start.
5. **Pitch** is the run's median in MIDI numbers (against ``a4``), rounded for the MIDI file;
   **velocity** the run's loudest level, mapped linearly in dB from the player's noise floor
   (velocity 1) to ``full_db`` (127).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..music import midi_to_hz


@dataclass(frozen=True)
class Rows:
    """The tracker's output, one entry a hop (arrays of equal length)."""
    t: np.ndarray            # seconds: the hop's last sample (a file's time, or CLOCK_MONOTONIC_RAW)
    f0: np.ndarray           # Hz, 0 for no pitch
    conf: np.ndarray
    level: np.ndarray        # dBFS RMS
    onset: np.ndarray        # bool

    def __len__(self) -> int:
        return len(self.t)

    @classmethod
    def from_records(cls, a) -> "Rows":
        """From a take's analysis records (stage.takes.records.ANALYSIS_DTYPE)."""
        return cls(np.asarray(a["t_capture"], float), np.asarray(a["f0_hz"], float),
                   np.asarray(a["confidence"], float), np.asarray(a["level_db"], float),
                   np.asarray(a["onset"]).astype(bool))

    def shifted(self, dt: float) -> "Rows":
        return Rows(self.t + dt, self.f0, self.conf, self.level, self.onset)


@dataclass(frozen=True)
class Note:
    start: float             # seconds, on the rows' time
    end: float
    midi: int                # the nearest note (against a4)
    cents: float             # the median's distance from it
    velocity: int            # 1-127
    level_db: float          # the loudest hop's level

    @property
    def hz(self) -> float:
        """The note's own pitch (its median), Hz at A4 = 440: what scoring compares."""
        return midi_to_hz(self.midi + self.cents / 100.0)

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class NoteSettings:
    split_semitones: float = 0.6     # a hop this far from the run's running median starts another run
    median_hops: int = 40            # the run's pitch: the median of its last hops, up to this many (210 ms)
    bridge_s: float = 0.020          # a silence up to this long inside a run of one pitch does not end it
    min_s: float = 0.060             # shorter runs are not notes (a flash lasts a few hops)
    stable_share: float = 0.6        # of a note's hops, at least this share within 50 cents of its median
    rearticulate_db: float = 4.0     # an onset out of a dip this deep (and half as much back): the same note again
    onset_lookback_s: float = 0.060  # an onset flag this long before a note's first hop is its start
    onset_lag_s: float = 0.010       # the onset flag's own delay (its hop's last sample is after the attack)
    pitch_lag_s: float = 0.030       # a note's first voiced hop is this late, when no onset flag is found
    end_lag_s: float = 0.045         # a note's last voiced hop is this late after it stopped
    min_confidence: float = 0.0      # hops the tracker is less sure of than this count as unvoiced
    confirm: bool = True             # one hop off the run's pitch, with the next back on it, is an outlier
    floor_db: float = -50.0          # velocity 1 (the player's noise floor)
    full_db: float = -6.0            # velocity 127
    a4: float = 440.0


def analyze_rows(x: np.ndarray, samplerate: int, lowest: int, highest: int, hop: int = 256,
                 gain_db: float = 0.0, noise_floor: float | None = None) -> Rows:
    """The live tracker (stage.audio.analysis.analyze_signal) over a mono signal."""
    from ..audio.analysis import analyze_signal
    n = len(x) // hop
    t, f0, conf, level = (np.zeros(n) for _ in range(4))
    onset = np.zeros(n, bool)
    for i, (ti, fr) in enumerate(analyze_signal(x, samplerate, hop, lowest, highest, gain_db=gain_db,
                                                noise_floor=noise_floor)):
        t[i], f0[i], conf[i], level[i], onset[i] = ti, fr.f0_hz, fr.confidence, fr.level_db, fr.onset
    return Rows(t, f0, conf, level, onset)


def velocity_for(level_db: float, floor_db: float = -50.0, full_db: float = -6.0) -> int:
    """A level (dBFS RMS) as a MIDI velocity: linear in dB, the noise floor 1, ``full_db`` 127."""
    if not math.isfinite(level_db):
        return 1
    v = 1 + (level_db - floor_db) / (full_db - floor_db) * 126
    return int(max(1, min(127, round(v))))


def _midi(f0: np.ndarray, a4: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(f0 > 0, 69.0 + 12.0 * np.log2(np.where(f0 > 0, f0, 1.0) / a4), np.nan)


def runs(rows: Rows, s: NoteSettings = NoteSettings()) -> list[tuple[int, int, bool]]:
    """Step 1: (first, last, again) of each run of one pitch: its first and last hop, and
    whether it begins where the run before it was played again on the same pitch."""
    m = _midi(np.where(rows.conf >= s.min_confidence, rows.f0, 0.0), s.a4)
    t = rows.t
    out: list[tuple[int, int]] = []
    start = last = -1
    recent: list[float] = []
    voiced = np.flatnonzero(~np.isnan(m))
    for k, i in enumerate(voiced):
        if start >= 0 and t[i] - t[last] > s.bridge_s:
            out.append((start, last))
            start = -1
        if start >= 0 and abs(m[i] - float(np.median(recent))) > s.split_semitones:
            # off the run's pitch: a new note if the next hop is off it too, else an outlier
            nxt = voiced[k + 1] if k + 1 < len(voiced) else -1
            if s.confirm and nxt >= 0 and t[nxt] - t[i] <= s.bridge_s \
                    and abs(m[nxt] - float(np.median(recent))) <= s.split_semitones:
                last = i
                continue
            out.append((start, last))
            start = -1
        if start < 0:
            start, recent = i, []
        recent.append(float(m[i]))
        if len(recent) > s.median_hops:
            recent.pop(0)
        last = i
    if start >= 0:
        out.append((start, last))
    level = _smoothed(rows.level)
    return [r for a, b in out for r in _rearticulated_runs(rows, level, a, b, s)]


def _smoothed(level: np.ndarray, n: int = 3) -> np.ndarray:
    """The level over ``n`` hops (a hop's RMS wavers by a dB or two with the note's period)."""
    if len(level) < n:
        return np.asarray(level, float)
    return np.convolve(np.asarray(level, float), np.ones(n) / n, "same")


def _hops(rows: Rows, seconds: float) -> int:
    dt = float(np.median(np.diff(rows.t))) if len(rows.t) > 1 else 0.005
    return max(1, int(round(seconds / dt)))


def _played_again(rows: Rows, level: np.ndarray, i: int, s: NoteSettings) -> int | None:
    """Is the onset at hop ``i`` the same pitch played again: the level fell ``rearticulate_db``
    into a dip just before it and rose out of it? Returns the dip's hop (or None)."""
    k = _hops(rows, 0.04)
    lo = max(0, i - k)
    dip = lo + int(np.argmin(level[lo:i + 1]))
    before = float(np.max(level[max(0, dip - 2 * k):dip + 1]))
    after = float(np.max(level[i:i + k // 2 + 2]))
    if before - level[dip] >= s.rearticulate_db and after - level[dip] >= s.rearticulate_db / 2:
        return dip
    return None


def _rearticulated_runs(rows: Rows, level: np.ndarray, a: int, b: int, s: NoteSettings):
    """A run cut where its pitch is played again (an onset out of a dip in the level)."""
    t = rows.t
    again = False
    for i in np.flatnonzero(rows.onset[a:b + 1]) + a:
        if t[i] - t[a] < s.min_s or t[b] - t[i] < s.min_s:
            continue
        dip = _played_again(rows, level, int(i), s)
        if dip is not None and dip > a:
            yield a, dip, again
            a, again = dip + 1, True
    yield a, b, again


def notes_from_rows(rows: Rows, s: NoteSettings = NoteSettings()) -> list[Note]:
    """The notes of a monophonic line (see the module's docstring), in time order."""
    if len(rows) == 0:
        return []
    m = _midi(np.where(rows.conf >= s.min_confidence, rows.f0, 0.0), s.a4)
    t = rows.t
    hop_s = float(np.median(np.diff(t))) if len(t) > 1 else 0.005
    # step 2: keep the runs that are notes; join what a flash or a dropout cut apart
    kept: list[list[int]] = []           # [first, last, pitch]
    for a, b, again in runs(rows, s):
        seg = _voiced(m, a, b)
        med = float(np.median(seg))
        dur = t[b] - t[a] + hop_s
        if dur < s.min_s or np.mean(np.abs(seg - med) <= 0.5) < s.stable_share:
            continue
        pitch = int(round(med))
        if kept and kept[-1][2] == pitch and not again and t[a] - t[kept[-1][1]] <= s.bridge_s + s.min_s \
                and not _onset_between(rows, kept[-1][1], a, s):
            kept[-1][1] = b
            continue
        kept.append([a, b, pitch])
    notes: list[Note] = []
    for k, (a, b, _p) in enumerate(kept):
        seg = _voiced(m, a, b)
        med = float(np.median(seg))
        pitch = int(round(med))
        start = _start(rows, a, kept[k - 1][1] if k else -1, s)
        end = t[b] - s.end_lag_s
        if k + 1 < len(kept):
            end = min(end, _start(rows, kept[k + 1][0], b, s))
        if notes and start < notes[-1].end:
            start = notes[-1].end
        end = max(end, start + s.min_s / 2)
        loud = float(np.max(rows.level[a:b + 1]))
        notes.append(Note(float(start), float(end), pitch, round(100 * (med - pitch), 1),
                          velocity_for(loud, s.floor_db, s.full_db), loud))
    return notes


def _voiced(m: np.ndarray, a: int, b: int) -> np.ndarray:
    seg = m[a:b + 1]
    return seg[~np.isnan(seg)]


def _onset_between(rows: Rows, last: int, first: int, s: NoteSettings) -> bool:
    """An onset between two runs of one pitch, out of a dip in the level: played again."""
    level = _smoothed(rows.level[max(0, last - 20):first + 10])
    off = max(0, last - 20)
    return any(_played_again(rows.__class__(rows.t[off:first + 10], rows.f0[off:first + 10], rows.conf[off:first + 10],
                                            rows.level[off:first + 10], rows.onset[off:first + 10]),
                             level, int(i) - off, s) is not None
               for i in np.flatnonzero(rows.onset[last + 1:first + 1]) + last + 1)


def _start(rows: Rows, first: int, prev_last: int, s: NoteSettings) -> float:
    """Step 3: when the note whose first voiced hop is ``first`` began."""
    t = rows.t
    i = first
    while i > prev_last + 1 and i > 0 and t[first] - t[i - 1] <= s.onset_lookback_s:
        i -= 1
        if rows.onset[i]:
            return float(t[i] - s.onset_lag_s)
    if rows.onset[first]:
        return float(t[first] - s.onset_lag_s)
    return float(t[first] - s.pitch_lag_s)


def transcribe_signal(x: np.ndarray, samplerate: int, lowest: int, highest: int, hop: int = 256,
                      gain_db: float = 0.0, noise_floor: float | None = None,
                      settings: NoteSettings | None = None) -> list[Note]:
    """A mono signal's notes, with the live tracker (times in seconds from the first sample)."""
    s = settings or NoteSettings()
    if noise_floor is not None and settings is None:
        s = NoteSettings(floor_db=noise_floor)
    return notes_from_rows(analyze_rows(x, samplerate, lowest, highest, hop, gain_db, noise_floor), s)
