from fractions import Fraction

import pytest

from stage.film.timecode import TimecodeError, format_timecode, parse_position
from stage.music import NoteError, hz_to_midi, midi_to_hz, nearest_note, note_name, parse_note


@pytest.mark.parametrize("name,midi", [("A4", 69), ("C4", 60), ("E1", 28), ("Bb4", 70), ("F#3", 54), ("C8", 108)])
def test_note_names(name, midi):
    assert parse_note(name) == midi


def test_note_errors():
    with pytest.raises(NoteError):
        parse_note("H2")
    with pytest.raises(NoteError):
        parse_note("C")


def test_frequencies():
    assert midi_to_hz(69) == pytest.approx(440.0)
    assert hz_to_midi(880.0) == pytest.approx(81.0)
    n, c = nearest_note(445.0)
    assert note_name(n) == "A4" and c == pytest.approx(19.56, abs=0.05)


@pytest.mark.parametrize("fps", [Fraction(24000, 1001), 24, 25, Fraction(30000, 1001), 30])
def test_timecode_round_trip(fps):
    for frame in (0, 1, 23, 24, 1439, 86399, 123457):
        assert parse_position(format_timecode(frame, fps), fps) == frame


def test_positions():
    assert parse_position("00:00:01:12", 24) == 36
    assert parse_position(1.5, 24) == 36
    assert parse_position("01:00:00:00", 25) == 90000
    with pytest.raises(TimecodeError, match="frames run 00-23"):
        parse_position("00:00:01:24", 24)
    with pytest.raises(TimecodeError):
        parse_position("1:2", 24)
