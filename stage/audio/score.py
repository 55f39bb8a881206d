"""Scoring a pitch tracker against known notes, causally, as the projector shows it.

Pure numpy; used by scripts/bench_pitch.py and the tests. A tracker's output is rows
(stamp, f0): ``stamp`` the time of the last input sample the row used, ``f0`` 0 for no pitch.
A row counts from its stamp on, never before (what a player sees at time t is the newest row
stamped at or before t).
"""

from __future__ import annotations

import numpy as np


def causal_on(grid: np.ndarray, stamps: np.ndarray, f: np.ndarray) -> np.ndarray:
    """The value shown at each grid time: the latest row stamped at or before it (0 before any)."""
    i = np.searchsorted(stamps, grid, side="right") - 1
    return np.where(i >= 0, f[np.clip(i, 0, None)], 0.0)


def note_hz(midi: float, cents: float = 0.0) -> float:
    return 440.0 * 2 ** ((midi + cents / 100 - 69) / 12)


def truth(notes, times: np.ndarray) -> np.ndarray:
    """Reference f0 (Hz, 0 = no note) at ``times`` from notes (start_s, end_s, midi, velocity,
    cents)."""
    f = np.zeros(len(times))
    for s, e, m, _v, cents in notes:
        f[(times >= s) & (times < e)] = note_hz(m, cents)
    return f


def cents_off(est: np.ndarray, ref: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.abs(1200 * np.log2(np.where(est > 0, est, 1e-9) / ref))


def raw_pitch_accuracy(ref: np.ndarray, est: np.ndarray, tol_cents: float = 50.0) -> float:
    """Share of the frames with a note in which the shown pitch is within ``tol_cents`` of it
    (an unvoiced frame counts as wrong), as MIREX's raw pitch accuracy with no pitch guessed."""
    v = ref > 0
    return float(np.mean((est[v] > 0) & (cents_off(est[v], ref[v]) <= tol_cents))) if v.any() else 1.0


def lock_times(notes, stamps: np.ndarray, f: np.ndarray, hold_s: float = 0.020) -> list:
    """Per note: seconds from its start until the shown pitch is within 50 cents of the note and
    holds there for ``hold_s`` (or to the note's end); None if never before the note ends."""
    out = []
    ok_all = None
    for s, e, m, _v, cents in notes:
        ref = note_hz(m, cents)
        ok_all = (f > 0) & (cents_off(f, np.full(len(f), ref)) <= 50)
        i0 = max(0, int(np.searchsorted(stamps, s, side="right")) - 1)
        i1 = int(np.searchsorted(stamps, e, side="left"))
        t_lock = None
        k = i0
        while k < i1:
            if not ok_all[k]:
                k += 1
                continue
            j = k
            while j + 1 < len(stamps) and ok_all[j + 1]:
                j += 1
            start = max(s, stamps[k])
            until = stamps[j + 1] if j + 1 < len(stamps) else np.inf
            if start < e and min(until, e) - start >= min(hold_s, e - start - 1e-9):
                t_lock = start - s
                break
            k = j + 1
        out.append(t_lock)
    return out


FLASH_CENTS = 450.0     # a fourth (500 cents), less a quarter-tone for a sample's own tuning


def flashes(notes, grid: np.ndarray, shown: np.ndarray, off_cents: float = FLASH_CENTS) -> list[bool]:
    """Per note: was a wrong note flashed during it? A value shown (``shown`` at the ``grid``
    times, as causal_on gives it) from the note's start to its end, at least ``off_cents`` off
    the note and more than 50 cents from the previous note (the old note lingering is lag,
    not a wrong note)."""
    out = []
    prev = None
    for s, e, m, _v, cents in notes:
        ref = note_hz(m, cents)
        sel = (grid >= s) & (grid < e) & (shown > 0)
        v = shown[sel]
        wrong = cents_off(v, np.full(len(v), ref)) >= off_cents
        if prev is not None:
            wrong &= cents_off(v, np.full(len(v), prev)) > 50
        out.append(bool(wrong.any()))
        prev = ref
    return out


def wobbles(notes, grid: np.ndarray, shown: np.ndarray, locks: list, min_s: float = 0.15) -> list:
    """Per held note (at least ``min_s`` long, locked): once locked (from its lock time + 20
    ms to its end), does the shown value stray more than 50 cents from it while still under
    a flash's distance (an unsteady reading of the right note)? None for notes not counted."""
    out = []
    for (s, e, m, _v, cents), lk in zip(notes, locks):
        if lk is None or e - s < min_s:
            out.append(None)
            continue
        ref = note_hz(m, cents)
        sel = (grid >= s + lk + 0.02) & (grid < e) & (shown > 0)
        c = cents_off(shown[sel], np.full(int(sel.sum()), ref))
        out.append(bool(((c > 50) & (c < FLASH_CENTS)).any()))
    return out
