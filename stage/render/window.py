"""The window: the projector's screen (and the operator's monitor), and the keys.

Key presses and window events become actions on the control queue, as a MIDI pedal's and an
OSC message's do; the controller acts on them. Only what belongs to the window itself is done
here: full-screen on and off (F), quitting (Esc, Q, closing the projector's window).
"""

from __future__ import annotations

import os
import sys

import pygame

KEYS = {pygame.K_SPACE: "toggle_play", pygame.K_h: "hud", pygame.K_b: "blackout", pygame.K_t: "marker",
        pygame.K_v: "toggle_view", pygame.K_d: "fade", pygame.K_m: "sound", pygame.K_l: "learn",
        pygame.K_r: "record", pygame.K_g: "ghost",
        pygame.K_PAGEDOWN: "next_cue", pygame.K_PAGEUP: "prev_cue", pygame.K_RETURN: "switch_now"}
NUMBER_KEYS = {getattr(pygame, f"K_{n}"): n for n in range(1, 10)}
WINDOWPOS_CENTERED_DISPLAY = 0x2FFF0000


class Window:
    def __init__(self, options, fps: float = 24.0):
        self.opt, self.fps = options, float(fps)
        if options.headless:
            os.environ["SDL_VIDEODRIVER"] = "dummy"
        pygame.display.init()
        pygame.font.init()
        pygame.display.set_caption("stage")
        self.vsync = False
        self.running = True
        self.resized = False              # set when the picture's size changed (full-screen toggled)
        self.monitor = None               # the operator's window (pygame.Window), if asked for
        self.set_mode(options.fullscreen)
        if options.monitor:
            self._open_monitor()

    def set_mode(self, fullscreen: bool) -> None:
        size = self.opt.size
        flags = 0
        if fullscreen and not self.opt.headless:
            flags |= pygame.FULLSCREEN
            size = size or (0, 0)
        else:
            size = size or (1280, 720)
        nd = pygame.display.get_num_displays() if not self.opt.headless else 1
        display = self.opt.screen
        if display >= nd:
            print(f"stage: screen {display} is not there ({nd} screen{'s' if nd != 1 else ''}, "
                  f"numbered from 0): using screen 0", file=sys.stderr)
            display = 0
        screen = None
        # vsync needs SDL's accelerated renderer; where the framebuffer is asked to stay in software
        # (Xvfb, SDL_FRAMEBUFFER_ACCELERATION=0) that renderer is a software GL costing a core
        software = os.environ.get("SDL_FRAMEBUFFER_ACCELERATION", "").lower() in ("0", "false", "software")
        if self.opt.vsync and not self.opt.headless and not software:
            try:
                screen = pygame.display.set_mode(size, flags, display=display, vsync=1)
                self.vsync = True
            except pygame.error:
                screen = None
        if screen is None:
            screen = pygame.display.set_mode(size, flags, display=display)
            self.vsync = False
        self.screen = screen
        self.size = screen.get_size()
        self.fullscreen = fullscreen
        pygame.mouse.set_visible(not fullscreen)

    def _open_monitor(self) -> None:
        """The operator's monitor: a second window from the same process, on the session's
        monitor screen (or the one after the projector's), the projector's size unless set."""
        size = self.opt.monitor_size or self.size
        nd = pygame.display.get_num_displays() if not self.opt.headless else 1
        want = self.opt.monitor_screen if self.opt.monitor_screen is not None else self.opt.screen + 1
        if want >= nd:
            want = 0
        try:
            self.monitor = pygame.Window("stage - operator", size, position=WINDOWPOS_CENTERED_DISPLAY | want)
        except (pygame.error, AttributeError) as e:
            print(f"stage: cannot open the operator's monitor window: {e}", file=sys.stderr)
            self.monitor = None

    def handle_events(self, controls, clock) -> None:
        for ev in pygame.event.get():
            if ev.type == pygame.WINDOWCLOSE and self.monitor is not None:
                if getattr(ev, "window", None) is self.monitor:
                    self.monitor.destroy()              # the operator closed it: the show goes on
                    self.monitor = None
                else:                                   # the projector's window: SDL sends no QUIT
                    self.running = False                # while another window is open
            elif ev.type == pygame.QUIT:
                self.running = False
            elif ev.type == pygame.KEYDOWN:
                self.key(ev.key, ev.mod, controls)

    def key(self, key, mod, controls) -> None:
        """One key: an action on the queue, or the window's own (quit, full-screen)."""
        shift = bool(mod & pygame.KMOD_SHIFT)
        if key in (pygame.K_ESCAPE, pygame.K_q):
            self.running = False
        elif key in KEYS:
            arg = 1.0 if (shift and key in (pygame.K_PAGEUP, pygame.K_PAGEDOWN)) else None
            controls.put(KEYS[key], arg, "key")
        elif key in NUMBER_KEYS:                        # cue N; with shift, at once
            controls.put("cue", float(NUMBER_KEYS[key]), "key", 1.0 if shift else None)
        elif key in (pygame.K_RIGHT, pygame.K_LEFT):
            step = 1.0 if shift else 1.0 / self.fps     # a frame; with shift, a second
            controls.put("nudge", step if key == pygame.K_RIGHT else -step, "key")
        elif key == pygame.K_f and not self.opt.headless:
            self.set_mode(not self.fullscreen)
            self.resized = True

    def flip(self) -> None:
        pygame.display.flip()

    def close(self) -> None:
        pygame.display.quit()
