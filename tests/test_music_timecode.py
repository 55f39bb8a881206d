from fractions import Fraction

import pytest

from stage.film.timecode import TimecodeError, TimecodeFormat, parse_position
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
        assert parse_position(TimecodeFormat(Fraction(fps)).label(frame), fps) == frame


def test_positions():
    assert parse_position("00:00:01:12", 24) == 36
    assert parse_position(1.5, 24) == 36
    assert parse_position("01:00:00:00", 25) == 90000
    with pytest.raises(TimecodeError, match="frames run 00-23"):
        parse_position("00:00:01:24", 24)
    with pytest.raises(TimecodeError):
        parse_position("1:2", 24)


# -- SMPTE both ways, drop-frame included
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from stage.film.timecode import feet_frames  # noqa: E402

RATES = [(Fraction(24000, 1001), False), (Fraction(24), False), (Fraction(25), False),
         (Fraction(30000, 1001), False), (Fraction(30000, 1001), True), (Fraction(30), False),
         (Fraction(60000, 1001), True)]


@pytest.mark.parametrize("fps,df", RATES)
@given(count=st.integers(min_value=0, max_value=24 * 3600 * 60 - 1))
def test_every_frame_has_one_label_and_back(fps, df, count):
    tc = TimecodeFormat(fps, df)
    label = tc.count_to_label(count)
    assert tc.label_to_count(label) == count
    assert (";" in label) == df


@pytest.mark.parametrize("fps,df", RATES)
@given(count=st.integers(min_value=0, max_value=24 * 3600 * 30))
def test_labels_are_consecutive(fps, df, count):
    """The next frame's label is the next label that exists: drop-frame skips only its own."""
    tc = TimecodeFormat(fps, df)
    a, b = tc.count_to_label(count), tc.count_to_label(count + 1)
    h, m, s, f = (int(x) for x in a.replace(";", ":").split(":"))
    f += 1
    if f == tc.nominal:
        f, s = 0, s + 1
        if s == 60:
            s, m = 0, m + 1
            if m == 60:
                m, h = 0, h + 1
            if df and m % 10:
                f = tc.dropped                    # 00 and 01 (00-03 at 59.94) are skipped
    sep = ";" if df else ":"
    assert b == f"{h:02d}:{m:02d}:{s:02d}{sep}{f:02d}"


def test_drop_frame_known_values():
    tc = TimecodeFormat(Fraction(30000, 1001), True)
    assert tc.count_to_label(1799) == "00:00:59;29"
    assert tc.count_to_label(1800) == "00:01:00;02"
    assert tc.count_to_label(17982) == "00:10:00;00"
    assert tc.label_to_count("01:00:00;00") == 107892            # an hour of 29.97 DF is 107892 frames
    assert abs(107892 / (30000 / 1001) - 3600) < 0.004          # ... and keeps to the clock
    with pytest.raises(TimecodeError, match="does not exist in drop-frame"):
        tc.label_to_count("00:01:00;01")
    assert tc.label_to_count("00:10:00;00") == 17982             # every tenth minute keeps 00 and 01
    with pytest.raises(TimecodeError, match="only at 29.97 and 59.94"):
        TimecodeFormat(Fraction(25), True)


def test_a_reel_starting_at_one_hour():
    fmt = TimecodeFormat(Fraction(24), False)
    tc = TimecodeFormat(Fraction(24), False, start=fmt.label_to_count("01:00:00:00"))
    assert tc.label(0) == "01:00:00:00" and tc.label(36) == "01:00:01:12"
    assert tc.frame("01:00:10:00") == 240
    assert tc.position(10.0) == 240                               # seconds count from the first frame
    with pytest.raises(TimecodeError, match="before the film's first frame"):
        tc.frame("00:59:59:23")


def test_feet_and_frames():
    assert feet_frames(0) == "0+00" and feet_frames(15) == "0+15" and feet_frames(16) == "1+00"
    assert feet_frames(1448) == "90+08"
