"""The window on a real X server (Xvfb): full-screen toggle re-lays out and re-decodes the film."""

import time

import pygame

from stage.render.app import ViewOptions
from stage.runtime import Performance
from stage.session import load_session

from .conftest import ROOT


def test_f_toggles_full_screen_and_the_film_follows(xvfb_display, monkeypatch, tmp_path):
    monkeypatch.setenv("DISPLAY", xvfb_display)
    monkeypatch.setenv("SDL_VIDEODRIVER", "x11")
    monkeypatch.setenv("SDL_FRAMEBUFFER_ACCELERATION", "0")
    session = load_session(ROOT / "assets" / "demo_session.toml")
    perf = Performance(session, ViewOptions(size=(800, 450), fullscreen=False, fps=60), play_out=False)
    app = perf.app
    try:
        perf.analysis.start()
        perf.source.start()
        perf.film_clock.play()
        assert app.size == (800, 450)
        assert app.film.decoder.size == (app.film_rect[2], app.film_rect[3])
        for _ in range(10):
            app.draw_film()
            pygame.display.flip()
        app.key(pygame.K_f)
        assert app.fullscreen
        w, h = app.size
        assert (w, h) != (800, 450) and w >= 800
        # the old frames go on (scaled) until the film is decoded at the new size, then swap
        t0 = time.monotonic()
        app.draw_film()
        assert time.monotonic() - t0 < 0.1                     # no stall while it re-decodes
        assert app._film_surface.get_size() == tuple(app.film_rect[2:])   # the old frame, scaled to fit
        deadline = time.monotonic() + 5
        while (app.film.current is None or app.film.current.shape[:2] != (app.film_rect[3], app.film_rect[2])) \
                and time.monotonic() < deadline:
            app.draw_film()
            time.sleep(0.01)
        assert app.film.decoder.size == (app.film_rect[2], app.film_rect[3])
        assert app.film.current.shape[:2] == (app.film_rect[3], app.film_rect[2])
        app.key(pygame.K_f)
        assert not app.fullscreen and app.size == (800, 450)
    finally:
        perf.stop()
