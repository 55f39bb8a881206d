"""Frames from the renderer under SDL's dummy driver, checked pixel by pixel."""

import numpy as np
import pygame
import pytest

from stage.audio.analysis import PlayerAnalyzer
from stage.session.model import PlayerConfig

from .scene import FakeClock, Scene
from .signals import SR, tone


def feed_signal(feed, x, t0, lowest, highest):
    """Analyse x as if it had been captured starting at t0; push every hop into the feed."""
    an = PlayerAnalyzer(SR, 256, lowest, highest)
    for i in range(len(x) // 256):
        end = (i + 1) * 256
        feed.push(t0 + (end - 1) / SR, an.process(x[end - 256:end]))


def make_app(players, clock, size=(1280, 720), **options):
    app = Scene(players, size=size, clock=clock, **options)
    return app, app.feeds


def colour_at(app, x, y):
    return tuple(app.screen.get_at((int(x), int(round(y))))[:3])


def is_colour(c, want, tol=4):
    """The player's colour, allowing SDL's alpha-blend rounding (255 blends to 254)."""
    return all(abs(a - b) <= tol for a, b in zip(c, want))


PLAYERS = [PlayerConfig("Trumpet", (255, 176, 0), 1, 52, 84), PlayerConfig("Bass", (60, 220, 255), 2, 28, 55)]


def drawn_tone(players, hz, lowest=52, highest=84):
    """An app whose first player played ``hz`` for the last second, drawn: (app, its lane)."""
    clock = FakeClock()
    app, feeds = make_app(players, clock)
    t0 = clock.t
    clock.t = t0 + 1.0
    feed_signal(feeds[0], tone(hz, 1.0), t0, lowest, highest)
    app.frame()
    return app, app.lane(players[0].name)


def test_a_440_hz_tone_is_drawn_at_the_440_hz_row_in_the_players_colour():
    app, lane = drawn_tone(PLAYERS, 440.0)
    y440 = lane.geom.y_for_hz(440.0)
    # half a second ago: well inside the tone
    x = app.now_x - 0.5 * app.pps
    assert is_colour(colour_at(app, x, y440), (255, 176, 0))
    # a semitone away the trail is not drawn: the 440 Hz row is where the line is
    y_bb = lane.geom.y_for_hz(466.16)
    assert not is_colour(colour_at(app, x, y_bb), (255, 176, 0))
    # the line's thickness is centred on the row
    column = [is_colour(colour_at(app, x, y), (255, 176, 0)) for y in range(int(y440) - 20, int(y440) + 21)]
    top = column.index(True)
    bottom = len(column) - 1 - column[::-1].index(True)
    assert abs((top + bottom) / 2 - 20) <= 1.5
    # nothing of that colour in the bass lane
    bass = app.lane("Bass").geom
    px = pygame.surfarray.array3d(app.screen)[: app.now_x, bass.top:bass.top + bass.height].astype(int)
    assert not np.any(np.all(np.abs(px - (255, 176, 0)) <= 4, axis=-1))
    assert lane.status == "pitch"
    app.close()


def test_label_shows_the_note_and_the_silent_player_says_no_signal():
    clock = FakeClock()
    app, feeds = make_app(PLAYERS, clock)
    t0 = clock.t
    feed_signal(feeds[0], tone(440.0, 1.0), t0, 52, 84)
    feed_signal(feeds[1], np.zeros(SR, np.float32), t0, 28, 55)
    clock.t = t0 + 1.0
    app.frame()
    assert app.lane("Trumpet").status == "pitch"
    assert app.lane("Bass").status == "no signal"
    # silence draws nothing: the bass lane's trail area holds no bass colour
    bass = app.lane("Bass").geom
    px = pygame.surfarray.array3d(app.screen)[: app.now_x, bass.top:bass.top + bass.height].astype(int)
    assert not np.any(np.all(np.abs(px - (60, 220, 255)) <= 4, axis=-1))
    app.close()


def test_a_player_whose_input_stops_shows_no_input_not_a_frozen_note():
    clock = FakeClock()
    app, feeds = make_app(PLAYERS, clock)
    t0 = clock.t
    feed_signal(feeds[0], tone(440.0, 1.0), t0, 52, 84)
    clock.t = t0 + 1.0
    app.frame()
    assert app.lane("Trumpet").status == "pitch"
    clock.t = t0 + 2.0                       # a second with no analysis results at all
    app.frame()
    assert app.lane("Trumpet").status == "no input"


def test_trail_fades_with_confidence():
    from stage.audio.analysis import Frame
    clock = FakeClock()
    app, feeds = make_app(PLAYERS[:1], clock)
    t0 = clock.t
    for i in range(200):
        conf = 1.0 if i < 100 else 0.6
        feeds[0].push(t0 + i * 256 / SR, Frame(440.0, conf, -12.0, -6.0, False))
    clock.t = t0 + 200 * 256 / SR
    app.frame()
    lane = app.lane("Trumpet")
    y = lane.geom.y_for_hz(440.0)
    sure = app.now_x - (clock.t - (t0 + 50 * 256 / SR)) * app.pps
    unsure = app.now_x - (clock.t - (t0 + 170 * 256 / SR)) * app.pps
    a, b = colour_at(app, sure, y), colour_at(app, unsure, y)
    assert is_colour(a, (255, 176, 0))
    assert sum(b) < 0.7 * sum(a)                      # dimmer where the tracker is less sure
    assert b[0] > 2 * b[2]                            # still the player's colour, not grey


def test_hud_toggles_with_h_and_q_quits():
    clock = FakeClock()
    app, feeds = make_app(PLAYERS, clock)
    assert not app.controller.view.hud
    app.key(pygame.K_h)
    assert app.controller.view.hud
    app.frame()
    app.key(pygame.K_h)
    assert not app.controller.view.hud
    app.key(pygame.K_q)
    assert not app.window.running
    app.close()


def test_meter_rises_at_once_and_falls_at_20_db_per_second():
    from stage.audio.analysis import Frame
    clock = FakeClock()
    app, feeds = make_app(PLAYERS[:1], clock)
    lane = app.lane("Trumpet")
    t0 = clock.t
    feeds[0].push(t0, Frame(440.0, 1.0, -6.0, -3.0, True))
    lane.update_status(t0)
    lane.update_status(t0 + 0.01)
    assert lane.meter_db == pytest.approx(-6.0)                   # attack: at once
    for k in range(1, 11):                                         # then silence, 0.5 s of frames
        feeds[0].push(t0 + k * 0.05, Frame(0.0, 0.0, -90.0, -90.0, False))
        lane.update_status(t0 + 0.01 + k * 0.05)
    assert lane.meter_db == pytest.approx(-16.0, abs=0.2)         # 20 dB/s release over 0.5 s
    assert lane.peak_db == pytest.approx(-3.0)                     # the peak still held (1.5 s)


def test_a_bb_trumpet_shows_written_pitch_on_the_written_row():
    # concert Bb4 (466.16 Hz) is a written C5 for a B-flat trumpet: labelled C5, drawn at C5's row
    app, lane = drawn_tone([PlayerConfig("Trumpet", (255, 176, 0), 1, 52, 84, transpose=2)], 466.16)
    assert lane.note_label()[0] == "C5"
    assert lane.geom.y_for_hz(466.16) == pytest.approx(lane.geom.y_for_midi(72), abs=0.1)   # the C5 row
    x = app.now_x - 0.5 * app.pps
    assert is_colour(colour_at(app, x, lane.geom.y_for_midi(72)), (255, 176, 0))
    assert not is_colour(colour_at(app, x, lane.geom.y_for_midi(70)), (255, 176, 0))   # not at concert Bb
    # the lane's range moved with it: the trumpet's lowest concert E3 is written F#3
    assert lane.geom.lo == pytest.approx(52 + 2 - 1)
    app.close()


@pytest.mark.parametrize("hz,a4,cents", [(442.0, 442.0, 0), (440.0, 442.0, -8), (442.0, 440.0, 8)])
def test_note_names_and_cents_read_against_the_sessions_a4(hz, a4, cents):
    clock = FakeClock()
    app, feeds = make_app(PLAYERS[:1], clock, a4=a4)
    t0 = clock.t
    clock.t = t0 + 1.0
    feed_signal(feeds[0], tone(hz, 1.0), t0, 52, 84)
    app.frame()
    lane = app.lane("Trumpet")
    name, c = lane.note_label()
    assert name == "A4" and round(c) == cents
    exact = 1200 * np.log2(hz / a4)
    assert lane.geom.y_for_hz(hz) == pytest.approx(lane.geom.y_for_midi(69 + exact / 100), abs=0.01)
    app.close()
