"""Per-player analysis: fundamental frequency (aubio), confidence, level and onsets.

Pure: no pygame, no threads, no devices. Created once per player and called once per hop
with exactly ``hop`` float32 samples, as aubio wants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import aubio
import numpy as np

from ..music import midi_to_hz

SILENCE_DB = -120.0


@dataclass(frozen=True)
class AnalysisSettings:
    # (aubio's yinfast: yin at a fraction of the CPU; yinfft's confidence reads 0 in aubio 0.4.9)
    tolerance: float = 0.15       # yin threshold on the cumulative mean normalised difference
    voiced_off: float = 0.70      # confidence a reading needs to count at all
    gate_db: float = -50.0        # below this RMS level nothing is pitched (silence, room noise)
    gate_hysteresis_db: float = 6.0
    onset_method: str = "hfc"
    onset_threshold: float = 0.3
    onset_silence_db: float = -55.0
    onset_min_interval: float = 0.05   # seconds between onsets, shortest a player articulates
    range_margin: float = 1.0     # semitones allowed beyond the instrument's written range
    confirm_cents: float = 100.0  # two readings within a semitone confirm a new pitch
    instant_confidence: float = 0.75  # a reading this sure needs no second one
    hold_s: float = 0.04          # a shown pitch outlives a gap with no reading at all this long
    octave_room: float = 2.0      # a short window is sure of a reading with room for this many of its periods (2: the octave below)
    tail_db: float = 24.0         # a level this far under the recent peak is a release tail (or the room): no pitch
    tail_release_db_s: float = 12.0    # how fast that recent peak falls
    tracker: str = "rules"        # "rules": PitchTracker; "hmm": HmmTracker (online pYIN);
    #                               "auto": HmmTracker for a range from HMM_FROM_MIDI up, else PitchTracker
    hmm_integration: float = 0.5  # the CMNDF's sum runs over this share of the longest period
    hmm_band: float = 2.3         # semitones a pitch may move in a step
    hmm_switch: float = 0.05      # voiced/unvoiced switching probability per step
    hmm_min_l: int = 384          # the CMNDF's sum runs at least this long (samples at the input rate)
    hmm_lag: int = 0              # steps the decoded frame lags the newest (0: the best path's end)
    hmm_stride: int = 2           # hops per step
    hmm_jump: float = 1e-8        # probability per step of a leap to any pitch
    hmm_floor: float = 1e-14      # the least an observation's likelihood is taken to be
    hmm_sub_abs: float = 0.0      # (or this deep at all)
    hmm_sub_slack: float = 0.05   # a trough at a half or third of another's period this little shallower takes its weight


def window_for(lowest_midi: int, samplerate: int, hop: int, margin: float = 1.0) -> int:
    """Power-of-two window whose lag range (0.45 of it, clear of the edge) reaches the period
    of the lowest note."""
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


# The probes below read the normalised squared difference of the newest sound against itself
# a period earlier: 0 where it repeats exactly, about 1 where it is unrelated, up to 2 in
# antiphase (at half a period of a note with a strong fundamental). For a period holding k of
# a shorter one it reads about twice the share of the energy in the harmonics the shorter one
# lacks: 0.45 is under a quarter of it.
REFINE_FROM = 1 / 400.0   # a held note this low (period in seconds) has its value refined
PROBE_SPAN = 2048     # the longest stretch of sound a probe reads (43 ms at 48 kHz)
REFINE_PERIODS = 3    # a held low note's value is read over this many of its periods
REFINE_BACK = 0.03    # reaching this far back before the shown change (the note was sounding)
REFINE_REL = 0.04     # around the reading's period by this much
REFINE_ND = 0.6       # where it repeats at least this well
SUB_ABS = 0.45        # a half or a third of a new reading's period this periodic is the note
SUB_SLACK = 0.15      # (or this little less periodic than the reading's own period)
SUB_GONE = 0.8        # the shown note's period this unperiodic: that note has stopped
SUPER_CLEAR = 0.1     # a reading an octave or a twelfth over the shown note this periodic is a new note
HOLD_ND = 0.5         # while a related reading waits, the shown note stays while it is this periodic
REF_S = 0.06          # a note shown this recently still counts as the shown one
JUMP_DOWN_CENTS = 450.0   # a new pitch this far under the shown note needs two readings
SUB_WAIT_S = 0.04     # a related reading, while the shown note still sounds, waits this long
LONG_FROM = 2048      # notes that need a window this long get the low-note detector instead
SUBHARMONIC_SLACK = 0.1     # how much shallower a dip at a half or a third of the period may be
LOW_YIN_INTEGRATION = 0.5   # the sum runs over this share of the longest period
OCTAVE_TOL = 100.0    # a reading within a semitone of twice or three times another is its octave or twelfth
ATTACK_S = 0.06       # a note's attack (a thump, a reed's noisy start): this long after an onset
SUB_ABS_HELD = 0.1    # after the attack, a half or a third of the period must repeat this well to be the note
UPPER_ABS = 0.1       # of two readings an octave or a twelfth apart, the higher is the note where its
UPPER_SLACK = 0.15    # period repeats this well, or this little less well than the lower one's

HMM_HALF_FROM = 400        # periods longer than this (samples) are read at half rate
HMM_THRESHOLDS = 100
HMM_BOLTZMANN = 2.0
HMM_NO_TROUGH = 0.01
HMM_BINS_PER_SEMITONE = 5
HMM_FROM_MIDI = 36         # (tracker "auto") a range reaching under C2 keeps PitchTracker: a bass's thump reads low for a few hops
HMM_MAX_THRESHOLD = 0.5   # beta(2, 18) puts 1e-4 of its weight above this


def _cents(a: float, b: float) -> float:
    return 1200.0 * abs(math.log2(a / b))


def _fft_size(n: int) -> int:
    """The smallest 2^a * 3^b * 5^c at least n: a size the FFT does fast (1280 where a power
    of two would be 2048)."""
    best = 1 << int(math.ceil(math.log2(n)))
    for f in (1, 3, 5, 9, 15, 25):
        p = 1
        while f * p < n:
            p <<= 1
        best = min(best, f * p)
    return best


class LowYin:
    """YIN for low notes, at half the sample rate, with its lag range and its integration
    window set apart (aubio ties both to half its buffer): lags up to the lowest note's period,
    summed over half that. An E1 is read from 38 ms of sound where aubio needs 85."""

    def __init__(self, samplerate2: int, f_lo: float, threshold: float):
        self.sr2, self.thr = samplerate2, threshold
        self.tmax = int(math.ceil(samplerate2 / f_lo)) + 1
        self.L = max(32, int(self.tmax * LOW_YIN_INTEGRATION))
        self.n = self.L + self.tmax
        self.m = _fft_size(self.n + self.L)
        self._k = np.arange(1, self.tmax + 1, dtype=np.float64)

    def __call__(self, x: np.ndarray) -> tuple[float, float]:
        x = x[:-self.n - 1:-1].astype(np.float64)     # newest first: the sum starts at the newest sample
        L, tmax = self.L, self.tmax
        r = np.fft.irfft(np.fft.rfft(x, self.m) * np.conj(np.fft.rfft(x[:L], self.m)), self.m)[:tmax + 1]
        c = np.concatenate(([0.0], np.cumsum(x * x)))
        d = c[L] + (c[L:L + tmax + 1] - c[:tmax + 1]) - 2.0 * r
        d[0] = 0.0
        cm = np.cumsum(d[1:])
        if cm[-1] <= 1e-12:
            return 0.0, 0.0
        dn = np.empty(tmax + 1)
        dn[0] = 1.0
        dn[1:] = d[1:] * self._k / np.maximum(cm, 1e-12)
        below = np.flatnonzero(dn[2:] < self.thr)
        if len(below):
            t = int(below[0]) + 2
            while t + 1 <= tmax and dn[t + 1] < dn[t]:
                t += 1
        else:
            t = int(np.argmin(dn[2:])) + 2
        if t >= tmax - 1:
            return 0.0, 0.0                     # the edge of the lag range: no period found
        # a period that is two or three of the note's own (a sample's thump, a weak fundamental
        # under a strong attack): take the shortest lag dipping nearly as deep
        for k in (3, 2):
            u = int(round(t / k))
            if u >= 3:
                j = u - 1 + int(np.argmin(dn[u - 1:u + 2]))
                if dn[j] < max(self.thr, dn[t] + SUBHARMONIC_SLACK):
                    t = j
                    break
        a, b, e = dn[t - 1], dn[t], dn[t + 1]
        den = a - 2.0 * b + e
        tt = t + (0.5 * (a - e) / den if den > 0 else 0.0)
        return self.sr2 / tt, 1.0 - float(b)


class PitchTracker:
    """Fundamental frequency from several detectors at once, shortest first: aubio
    ``yinfast`` windows for what they can see quickly, and for a player whose low notes need a
    long window, a YIN at half rate that reaches them in about half the time.

    Every hop each detector reads the latest samples newest-first, so its sum starts at the
    newest sample and a new note is read once a period and the sum's length of it are in. An
    estimate counts when it is confident, inside the player's range and its period fits the
    detector; a *new* pitch is believed once it is confirmed, by the same detector a hop
    earlier or by another one now (or at once when very sure), so the shortest detector that
    has seen enough of a new note switches the display to it while one-hop glitches are
    ignored. A window too short to have seen the octave below its reading (a low note with a
    weak fundamental reads an octave up in it) must read it twice, with no other detector
    reading the octave below; and a longer detector that has seen the whole note overrules
    it. While the pitch holds, the longest agreeing detector that has seen mostly this note
    gives the value; a low note's value is then read again over three of its periods (up to 43
    ms) around that reading, so it does not wobble with one period's jitter in the attack.

    Wrong-note flashes (a sample's thump or a reed's noisy start read an octave or a twelfth
    low, a window across two notes reading their common period) are met by two tests on the
    sound itself, each a few dot products over the newest samples: a *new* pitch whose half
    or third period is nearly as periodic is that shorter period's subharmonic, and the note
    is the shorter one (unless the reading is the note just shown, going on); and a reading an
    octave or a twelfth under the shown note while that note's period is still periodic (or
    over it, not yet cleanly periodic itself) must last 40 ms before it is believed. Every
    frame describes the newest hop: no lag is added.
    """

    def __init__(self, samplerate: int, hop: int, lowest_midi: int, highest_midi: int,
                 settings: "AnalysisSettings"):
        self.sr, self.hop, self.s = samplerate, hop, settings
        self.f_min = midi_to_hz(lowest_midi - settings.range_margin)
        self.f_max = midi_to_hz(highest_midi + settings.range_margin)
        wins = tracker_windows(lowest_midi, highest_midi, samplerate, hop, settings.range_margin)
        self._low = None
        if wins[-1] >= LONG_FROM:
            self._low = LowYin(samplerate // 2, self.f_min, settings.tolerance)
            span = 2 * self._low.n
            # beside it, only the windows that can be sure of the range's upper notes (with room
            # for the octave below): the others would only ever offer doubtful readings
            wins = [w for w in wins if w < min(span, LONG_FROM)
                    and samplerate / (0.45 * w / settings.octave_room) <= self.f_max]
        self._det = []
        for w in wins:
            p = aubio.pitch("yinfast", w, w, samplerate)        # hop = window: it reads what it is given
            p.set_unit("Hz")
            p.set_tolerance(settings.tolerance)
            p.set_silence(-120.0)
            self._det.append(p)
        # spans in samples at the input rate, shortest first; the low detector is the last
        self.windows = wins + ([2 * self._low.n] if self._low else [])
        # the history: the longest aubio window, and room for the subharmonic test and the
        # refinement of a held note's value (a few of its periods)
        longest_period = int(samplerate / self.f_min) if self._low is None else 192    # (longer: read at half rate)
        self._hist = np.zeros(max(max(wins, default=hop), PROBE_SPAN, REFINE_PERIODS * longest_period + 8), np.float32)
        self._hist2 = np.zeros(max(self._low.n, PROBE_SPAN // 2 + self._low.tmax + 8) if self._low else 1, np.float32)
        self._tail = np.zeros(3, np.float32)       # the last samples, for the half-rate filter
        self._prev = [0.0] * len(self.windows)     # each detector's last confident estimate
        # beside two or more windows (a wide range: a cello, a piano), the low-note detector
        # reads every other hop, to stay inside 2% of a core
        self._low_stride = 2 if self._low is not None and len(self._det) >= 2 else 1
        self._tick = 0
        self._low_last = (0.0, 0.0, True)
        self._low_fresh = True
        self.shown = 0.0
        self.confidence = 0.0
        self._age = 0                              # samples since the shown pitch changed
        self._unread = 0                           # samples since a detector last read the shown pitch
        self._sub_wait = 0                         # samples a reading related to the shown note has waited
        self._refined, self._refine_tick = 0.0, 0  # the last refined value, read every other hop
        self._last = 0.0                           # the last pitch shown, and samples since
        self._since_last = 0
        self.since_onset = 0                       # samples since the player's last onset (set by its analyzer)

    def _nd(self, period: float, span: int) -> tuple[float, float]:
        """The normalised squared difference of the newest ``span`` samples against those a
        ``period`` earlier (0: periodic there, about 1: unrelated), at the integer lag nearest
        the period and refined to the local minimum (a few lags around it), and the refined
        period from a parabola through it. Long periods are read at half rate."""
        if self._low is not None and period >= 192:
            h, scale = self._hist2, 2
        else:
            h, scale = self._hist, 1
        p, L = period / scale, int(span / scale)
        t = int(round(p))
        L = min(L, (self._low.n if scale == 2 else len(h)) - t - 4)    # (at half rate: what the low YIN reads)
        if t < 2 or L < max(8, t // 2):
            return 1.0, period
        x = h[::-1]
        a = x[:L]
        ea = float(np.dot(a, a))

        def nd(lag):
            b = x[lag:lag + L]
            e = ea + float(np.dot(b, b))
            if e <= 1e-12:
                return 1.0
            dd = a - b
            return float(np.dot(dd, dd)) / e
        c = {t - 1: nd(t - 1), t: nd(t), t + 1: nd(t + 1)}
        for _ in range(3):                       # walk to the local minimum
            if c[t - 1] < c[t] and t - 2 >= 2:
                t -= 1
                c[t - 1] = nd(t - 1)
            elif c[t + 1] < c[t] and t + 2 + L < len(x):
                t += 1
                c[t + 1] = nd(t + 1)
            else:
                break
        a0, b0, e0 = c[t - 1], c[t], c[t + 1]
        den = a0 - 2.0 * b0 + e0
        off = 0.5 * (a0 - e0) / den if den > 0 else 0.0
        return b0, (t + max(-0.5, min(0.5, off))) * scale

    def _subharmonic(self, f: float) -> float:
        """A reading whose period holds two or three of a shorter one nearly as periodic is
        that shorter one's subharmonic (a sample's thump, a window across two notes): the
        note is the shorter period. Read over the newest stretch only, two of its periods."""
        P = self.sr / f
        own, _ = self._nd(P, int(min(max(2 * P, 256), PROBE_SPAN)))
        best, best_nd = f, None
        for k in (2, 3):
            if f * k > self.f_max:
                break
            q, pq = self._nd(P / k, int(min(max(2 * P / k, 256), PROBE_SPAN)))
            if q <= max(SUB_ABS if self.since_onset <= ATTACK_S * self.sr else SUB_ABS_HELD, own + SUB_SLACK) and (best_nd is None or q < best_nd):
                best, best_nd = self.sr / pq, q
        return best

    def _probe(self, f: float) -> float:
        """How well the newest sound repeats at the period of ``f`` (over two of its periods)."""
        P = self.sr / f
        return self._nd(P, int(min(max(2 * P, 256), PROBE_SPAN)))[0]

    def _upper_wins(self, f_hi: float, f_lo: float) -> bool:
        """Of two related readings (``f_hi`` about twice or three times ``f_lo``), is the higher
        the note? YIN's own rule, on the newest sound: the shorter period is the note only where
        it repeats well and nearly as well as the longer one (a sound periodic at the shorter
        period is periodic at the longer one too; a note with a weak fundamental is not periodic
        at the shorter)."""
        q_hi = self._probe(f_hi)
        return q_hi <= max(UPPER_ABS, self._probe(f_lo) + UPPER_SLACK)

    @staticmethod
    def _related_up(f_hi: float, f_lo: float) -> bool:
        return any(_cents(f_hi, k * f_lo) <= OCTAVE_TOL for k in (2, 3))

    def _ref(self) -> float:
        """The note shown, or the one shown within REF_S (0 if none)."""
        return self.shown if self.shown > 0 else (self._last if self._since_last <= REF_S * self.sr else 0.0)

    def _related(self, f: float) -> bool:
        """Is a new reading an octave or a twelfth from the note shown (or shown within
        REF_S), while that note still sounds, and has it waited less than SUB_WAIT_S? Under
        it: the shown note's period is still periodic. Over it: the reading's own period is
        not cleanly periodic (the shown note's odd harmonics are still there)."""
        ref = self._ref()
        if ref <= 0 or self._sub_wait >= SUB_WAIT_S * self.sr:
            return False
        if any(_cents(f, ref / k) <= 50 for k in (2, 3, 4)):
            P = self.sr / ref
            return self._nd(P, int(min(max(2 * P, 256), PROBE_SPAN)))[0] < SUB_GONE
        if any(_cents(f, ref * k) <= 50 for k in (2, 3)) and f <= self.f_max:
            P = self.sr / f
            return self._nd(P, int(min(max(2 * P, 256), PROBE_SPAN)))[0] > SUPER_CLEAR
        return False

    def _refine(self, f: float) -> float:
        """A held low note's value read over several of its periods (up to PROBE_SPAN of
        sound, reaching back before the shown change, where the note was already sounding):
        one period's reading wobbles with the attack's jitter. The lag is searched over
        +-REFINE_REL around the reading, so a reading 60 cents off is brought back too."""
        P = self.sr / f
        if P < REFINE_FROM * self.sr:
            return f                        # a short period: the detectors' own reading is fine
        span = int(min(REFINE_PERIODS * P, PROBE_SPAN, self._age + REFINE_BACK * self.sr))
        if span < 2 * P:
            return f
        self._refine_tick ^= 1
        if self._refine_tick and self._refined > 0 and _cents(self._refined, f) <= 40:
            return self._refined            # every other hop: a held value moves slowly
        q, pq = self._nd_search(P, span, REFINE_REL)
        g = self.sr / pq if pq > 0 else 0.0
        self._refined = g if g > 0 and q < REFINE_ND and _cents(g, f) <= 80 else 0.0
        return self._refined or f

    def _nd_search(self, period: float, span: int, rel: float) -> tuple[float, float]:
        """The normalised difference's minimum over lags within ``rel`` of ``period`` (at half
        rate where the player has it), and the period there (parabola through it)."""
        if self._low is not None:
            h, scale = self._hist2, 2
        else:
            h, scale = self._hist, 1
        p, L = period / scale, int(span / scale)
        lo, hi = int(p * (1 - rel)), int(math.ceil(p * (1 + rel))) + 1
        L = min(L, len(h) - hi - 2)
        if lo < 2 or L < max(8, hi // 2):
            return 1.0, 0.0
        x = h[::-1]
        a = x[:L]
        seg = x[lo:hi + L]
        r = np.correlate(seg, a, "valid")                  # r[j] = sum a * x[lo + j:...]
        c = np.concatenate(([0.0], np.cumsum(seg.astype(np.float64) ** 2)))
        eb = c[L:L + len(r)] - c[:len(r)]
        ea = float(np.dot(a, a))
        e = ea + eb
        nd = np.where(e > 1e-12, (e - 2.0 * r) / np.maximum(e, 1e-12), 1.0)
        j = int(np.argmin(nd))
        if j == 0 or j == len(nd) - 1:
            return float(nd[j]), 0.0                      # the edge: not a minimum inside
        a0, b0, e0 = nd[j - 1], nd[j], nd[j + 1]
        den = a0 - 2.0 * b0 + e0
        off = 0.5 * (a0 - e0) / den if den > 0 else 0.0
        return float(b0), (lo + j + max(-0.5, min(0.5, off))) * scale

    def _estimates(self):
        out = []
        longest = len(self._det) - 1 if self._low is None else -1    # the low-note YIN is longer still
        for i, (w, p) in enumerate(zip(self.windows, self._det)):
            f = float(p(self._hist[:-w - 1:-1].copy())[0])     # newest first (see LowYin)
            c = float(p.get_confidence())
            # a period at the end of the window's lag range is the range's edge, not the note;
            # and a window that could not have seen the octave below leaves low readings to a
            # longer one (a low note with a weak fundamental reads an octave up in it)
            ok = c >= self.s.voiced_off and self.f_min <= f <= self.f_max and self.sr / f <= 0.45 * w
            sure = i == longest or (ok and self.sr / f <= 0.45 * w / self.s.octave_room)
            out.append((f if ok else 0.0, c, sure))
        if self._low is not None:
            self._tick += 1
            if self._tick % self._low_stride == 0:
                f, c = self._low(self._hist2)
                ok = c >= self.s.voiced_off and self.f_min <= f <= self.f_max
                self._low_last = (f if ok else 0.0, c, True)
                self._low_fresh = True
            else:
                self._low_fresh = False
            out.append(self._low_last)
        return out

    def listen(self, x: np.ndarray) -> None:
        """Take a hop into the history without reading it (the player is silent): nothing is
        shown, and no detector runs."""
        self._take(x)
        self._prev = [0.0] * len(self.windows)
        self._low_last = (0.0, 0.0, True)
        self.shown = self.confidence = 0.0
        self._last, self._sub_wait, self._refined = 0.0, 0, 0.0     # after a silence nothing is related

    def _take(self, x: np.ndarray) -> None:
        n = len(x)
        self._hist[:-n] = self._hist[n:]
        self._hist[-n:] = x
        if self._low is not None:
            # [1 3 3 1]/8 low-pass, every other sample: 24 kHz for the long windows
            y = np.concatenate((self._tail, x))
            self._tail = y[-3:]
            lp = (y[3:] + 3.0 * y[2:-1] + 3.0 * y[1:-2] + y[:-3]) * 0.125
            m = n // 2
            self._hist2[:-m] = self._hist2[m:]
            self._hist2[-m:] = lp[1::2]

    def process(self, x: np.ndarray) -> tuple[float, float]:
        f, c = self._process(x)
        if f > 0:
            self._last, self._since_last = f, 0
        else:
            self._since_last += len(x)
        return f, c

    def _process(self, x: np.ndarray) -> tuple[float, float]:
        n = len(x)
        self._take(x)
        est = self._estimates()
        prev, self._prev = self._prev, [f for f, _c, _s in est]
        tol = self.s.confirm_cents
        confirmed = []
        # a reading a fourth or more under the note shown is never believed on one reading
        # alone: a window holding two notes finds their common period, under both
        ref = self._ref()
        low = ref * 2.0 ** (-JUMP_DOWN_CENTS / 1200.0)
        for i, (f, c, sure) in enumerate(est):
            if f <= 0:
                continue
            fresh = self._low_fresh or self._low is None or i < len(est) - 1
            again = fresh and prev[i] > 0 and _cents(f, prev[i]) <= tol
            other = any(j != i and g > 0 and _cents(f, g) <= tol for j, (g, _c, _s) in enumerate(est))
            if sure and f < low and c >= self.s.instant_confidence:
                g = self._subharmonic(f)            # a low reading that is a subharmonic is its note
                if g >= low:
                    f = g
            if sure:
                if again or other or (c >= self.s.instant_confidence and f >= low):
                    confirmed.append((i, f, c))
            # a window too short to have seen the octave below: believed when it reads the same
            # twice and no other detector reads the octave or twelfth below with the sound
            # repeating better there (a note with a weak fundamental reads high in it)
            elif again and not any(g > 0 and self._related_up(f, g) and not self._upper_wins(f, g)
                                   for g, _c, _s in est):
                confirmed.append((i, f, c))
        self._age += n
        if not confirmed:
            self.confidence = max((c for _f, c, _s in est), default=0.0)
            # hold a shown pitch while the longest window still hears it (a steady note), or for
            # a moment when no detector reads anything (a low note's detector between readings)
            if self.shown > 0 and any(f > 0 and _cents(f, self.shown) <= 50 for f, _c, _s in est):
                self._unread = 0
                return self.shown, self.confidence
            self._unread += n
            if self.shown > 0 and not any(f > 0 for f, _c, _s in est) and \
                    self._unread <= self.s.hold_s * self.sr:
                return self.shown, self.confidence
            self.shown = 0.0
            return 0.0, self.confidence
        self._unread = 0
        i0, f_new, c_new = confirmed[0]                       # the shortest confirmed window
        # octave check: a longer detector reads the octave or twelfth below, and the newest sound
        # repeats better at that longer period (judged on the sound, not on the windows' ages)
        for i, f, c in confirmed[1:]:
            if self._related_up(f_new, f) and not self._upper_wins(f_new, f):
                i0, f_new, c_new = i, f, c
                break
        if self.shown <= 0 or _cents(f_new, self.shown) > 50:
            # a new pitch: is it the subharmonic of a shorter period? (the shown note itself,
            # the new note under its sample's thump, or the common period of two notes)
            # (not a reading of the note just shown, which goes on: continuity first)
            ref = self._ref()
            g = f_new if ref > 0 and _cents(f_new, ref) <= 100 else self._subharmonic(f_new)
            if g != f_new:
                i0, f_new = -1, g
            # a reading an octave or a twelfth from the shown note (or the one just shown)
            # while that note still sounds (a thump, a sample opening low or overblown, a
            # window across the change) must last before it is believed
            if self._related(f_new):
                self._sub_wait += n
                self._unread = 0
                # meanwhile the shown note stays while it still sounds, else nothing is shown
                if self.shown > 0:
                    P = self.sr / self.shown
                    if self._nd(P, int(min(max(2 * P, 256), PROBE_SPAN)))[0] >= HOLD_ND:
                        self.shown = 0.0
                return self.shown, self.confidence
            self._sub_wait = 0
            if self.shown <= 0 or _cents(f_new, self.shown) > 50:
                self.shown = f_new
                self._age = 0
            else:
                self._unread = 0
                self.shown = self._refine(self.shown)
                return self.shown, self.confidence
        else:
            self._sub_wait = 0
        # the finest reading: the longest window agreeing with the shown note that has seen
        # mostly this note (a longer one still blends in the note before)
        best, c_best = f_new, c_new
        if i0 >= 0:
            for i, f, c in confirmed:
                if i > i0 and _cents(f, f_new) <= 50 and self._age >= self.windows[i] // 2:
                    best, c_best = f, c
        best = self._refine(best)
        self.shown, self.confidence = best, c_best
        return best, c_best


# ------------------------------------------------------------------ the online pYIN tracker

def _beta_cdf_int(x: np.ndarray, a: int, b: int) -> np.ndarray:
    """The regularised incomplete beta function for whole a, b (the beta distribution's CDF)."""
    n = a + b - 1
    x = np.clip(x, 0.0, 1.0)
    return sum(math.comb(n, j) * x ** j * (1.0 - x) ** (n - j) for j in range(a, n + 1))


class HmmTracker:
    """pYIN (Mauch & Dixon 2014) decoded online, an alternative to PitchTracker
    (``AnalysisSettings(tracker="hmm")``, or ``"auto"``: this one for a range from C2 up).

    Every ``hmm_stride`` hops (2: every 10.7 ms at 48 kHz), the cumulative mean normalised
    difference (CMNDF) of the newest sound, read newest-first so its sum starts at the newest
    sample (an FFT autocorrelation; long periods at half rate), over lags up to the range's
    lowest period and a sum of half that (at least ``hmm_min_l`` samples). Every trough under
    0.5 is a pitch candidate, with pYIN's probability: YIN thresholds drawn from beta(2, 18),
    each giving its weight to the troughs under it by a Boltzmann prior on their order (the
    first one most); a trough at two or three of another's period where that one is nearly
    as deep (``hmm_sub_slack``) hands it its weight (YIN's own rule: the shorter period is the
    note). A hidden Markov model over pitch bins a fifth of a semitone wide over the player's
    range, each with an unvoiced twin: a pitch moves at most ``hmm_band`` semitones a step (a
    triangular weight), leaps anywhere with probability ``hmm_jump``, and switches between
    voiced and unvoiced with ``hmm_switch``; the voiced states see the candidates' weight,
    the unvoiced ones what is left of it. Viterbi decoding, online: the state shown is the
    best path's at ``hmm_lag`` steps back (0: its end); its value the newest candidate in that
    bin (or the next). A wrong note needs enough evidence to pay for the leap there and the
    leap back, so an octave for a step or two (a window across two notes, a reed's noisy
    start) is not shown. The level and release gates around it are PlayerAnalyzer's."""

    def __init__(self, samplerate: int, hop: int, lowest_midi: int, highest_midi: int,
                 settings: "AnalysisSettings"):
        s = settings
        self.sr, self.hop, self.s = samplerate, hop, s
        self.f_min = midi_to_hz(lowest_midi - s.range_margin)
        self.f_max = midi_to_hz(highest_midi + s.range_margin)
        # long periods are read at half rate ([1 3 3 1]/8, every other sample)
        self.scale = 2 if samplerate / self.f_min > HMM_HALF_FROM else 1
        sr2 = samplerate // self.scale
        self.sr2 = sr2
        self.tmin = max(2, int(math.floor(sr2 / self.f_max)) - 1)
        self.tmax = int(math.ceil(sr2 / self.f_min)) + 2
        self.L = max(s.hmm_min_l // self.scale, int(self.tmax * s.hmm_integration))
        self.n = self.L + self.tmax
        self.m = _fft_size(self.n + self.L)
        self._k = np.arange(1, self.tmax + 1, dtype=np.float64)
        self._hist = np.zeros(self.n + 8, np.float32)
        self._tail = np.zeros(3, np.float32)
        self.windows = [self.n * self.scale]
        # threshold distribution
        thr = np.linspace(0.0, 1.0, HMM_THRESHOLDS + 1)
        keep = thr[1:] <= HMM_MAX_THRESHOLD
        self._thr = thr[1:][keep]
        self._beta = np.diff(_beta_cdf_int(thr, 2, 18))[keep]
        # the Boltzmann prior over a trough's rank (1, 2, ...) among n under a threshold
        lam = HMM_BOLTZMANN
        self._boltz = [np.zeros(1)] + [np.concatenate(([0.0], (1.0 - math.exp(-lam)) * np.exp(-lam * np.arange(n))
                                                       / (1.0 - math.exp(-lam * n)))) for n in range(1, 65)]
        # the pitch states
        self.bps = HMM_BINS_PER_SEMITONE
        self.midi_lo = lowest_midi - s.range_margin
        self.nb = int(round((highest_midi + s.range_margin - self.midi_lo) * self.bps)) + 1
        w = int(round(s.hmm_band * self.bps))
        self.w = w
        tri = 1.0 - np.abs(np.arange(-w, w + 1)) / (w + 1.0)
        # row-normalised local transitions (source b' to target b = b' + d), as (target, offset)
        src = np.arange(self.nb)[:, None] - np.arange(-w, w + 1)[None, :]     # source for target b at offset d
        valid = (src >= 0) & (src < self.nb)
        rowsum = np.zeros(self.nb)
        for d, t in zip(range(-w, w + 1), tri):
            lo, hi = max(0, -d), min(self.nb, self.nb - d)
            rowsum[lo:hi] += t
        lt = np.where(valid, np.log(np.broadcast_to(tri, src.shape)) - np.log(rowsum[np.clip(src, 0, self.nb - 1)]), -np.inf)
        self._lt = lt                          # (nb, 2w+1)
        self._src = np.clip(src, 0, self.nb - 1)
        self._valid = valid
        p = s.hmm_switch
        self._lstay, self._lswitch = math.log(1.0 - p - s.hmm_jump), math.log(p)
        self._ljump = math.log(s.hmm_jump / self.nb)
        self._floor = s.hmm_floor
        self._r = np.arange(self.nb)
        self._idx = np.ascontiguousarray(
            (np.arange(2)[:, None, None] * self.nb + self._src[None]).transpose(2, 0, 1)).astype(np.intp)
        self._ltT = np.ascontiguousarray(lt.T[:, None, :])
        self._buf = np.empty((2 * w + 1, 2, self.nb))
        self._lag = s.hmm_lag
        self._stride = s.hmm_stride
        self._tick, self._out = 0, 0.0
        self.reset()
        self.since_onset = 0
        self.confidence = 0.0

    def reset(self) -> None:
        nb = self.nb
        self._d = np.zeros((2, nb))            # the best path's log-likelihood to each state
        self._d[0] = -1e9                      # (voiced, unvoiced): at first, unvoiced
        self._hist_d: list = []                # the newest `lag` steps' of them, to trace back
        self._cands: list = []                 # the newest lag+1 frames' (bins, freqs)

    def _take(self, x: np.ndarray) -> None:
        if self.scale == 2:
            y = np.concatenate((self._tail, x))
            self._tail = y[-3:]
            lp = (y[3:] + 3.0 * y[2:-1] + 3.0 * y[1:-2] + y[:-3]) * 0.125
            x = lp[1::2]
        m = len(x)
        self._hist[:-m] = self._hist[m:]
        self._hist[-m:] = x

    def _cmndf(self) -> np.ndarray | None:
        x = self._hist[:-self.n - 1:-1].astype(np.float64)
        L, tmax = self.L, self.tmax
        r = np.fft.irfft(np.fft.rfft(x, self.m) * np.conj(np.fft.rfft(x[:L], self.m)), self.m)[:tmax + 1]
        c = np.concatenate(([0.0], np.cumsum(x * x)))
        d = c[L] + (c[L:L + tmax + 1] - c[:tmax + 1]) - 2.0 * r
        cm = np.cumsum(d[1:])
        if cm[-1] <= 1e-12:
            return None
        dn = np.empty(tmax + 1)
        dn[0] = 1.0
        dn[1:] = d[1:] * self._k / np.maximum(cm, 1e-12)
        return dn

    def _candidates(self):
        """(bins, freqs, probs) of this hop's troughs in the player's range."""
        dn = self._cmndf()
        if dn is None:
            return None
        lo, hi = self.tmin, self.tmax - 1
        seg = dn[lo - 1:hi + 2]
        mid = seg[1:-1]
        tr = np.flatnonzero((mid < seg[:-2]) & (mid <= seg[2:]) & (mid < HMM_MAX_THRESHOLD)) + lo
        if len(tr) == 0:
            return None                   # nothing under the thresholds that carry weight: unvoiced
        h = dn[tr]
        below = h[:, None] < self._thr[None, :]                 # (troughs, thresholds)
        rank = np.cumsum(below, axis=0)
        nt = len(tr)
        pmf = self._boltz[min(nt, len(self._boltz) - 1)]        # by rank among the troughs below
        probs = np.where(below, pmf[np.minimum(rank, len(pmf) - 1)], 0.0) @ self._beta
        g = int(np.argmin(h))
        probs[g] += HMM_NO_TROUGH * float(self._beta[~below[g]].sum())
        # a trough at two or three of another's period, that one nearly as deep: the shorter is
        # the note (a sample's thump, a weak fundamental; YIN's rule), and takes its weight
        slack, sabs = self.s.hmm_sub_slack, self.s.hmm_sub_abs
        if nt > 1 and (slack > 0 or sabs > 0):
            for i in np.flatnonzero(probs > 0.01)[::-1]:
                if i == 0:
                    continue
                for k in (3, 2):
                    u = tr[i] / k
                    near = np.flatnonzero(np.abs(tr[:i] - u) <= 0.03 * u + 1)
                    if len(near):
                        j = int(near[np.argmin(h[near])])
                        if h[j] < max(sabs, h[i] + slack):
                            probs[j] += probs[i]
                            probs[i] = 0.0
                            break
        keep = probs > 1e-4
        tr, probs = tr[keep], probs[keep]
        a, b, e = dn[tr - 1], dn[tr], dn[tr + 1]
        den = a - 2.0 * b + e
        off = np.where(den > 0, 0.5 * (a - e) / np.where(den > 0, den, 1.0), 0.0)
        f = self.sr2 / (tr + np.clip(off, -0.5, 0.5))
        bins = np.rint((69.0 + 12.0 * np.log2(f / 440.0) - self.midi_lo) * self.bps).astype(np.int64)
        ok = (bins >= 0) & (bins < self.nb)
        return bins[ok], f[ok], probs[ok]

    def _step(self, cands) -> None:
        """One Viterbi step: the best log-likelihood of a path to each state (voiced, unvoiced)."""
        nb = self.nb
        ov = np.zeros(nb)
        if cands is not None and len(cands[0]):
            np.add.at(ov, cands[0], cands[2])
        vp = min(1.0, float(ov.sum()))
        self.confidence = vp
        fl = self._floor
        lo = np.empty((2, nb))
        np.log(np.maximum(ov, fl), out=lo[0])
        lo[1] = math.log(max((1.0 - vp) / nb, fl))
        d = self._d                                       # (2, nb): voiced, unvoiced
        buf = self._buf                                   # (2w+1, 2, nb): each source in the band
        np.take(d.ravel(), self._idx, out=buf)
        np.add(buf, self._ltT, out=buf)
        best = buf.max(axis=0)
        stay = best + self._lstay
        np.maximum(stay[0], d[0].max() + self._ljump, out=stay[0])   # or a leap to any pitch
        new = np.maximum(stay, best[::-1] + self._lswitch) + lo      # or switching kind
        new -= new.max()
        self._d = new
        self._hist_d.append(d)
        self._cands.append(cands)
        if len(self._hist_d) > self._lag:
            self._hist_d.pop(0)
        if len(self._cands) > self._lag + 1:
            self._cands.pop(0)

    def _pred(self, st: int, d: np.ndarray) -> int:
        """The best predecessor of state ``st`` given the step before's ``d``."""
        nb = self.nb
        kind, b = divmod(st, nb)
        src, lt = self._src[b], self._lt[b]
        a_same = d[kind, src] + lt + self._lstay
        a_other = d[1 - kind, src] + lt + self._lswitch
        i, j = int(np.argmax(a_same)), int(np.argmax(a_other))
        best, out = a_same[i], kind * nb + int(src[i])
        if a_other[j] > best:
            best, out = a_other[j], (1 - kind) * nb + int(src[j])
        if kind == 0:
            jl = int(np.argmax(d[0]))
            if d[0, jl] + self._ljump > best:
                out = jl
        return out

    def _decode(self) -> float:
        nb = self.nb
        st = int(np.argmax(self._d))
        for d in reversed(self._hist_d[-self._lag:] if self._lag else []):
            st = self._pred(st, d)
        if st >= nb:
            return 0.0
        # the value: the newest hop's candidate nearest the state (within a bin or two), else the
        # lagged hop's, else the bin's centre
        for c in (self._cands[-1], self._cands[0]):
            if c is not None and len(c[0]):
                dd = np.abs(c[0] - st)
                j = int(np.argmin(dd - 1e-3 * c[2]))
                if dd[j] <= 2:
                    return float(c[1][j])
        return midi_to_hz(self.midi_lo + st / self.bps)

    def listen(self, x: np.ndarray) -> None:
        self._take(x)
        self._tick += 1
        if self._tick % self._stride == 0:
            self._step(None)
        self._out = 0.0
        self.confidence = 0.0

    def process(self, x: np.ndarray) -> tuple[float, float]:
        self._take(x)
        self._tick += 1
        if self._tick % self._stride == 0:
            self._step(self._candidates())
            self._out = self._decode()
        return self._out, self.confidence


class PlayerAnalyzer:
    """One player's analysis, hop by hop: the input gain applied, then level (RMS and peak,
    dBFS), onsets and pitch; below the player's noise floor (with hysteresis) nothing is
    pitched."""

    def __init__(self, samplerate: int, hop: int, lowest_midi: int = 28, highest_midi: int = 108,
                 settings: AnalysisSettings = AnalysisSettings(), gain_db: float = 0.0,
                 noise_floor: float | None = None):
        if noise_floor is not None:
            settings = replace(settings, gate_db=noise_floor)
        self.samplerate, self.hop, self.settings = samplerate, hop, settings
        self.gain = float(10.0 ** (gain_db / 20.0))
        self._scaled = np.zeros(hop, np.float32)
        hmm = settings.tracker == "hmm" or (settings.tracker == "auto" and lowest_midi >= HMM_FROM_MIDI)
        cls = HmmTracker if hmm else PitchTracker
        self.tracker = cls(samplerate, hop, lowest_midi, highest_midi, settings)
        self.window = self.tracker.windows[-1]
        self._onset = aubio.onset(settings.onset_method, max(1024, hop * 4), hop, samplerate)
        self._onset.set_threshold(settings.onset_threshold)
        self._onset.set_silence(settings.onset_silence_db)
        self._onset.set_minioi_s(settings.onset_min_interval)
        self._gated = True
        self._peak_db = SILENCE_DB

    def process(self, x: np.ndarray) -> Frame:
        s = self.settings
        if self.gain != 1.0:
            if len(x) != len(self._scaled):
                self._scaled = np.zeros(len(x), np.float32)
            np.multiply(x, self.gain, out=self._scaled)
            x = self._scaled
        onset = bool(self._onset(x)[0])
        self.tracker.since_onset = 0 if onset else self.tracker.since_onset + len(x)
        rms = float(np.sqrt(np.dot(x, x) / len(x)))
        peak = float(np.max(np.abs(x)))
        level = db(rms)
        self._gated = level < (s.gate_db if self._gated else s.gate_db - s.gate_hysteresis_db)
        # the recent peak falls slowly; a note's own sound keeps near it, a release tail and the
        # room's reverb fall away from it fast
        self._peak_db = max(level, self._peak_db - s.tail_release_db_s * len(x) / self.samplerate)
        tail = level < self._peak_db - s.tail_db
        if self._gated:                 # silence: the detectors keep their history and rest
            self.tracker.listen(x)
            f0, conf = 0.0, 0.0
        else:
            f0, conf = self.tracker.process(x)
        if tail:
            f0 = 0.0
        return Frame(f0, max(0.0, min(1.0, conf)), level, db(peak), onset)


def analyze_signal(x: np.ndarray, samplerate: int, hop: int = 256, lowest_midi: int = 28,
                   highest_midi: int = 108, settings: AnalysisSettings = AnalysisSettings(),
                   gain_db: float = 0.0, noise_floor: float | None = None):
    """Run the live analyzer over a whole mono signal, as fast as it goes.

    Yields (time_s, Frame) per hop, time_s being the time of the last sample that hop used.
    """
    an = PlayerAnalyzer(samplerate, hop, lowest_midi, highest_midi, settings, gain_db, noise_floor)
    x = np.ascontiguousarray(x, dtype=np.float32)
    n = len(x) // hop
    for i in range(n):
        end = (i + 1) * hop
        yield (end - 1) / samplerate, an.process(x[end - hop:end])
