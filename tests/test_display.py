"""The window on a real X server (Xvfb): full-screen toggle re-lays out and re-decodes the film."""

import time

import pygame

from stage.render.scene import ViewOptions
from stage.session import load_session
from stage.show import Show

from .conftest import ROOT


def test_f_toggles_full_screen_and_the_film_follows(xvfb_display, monkeypatch, tmp_path):
    monkeypatch.setenv("DISPLAY", xvfb_display)
    monkeypatch.setenv("SDL_VIDEODRIVER", "x11")
    monkeypatch.setenv("SDL_FRAMEBUFFER_ACCELERATION", "0")
    session = load_session(ROOT / "assets" / "demo_session.toml")
    show = Show(session, ViewOptions(size=(800, 450), fullscreen=False, fps=60), play_out=False).start()
    try:
        show.transport.restart(playing=True)
        win, ren, director = show.window, show.renderer, show.director
        assert win.size == (800, 450)
        assert director.player_for(0).decoder.size == ren.film_size()

        def frame():
            fs = ren.state(show.clock(), show.controller.view, director.pending)
            ren.draw_early(win.screen, fs)
            ren.draw_late(win.screen, fs)
            win.flip()
        for _ in range(10):
            frame()
        win.key(pygame.K_f, 0, show.controls)
        assert win.fullscreen and win.resized
        show._resized(win.size)                          # as the pacer does when the window says so
        w, h = win.size
        assert (w, h) != (800, 450) and w >= 800
        # the old frames go on (scaled) until the film is decoded at the new size, then swap
        t0 = time.monotonic()
        frame()
        assert time.monotonic() - t0 < 0.1                     # no stall while it re-decodes
        assert ren.film_layer.surface.get_size() == ren.film_size()    # the old frame, scaled to fit
        deadline = time.monotonic() + 5
        while director.player_for(0).decoder.size != ren.film_size() and time.monotonic() < deadline:
            frame()
            time.sleep(0.01)
        assert director.player_for(0).decoder.size == ren.film_size()
        frame()
        px = director.player_for(0).current
        assert px is not None and px.shape[:2] == (ren.film_size()[1], ren.film_size()[0])
        assert director.closed == 1                            # the player at the old size is let go
        win.key(pygame.K_f, 0, show.controls)
        assert not win.fullscreen and win.size == (800, 450)
    finally:
        show.stop()
