"""Notes, frequencies and names (concert pitch, A4 = 440 Hz unless told)."""

from __future__ import annotations

import math
import re

NAMES_SHARP = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
NAMES_FLAT = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
_STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_NOTE_RE = re.compile(r"^\s*([A-Ga-g])([#b♯♭]{0,2})(-?\d+)\s*$")


class NoteError(ValueError):
    pass


def parse_note(text: str) -> int:
    """'E1', 'Bb4', 'F#3' -> MIDI note number (C4 = 60)."""
    m = _NOTE_RE.match(str(text))
    if not m:
        raise NoteError(f"not a note name: {text!r} (expected a letter A-G, optional # or b, and an octave, e.g. E1, Bb4, F#3)")
    letter, acc, octave = m.groups()
    n = _STEPS[letter.upper()] + acc.count("#") + acc.count("♯") - acc.count("b") - acc.count("♭")
    midi = 12 * (int(octave) + 1) + n
    if not 0 <= midi <= 127:
        raise NoteError(f"note {text!r} is outside MIDI range C-1..G9")
    return midi


def midi_to_hz(midi: float, a4: float = 440.0) -> float:
    return a4 * 2.0 ** ((midi - 69.0) / 12.0)


def hz_to_midi(hz: float, a4: float = 440.0) -> float:
    if hz <= 0:
        return float("nan")
    return 69.0 + 12.0 * math.log2(hz / a4)


def note_name(midi: int, flats: bool = False) -> str:
    names = NAMES_FLAT if flats else NAMES_SHARP
    return f"{names[midi % 12]}{midi // 12 - 1}"


def nearest_note(hz: float, a4: float = 440.0) -> tuple[int, float]:
    """Nearest equal-tempered note and the cents off it (-50..+50)."""
    m = hz_to_midi(hz, a4)
    n = int(round(m))
    return n, (m - n) * 100.0
