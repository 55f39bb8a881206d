"""Chord symbols, modes and sequences, and what a pitch is against them.

Pure: no pygame. A sequence is written in bars: ``"Dm7 | Gm7 | Eb7 | D7#9"``; a bar may hold
several chords (``"Dm7 G7"``: they share it); ``"*N"`` repeats a bar N times; a mode fills a
bar with its scale (``"D dorian*16"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NOTE_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# quality -> (chord tones, the scale heard over it), as semitones above the root
QUALITIES = {
    "": ((0, 4, 7), (0, 2, 4, 5, 7, 9, 11)), "maj": ((0, 4, 7), (0, 2, 4, 5, 7, 9, 11)),
    "m": ((0, 3, 7), (0, 2, 3, 5, 7, 9, 10)), "min": ((0, 3, 7), (0, 2, 3, 5, 7, 9, 10)),
    "7": ((0, 4, 7, 10), (0, 2, 4, 5, 7, 9, 10)), "maj7": ((0, 4, 7, 11), (0, 2, 4, 5, 7, 9, 11)),
    "m7": ((0, 3, 7, 10), (0, 2, 3, 5, 7, 9, 10)), "m7b5": ((0, 3, 6, 10), (0, 1, 3, 5, 6, 8, 10)),
    "dim": ((0, 3, 6), (0, 2, 3, 5, 6, 8, 9, 11)), "dim7": ((0, 3, 6, 9), (0, 2, 3, 5, 6, 8, 9, 11)),
    "aug": ((0, 4, 8), (0, 2, 4, 6, 8, 10)), "sus4": ((0, 5, 7), (0, 2, 4, 5, 7, 9, 10)),
    "sus2": ((0, 2, 7), (0, 2, 4, 5, 7, 9, 10)), "6": ((0, 4, 7, 9), (0, 2, 4, 5, 7, 9, 11)),
    "m6": ((0, 3, 7, 9), (0, 2, 3, 5, 7, 9, 11)), "9": ((0, 4, 7, 10, 2), (0, 2, 4, 5, 7, 9, 10)),
    "m9": ((0, 3, 7, 10, 2), (0, 2, 3, 5, 7, 9, 10)), "maj9": ((0, 4, 7, 11, 2), (0, 2, 4, 5, 7, 9, 11)),
    "7b9": ((0, 4, 7, 10, 1), (0, 1, 3, 4, 6, 7, 9, 10)), "7#9": ((0, 4, 7, 10, 3), (0, 1, 3, 4, 6, 8, 10)),
    "7alt": ((0, 4, 10, 1, 3, 6, 8), (0, 1, 3, 4, 6, 8, 10)), "13": ((0, 4, 7, 10, 2, 9), (0, 2, 4, 5, 7, 9, 10)),
}
MODES = {
    "ionian": (0, 2, 4, 5, 7, 9, 11), "major": (0, 2, 4, 5, 7, 9, 11), "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10), "lydian": (0, 2, 4, 6, 7, 9, 11), "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "aeolian": (0, 2, 3, 5, 7, 8, 10), "minor": (0, 2, 3, 5, 7, 8, 10), "locrian": (0, 1, 3, 5, 6, 8, 10),
}
_CHORD_RE = re.compile(r"^([A-G])([#b]?)(.*)$")
_MODE_RE = re.compile(r"^([A-G])([#b]?)\s+([a-z]+)$")


class HarmonyError(ValueError):
    pass


@dataclass(frozen=True)
class Chord:
    name: str
    root: int                    # pitch class
    tones: frozenset             # chord tones (pitch classes)
    scale: frozenset             # scale tones (pitch classes)

    def function(self, midi_note: int) -> str:
        """'chord', 'scale' or 'outside' for a note (MIDI number)."""
        pc = midi_note % 12
        return "chord" if pc in self.tones else "scale" if pc in self.scale else "outside"

    def degree(self, midi_note: int) -> str:
        """The note's scale degree against the chord's root: 1, b3, 5, #11 ..."""
        names = ("1", "b2", "2", "b3", "3", "4", "#4", "5", "b6", "6", "b7", "7")
        return names[(midi_note - self.root) % 12]


def _root(letter: str, acc: str) -> int:
    return (NOTE_PC[letter] + (1 if acc == "#" else -1 if acc == "b" else 0)) % 12


def parse_chord(text: str) -> Chord:
    text = text.strip()
    m = _MODE_RE.match(text)
    if m:
        letter, acc, mode = m.groups()
        if mode not in MODES:
            raise HarmonyError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
        root = _root(letter, acc)
        scale = MODES[mode]
        tones = (scale[0], scale[2], scale[4], scale[6])          # its 1, 3, 5, 7
        return Chord(text, root, frozenset((root + i) % 12 for i in tones),
                     frozenset((root + i) % 12 for i in scale))
    m = _CHORD_RE.match(text)
    if not m:
        raise HarmonyError(f"{text!r} is not a chord symbol (a root A-G, # or b, a quality: Dm7, Eb7, G7#9)")
    letter, acc, quality = m.groups()
    if quality not in QUALITIES:
        raise HarmonyError(f"unknown chord quality {quality!r} in {text!r}; known: "
                           + ", ".join(q or "(major)" for q in QUALITIES))
    root = _root(letter, acc)
    tones, scale = QUALITIES[quality]
    return Chord(text, root, frozenset((root + i) % 12 for i in tones), frozenset((root + i) % 12 for i in scale))


@dataclass(frozen=True)
class Span:
    start: float                 # seconds from the loop's in point
    length: float
    chord: Chord


def parse_sequence(text: str, tempo: float = 120.0, beats_per_bar: int = 4) -> list[Span]:
    """Bars separated by '|', chords in a bar share it, 'X*N' repeats a bar N times."""
    bar_s = beats_per_bar * 60.0 / tempo
    spans: list[Span] = []
    t = 0.0
    for b, raw in enumerate(text.split("|"), 1):
        bar = raw.strip()
        if not bar:
            raise HarmonyError(f"bar {b} is empty")
        repeat = 1
        m = re.match(r"^(.*?)\s*\*\s*(\S+)$", bar)
        if m:
            bar, count = m.group(1).strip(), m.group(2)
            if not count.isdigit() or not 1 <= int(count) <= 999:
                raise HarmonyError(f"bar {b} ({raw.strip()!r}): bad duration {count!r}: '*N' takes a whole number of bars")
            repeat = int(count)
        try:
            chords = [parse_chord(bar)] if _MODE_RE.match(bar) else [parse_chord(c) for c in bar.split()]
        except HarmonyError as e:
            raise HarmonyError(f"bar {b} ({raw.strip()!r}): {e}") from None
        for _ in range(repeat):
            for c in chords:
                spans.append(Span(t, bar_s / len(chords), c))
                t += bar_s / len(chords)
    return spans


def chord_at(spans: list[Span], seconds: float) -> tuple[int, Span] | None:
    """The span sounding at ``seconds`` into the loop (the sequence repeats if it is shorter)."""
    if not spans:
        return None
    total = spans[-1].start + spans[-1].length
    s = seconds % total
    for i, sp in enumerate(spans):
        if sp.start <= s < sp.start + sp.length:
            return i, sp
    return len(spans) - 1, spans[-1]
