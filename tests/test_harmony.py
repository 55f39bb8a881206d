"""The harmonic sequence: chord symbols and modes, timing over the loop, a pitch's function,
the colours it is drawn in, and errors that name the cue and the position."""

import pytest

from stage.audio.analysis import Frame
from stage.film.synth import make_numbered_clip
from stage.harmony import HarmonyError, chord_at, parse_chord, parse_sequence
from stage.music import parse_note
from stage.runtime import Cue
from stage.session import SessionError, load_session

from .conftest import ROOT
from .test_render import PLAYERS, FakeClock, colour_at, is_colour


def test_chords_and_modes():
    dm7 = parse_chord("Dm7")
    assert [dm7.function(parse_note(n)) for n in ("D4", "F4", "A4", "C5", "E4", "B4", "C#4")] == \
        ["chord"] * 4 + ["scale", "scale", "outside"]
    assert dm7.degree(parse_note("F4")) == "b3" and dm7.degree(parse_note("C5")) == "b7"
    assert parse_chord("Eb7").function(parse_note("Db4")) == "chord"
    assert parse_chord("D7#9").function(parse_note("F4")) == "chord"          # the sharp nine
    dorian = parse_chord("D dorian")
    assert dorian.function(parse_note("B4")) == "scale" and dorian.function(parse_note("Bb4")) == "outside"


def test_sequences_in_bars_at_a_tempo():
    spans = parse_sequence("Dm7 | Gm7 | Eb7 | D7#9", tempo=120)
    assert [(s.start, s.length, s.chord.name) for s in spans] == \
        [(0.0, 2.0, "Dm7"), (2.0, 2.0, "Gm7"), (4.0, 2.0, "Eb7"), (6.0, 2.0, "D7#9")]
    spans = parse_sequence("Dm7 G7 | Cmaj7*2", tempo=60, beats_per_bar=4)
    assert [(s.start, s.chord.name) for s in spans] == [(0.0, "Dm7"), (2.0, "G7"), (4.0, "Cmaj7"), (8.0, "Cmaj7")]
    assert chord_at(spans, 13.0)[1].chord.name == "Dm7"                      # the sequence repeats
    assert len(parse_sequence("D dorian*16")) == 16


@pytest.mark.parametrize("text,says", [
    ("Dm7 | Gx7 | C", "bar 2 ('Gx7'): unknown chord quality 'x7'"),
    ("Dm7 | | C", "bar 2 is empty"),
    ("Dm7*two", "bar 1 ('Dm7*two'): bad duration 'two'"),
    ("H7", "'H7' is not a chord symbol"),
    ("D bebop*4", "unknown mode 'bebop'"),
])
def test_bad_symbols_say_where(text, says):
    with pytest.raises(HarmonyError, match=says.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        parse_sequence(text)


def test_session_errors_name_the_cue_and_position(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(f'[film]\nfile = "{ROOT / "assets" / "demo_film.mp4"}"\n\n[[cues]]\nname = "1M1"\nin = 0.0\n'
                 f'out = 8.0\nharmony = "Dm7 | Gm7 | Eb7 | D7#10"\n\n[[players]]\nname = "A"\nmidi = "x"\n')
    with pytest.raises(SessionError) as e:
        load_session(p)
    assert e.value.line == 8 and e.value.key == "cues[0].harmony"
    assert "cue '1M1': bar 4 ('D7#10'): unknown chord quality '7#10'" in str(e.value)


@pytest.mark.parametrize("chord,function,colour", [
    ("Am7", "chord", (90, 255, 120)),      # A is the root of Am7: a chord tone
    ("Bb7", "outside", (255, 70, 70)),     # A against Bb7 (Bb mixolydian): outside
    ("Gmaj7", "scale", (235, 235, 235)),   # A against Gmaj7: the ninth, a scale tone
])
def test_a_pitch_is_drawn_in_the_colour_of_its_function(chord, function, colour, clip_dir):
    from .scene import Scene
    from .test_performance import film_of
    film = film_of(make_numbered_clip(clip_dir / "h.mp4", 240, size=(160, 90)),
                   [Cue("c", (0, 240), [], None, parse_sequence(chord))])
    clock = FakeClock()
    app = Scene(PLAYERS[:1], film=film, clock=clock)
    feeds = app.feeds
    t0 = clock.t
    for i in range(100):
        feeds[0].push(t0 + i * 256 / 48000, Frame(440.0, 1.0, -10.0, -6.0, False))
    clock.t = t0 + 100 * 256 / 48000
    rendered = []
    real = app.renderer.text.render
    app.renderer.text.render = lambda *a, **k: rendered.append(a[0]) or real(*a, **k)
    app.frame()
    app.frame()                        # (the labels are drawn from what the frame before read)
    lane = app.lane("Trumpet")
    x = app.now_x - 0.3 * app.pps
    y = lane.geom.y_for_hz(440.0)
    core = [colour_at(app, x, yy) for yy in (y - 1, y, y + 1)]
    assert any(is_colour(c, colour) for c in core), core                  # the trail's core, on the 440 Hz row
    assert is_colour(colour_at(app, x, y - 3), (255, 176, 0))             # around it, the player's colour
    assert lane.function == function
    # ... and labelled with its degree against the chord: A is the 1 of Am7, the 7 of Bb7, the 9th of Gmaj7
    assert lane.degree_label(clock.t) == f"{ {'Am7': '1', 'Bb7': '7', 'Gmaj7': '2'}[chord]} of {chord}"
    assert lane.degree_label(clock.t) in rendered
    assert chord in rendered                                              # and the chord, large
    app.close()


def test_chords_at_timecodes(tmp_path):
    from stage.runtime import open_film
    from stage.session import load_session
    film = make_numbered_clip(tmp_path / "f.mp4", 240, size=(160, 90))
    text = f"""
[film]
file = "{film}"

[[players]]
name = "Horn"
channel = 1

[[cues]]
name = "1M1"
in = "00:00:01:00"
out = "00:00:09:00"
harmony = [["00:00:02:00", "Dm7"], ["00:00:04:12", "G7"], [7.0, "C dorian"]]
"""
    p = tmp_path / "s.toml"
    p.write_text(text)
    spans = open_film(load_session(p)).cues[0].harmony
    # from the in point (1 s): the last chord carries on until the first, then each to the next
    assert [(round(s.start, 3), round(s.length, 3), s.chord.name) for s in spans] == [
        (0.0, 1.0, "C dorian"), (1.0, 2.5, "Dm7"), (3.5, 2.5, "G7"), (6.0, 2.0, "C dorian")]
    assert chord_at(spans, 3.6)[1].chord.name == "G7"
    for bad, says in (('[["00:00:02:00", "Dm7"], ["00:00:01:12", "G7"]]', "does not come after chord 1"),
                      ('[["00:00:02:00", "Dm7"], ["00:00:09:12", "G7"]]', "outside the cue's loop"),
                      ('[["00:00:02:00", "Dm7"], ["00:00:04:00", "Gx7"]]', "chord 2 ('Gx7')"),
                      ('[["00:00:02:00"]]', "expected [timecode")):
        p.write_text(text.replace('[["00:00:02:00", "Dm7"], ["00:00:04:12", "G7"], [7.0, "C dorian"]]', bad))
        with pytest.raises(SessionError) as e:
            open_film(load_session(p))
        assert "cues[0].harmony" in str(e.value) and "cue '1M1'" in str(e.value) and says in str(e.value), str(e.value)
