"""Every text layer has its own place: the HUD, the chord with the count-off, the timecode window
and the title never cover one another, at any size, in any corner."""

import pygame
import pytest

from stage.harmony import parse_sequence
from stage.runtime import Cue
from stage.session.model import PlayerConfig

from .scene import FakeClock, Scene
from .test_performance import film_of

PLAYERS = [PlayerConfig("Trumpet", (255, 176, 0), 1, 52, 84), PlayerConfig("Bass", (60, 220, 255), 2, 28, 55)]


def long_hud(fs, projector=None):
    """A HUD as full as a busy show's: every input, port and count."""
    return [("01:00:02:13", 1.6, (255, 255, 255))] + [
        (f"MIDI port number {i}: open   messages 123456   reconnects 0   and a long tail", 0.8, (220, 220, 220))
        for i in range(9)]


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    from stage.film.synth import make_numbered_clip
    path = make_numbered_clip(tmp_path_factory.mktemp("lay") / "l.mp4", 120, size=(320, 180))
    return film_of(path, [Cue("c", (0, 120), [], None, parse_sequence("Dbmaj9 | G7alt"), "A title")])


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720), (800, 450)])
@pytest.mark.parametrize("corner", ["off", "top-left", "top-right", "bottom-left", "bottom-right"])
@pytest.mark.parametrize("hud", [True, False])
def test_no_text_layer_covers_another(film, size, corner, hud):
    clock = FakeClock()
    app = Scene(PLAYERS, film=film, size=size, clock=clock, hud=hud, timecode=corner)
    try:
        app.renderer.hud_lines = long_hud
        clock.t += 120 / 24 - 1.5                       # 1.5 s left in the pass: the count-off is up too
        fs = app.frame()
        r = app.renderer
        boxes = {"chord": r.harmony.ops.text_rects()}
        assert len(boxes["chord"]) == 3                 # the chord, the next one and the count-off digit
        if hud:
            boxes["hud"] = [r.hud.rect]
        if corner != "off":
            boxes["timecode"] = [pygame.Rect(r.layout.timecode_rect())]
        screen = pygame.Rect((0, 0), size)
        names = list(boxes)
        for i, a in enumerate(names):
            for ra in boxes[a]:
                assert screen.contains(ra), (a, ra)
                assert ra.right <= r.now_x, (a, ra)      # all of it left of the players' now line
                for b in names[i + 1:]:
                    for rb in boxes[b]:
                        assert not ra.colliderect(rb), (a, ra, b, rb)
        # and what is drawn is what was placed: the chord's own pixels are on screen, not under the HUD
        chord = boxes["chord"][0]
        px = pygame.surfarray.array3d(app.screen)[chord.left:chord.right, chord.top:chord.bottom]
        assert (px.min(axis=2) > 240).sum() > 50        # its white type
        assert fs.pos.left < 2.0
    finally:
        app.close()


def test_the_title_is_low_and_centred_and_the_studio_view_has_no_title(film):
    clock = FakeClock()
    app = Scene(PLAYERS, film=film, clock=clock, mode="performance")
    try:
        clock.t += 2.0
        app.frame()
        title = app.renderer.title.ops.text_rects()
        assert len(title) == 1 and title[0].bottom <= app.size[1] * 0.9 + 1
        assert abs(title[0].centerx - app.size[0] / 2) <= 1
        app.act("studio_view")
        rendered = []
        real = app.renderer.text.render
        app.renderer.text.render = lambda *a, **k: rendered.append(a[0]) or real(*a, **k)
        app.frame()
        assert rendered and "A title" not in rendered
    finally:
        app.close()
