"""A show's picture in-process, for renderer tests: the real window (SDL's dummy driver), the
real transport, cue director, controller and renderer, driven by a clock the test moves."""

from __future__ import annotations

import pygame

from stage.audio.state import PlayerFeed
from stage.control.actions import ControlQueue
from stage.control.controller import Controller, ViewState
from stage.film.director import CueDirector
from stage.film.transport import Transport
from stage.midi.players import MidiFeed
from stage.render.scene import Renderer, ViewOptions
from stage.render.window import Window


class FakeClock:
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t


class Scene:
    def __init__(self, players=(), film=None, size=(1280, 720), clock=None, switch="end", feeds=None,
                 playing=True, **options):
        self.clock = clock or FakeClock()
        self.players = list(players)
        self.feeds = feeds if feeds is not None else [
            MidiFeed(p.name) if getattr(p, "is_midi", False) else PlayerFeed(p.name) for p in self.players]
        self.opt = ViewOptions(size=size, fullscreen=False, headless=True, **options)
        self.window = Window(self.opt, film.info.fps if film else 24)
        self.screen = self.window.screen
        self.film = film
        self.transport = Transport(film.info.fps, film.cues[0].loop, clock=self.clock) if film else None
        self.controls = ControlQueue(self.clock)
        self.renderer = Renderer(self.players, self.feeds, film, None, self.transport, self.opt)
        self.renderer.resize(self.window.size)
        self.director = None
        if film is not None:
            self.director = CueDirector(film, self.transport, self.renderer.film_size(), switch, clock=self.clock).start()
            self.renderer.director = self.renderer.film_layer.director = self.director
            self.transport.restart(playing=playing)
        self.controller = Controller(self.controls, self.transport, self.director, clock=self.clock,
                                     view=ViewState(view=self.opt.mode, hud=self.opt.hud))

    # -- acting, as the keyboard, MIDI or OSC would
    def key(self, key, mod=0) -> None:
        self.window.key(key, mod, self.controls)
        self.controller.drain()

    def act(self, action, arg=None, arg2=None) -> None:
        self.controls.put(action, arg, "test", arg2)
        self.controller.drain()

    # -- drawing
    def state(self, t=None):
        t = self.clock() if t is None else t
        return self.renderer.state(t, self.controller.view, self.director.pending if self.director else None)

    def frame(self, t=None):
        """One frame drawn for (clock) time ``t``: its early and its late part. Returns its state.
        (The label column is drawn early, from what the frame before read: the second of two
        frames at the same time shows the labels of the first's results.)"""
        if self.director is not None:
            self.controller.upkeep()
        fs = self.state(t)
        self.renderer.draw_early(self.screen, fs)
        self.drawn = self.renderer.draw_late(self.screen, fs)
        return fs

    @property
    def now_x(self):
        return self.renderer.now_x

    @property
    def pps(self):
        return self.renderer.lanes.pps

    @property
    def size(self):
        return self.renderer.size

    def lane(self, name):
        return self.renderer.lane(name)

    def pixels(self):
        """The screen as an (h, w, 3) RGB array."""
        return pygame.surfarray.array3d(self.screen).swapaxes(0, 1)

    def close(self) -> None:
        if self.director is not None:
            self.director.stop()
        self.window.close()
