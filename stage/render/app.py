"""The draw loop: film, lanes, meters, HUD; keys; headless runs with statistics and a trace.

The loop only reads: the film player's current frame and each player's feed. It never waits
on the audio or analysis threads, and it writes nothing to disk itself (the trace goes
through a queue to a writer thread).
"""

from __future__ import annotations

import collections
import json
import os
import queue
import sys
import threading
from dataclasses import dataclass

import numpy as np

from .. import clock as _clock
from fractions import Fraction

from ..film.timecode import TimecodeFormat, feet_frames

import pygame

from ..control.actions import ACTIONS, Control, ControlQueue
from .lanes import LaneView, MidiLaneView, draw_grid, lane_geometry
from .text import Text


@dataclass
class ViewOptions:
    size: tuple[int, int] | None = None
    fullscreen: bool = True
    screen: int = 0
    fps: int = 60
    vsync: bool = True
    headless: bool = False
    hud: bool = False
    seconds_visible: float = 8.0     # how much history a lane shows
    timecode: str = "off"            # burned-in timecode window: off, top-left, top-right, bottom-left, bottom-right
    timecode_size: float = 1.0
    feet_frames: bool = False
    mode: str = "studio"             # "studio" or "performance"
    latency_ms: float = 0.0          # the projector's delay: the picture is drawn this far ahead
    analysis_offset_ms: float = 0.0  # shifts the players' lines along time
    a4: float = 440.0                # note names and cents are read against this
    monitor: bool = False            # a second window for the operator: the studio view with the HUD
    monitor_screen: int | None = None
    monitor_size: tuple[int, int] | None = None
    monitor_snapshot: object = None  # write the monitor's last frame to this PNG


class TraceWriter:
    """One JSON object per presented frame, written by its own thread."""

    def __init__(self, path):
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._f = open(path, "w", encoding="utf-8")
        self._t = threading.Thread(target=self._run, name="stage-trace", daemon=True)
        self._t.start()

    def put(self, obj):
        self._q.put(obj)

    def _run(self):
        while True:
            obj = self._q.get()
            if obj is None:
                break
            self._f.write(json.dumps(obj, separators=(",", ":")) + "\n")
        self._f.close()

    def close(self):
        self._q.put(None)
        self._t.join(timeout=5)


FADE_S = 2.0  # seconds for the film to fade to black or back
STRIP = 256   # rows per blit: pygame holds the GIL through a blit; the audio callback needs it too


def blit_strips(dst: "pygame.Surface", src: "pygame.Surface", pos=(0, 0)) -> None:
    """Blit in horizontal strips, so no single call holds the GIL for a whole-screen copy
    (a 1920x1080 alpha blit holds it ~1 ms; the audio callback's period is 5.3 ms)."""
    x, y = pos
    w, h = src.get_size()
    for top in range(0, h, STRIP):
        dst.blit(src, (x, y + top), (0, top, w, min(STRIP, h - top)))


def percentile(xs, q):
    return float(np.percentile(np.asarray(xs), q)) if len(xs) else None


class StageApp:
    def __init__(self, players, feeds, source_status, film=None, film_clock=None, film_info=None,
                 loop=(0, 1), options: ViewOptions = ViewOptions(), clock=_clock.now,
                 trace_path=None, analysis=None, film_factory=None, on_key=None, midi_inputs=(),
                 controls=None, osc=None, midi_control=None, timecode=None, cues=None, switch="end",
                 chase=None):
        self.players, self.feeds, self.source_status = players, feeds, source_status
        self.film, self.film_clock, self.film_info, self.loop = film, film_clock, film_info, loop
        self.tc = timecode or TimecodeFormat(film_info.fps if film_info else Fraction(24))
        self.opt, self.clock, self.analysis = options, clock, analysis
        self.film_factory = film_factory          # (size, seq) -> FilmPlayer, to re-decode after a resize
        self._next_film = None                    # that player, until its first frames are decoded
        self.on_key = on_key or {}
        self.midi_inputs = list(midi_inputs)
        self.controls = controls if controls is not None else ControlQueue(clock)
        self.osc = osc                             # (OscControl or None, OscOut or None)
        self.midi_control = midi_control           # for MIDI learn (L)
        self.chase = chase                         # MTC chase: keeps the film clock on a DAW's code
        self.mtc_sender = None
        self.blackout = False
        self.view = options.mode
        self.fade_target = 0.0                     # 1: the film faded to black
        self.fade = 0.0
        self.cues = list(cues or [])
        self.cue_index = 0
        self.switch_mode = switch                  # "end": a new cue starts at the end of the pass; "now"
        self._pending = None                       # [cue index, at once?, FilmPlayer, switch at (s)]
        self.markers: list[tuple[int, float]] = []   # (film frame, when tapped)
        self.trace = TraceWriter(trace_path) if trace_path else None
        self.show_hud = options.hud
        self.running = True
        self.frames = 0
        # bounded: a long show keeps the last ~4 hours of frames and ~20 min of results
        self.present_times: collections.deque[float] = collections.deque(maxlen=1_000_000)
        self.latencies: collections.deque[float] = collections.deque(maxlen=2_000_000)
        self.recent_latencies: collections.deque[float] = collections.deque(maxlen=2000)   # for the HUD
        # (draw, flip, how late the flip started) in seconds, for the statistics
        self.work_times: collections.deque[tuple] = collections.deque(maxlen=100_000)
        self.frames_late = 0
        self._film_surface = None
        self._film_seq = None
        self._pacing = True
        self._hud_box = None
        self._fade_surface = None
        self._title_cue, self._title_t = None, 0.0   # whose title shows, since when
        self._t_latch = None                       # when this frame's lanes read the feeds
        self.monitor = None                        # the operator's window (pygame.Window), if asked for
        self._monitor_canvas = None
        self._init_display()

    # -- display
    def _init_display(self):
        if self.opt.headless:
            os.environ["SDL_VIDEODRIVER"] = "dummy"
        pygame.display.init()
        pygame.font.init()
        pygame.display.set_caption("stage")
        self.vsync = False
        self._set_mode(self.opt.fullscreen)
        if self.opt.monitor:
            self._open_monitor()

    def _open_monitor(self):
        """The operator's monitor: a second window from the same process, showing the studio
        view with the HUD whatever the projector shows, drawn from the same state. On the
        session's monitor screen (or the next one), the projector's size unless set."""
        size = self.opt.monitor_size or self.size
        nd = pygame.display.get_num_displays() if not self.opt.headless else 1
        want = self.opt.monitor_screen if self.opt.monitor_screen is not None else self.opt.screen + 1
        if want >= nd:
            want = 0
        pos = 0x2FFF0000 | want                         # SDL_WINDOWPOS_CENTERED_DISPLAY(want)
        try:
            self.monitor = pygame.Window("stage - operator", size, position=pos)
        except (pygame.error, AttributeError) as e:
            print(f"stage: cannot open the operator's monitor window: {e}", file=sys.stderr)
            self.monitor = None

    def _set_mode(self, fullscreen: bool):
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
        self.fullscreen = fullscreen
        pygame.mouse.set_visible(not fullscreen)
        self._layout()

    def _layout(self):
        w, h = self.screen.get_size()
        self.size = (w, h)
        self.scale = h / 1080.0
        self.text = Text(self.scale)
        self.col_w = max(220, int(w * 0.2))
        self.now_x = w - self.col_w
        self.pps = self.now_x / self.opt.seconds_visible
        self.trail = pygame.Surface((self.now_x, h), pygame.SRCALPHA)
        self.trail.fill((0, 0, 0, 0))
        self.grid = pygame.Surface((w, h), pygame.SRCALPHA)
        self.grid.fill((0, 0, 0, 0))
        n = len(self.players)
        self.lanes = []
        for i, (p, feed) in enumerate(zip(self.players, self.feeds)):
            g = lane_geometry(n, h, p.lowest, p.highest, i, shift=getattr(p, "transpose", 0), a4=self.opt.a4)
            view = MidiLaneView if getattr(p, "is_midi", False) else LaneView
            lane = view(p, feed, g, self.now_x, self.pps, self.text, self.scale)
            lane.chord_at = self.chord_at_time
            self.lanes.append(lane)
            draw_grid(self.grid, g, 0, self.now_x, self.text, self.scale, p.colour)
        pygame.draw.rect(self.grid, (0, 0, 0, 150), (self.now_x, 0, self.col_w, h))
        pygame.draw.line(self.grid, (255, 255, 255, 140), (self.now_x, 0), (self.now_x, h), 2)
        # the grid never changes: run-length encode it, so its mostly transparent pixels cost nothing
        self.grid = self.grid.convert_alpha()
        self.grid.set_alpha(255, pygame.RLEACCEL)
        self.t_right = self.clock()
        from .performance import PerformanceView
        self.performance = PerformanceView(self.players, self.feeds, (w, h), self.opt.a4)
        if self.film_info is not None:
            from ..film.decoder import fit_rect
            self.film_rect = fit_rect(self.film_info.aspect, (w, h))
        self._film_surface = None
        self._film_seq = None

    def lane(self, name):
        return next(lv for lv in self.lanes if lv.player.name == name)

    # -- input
    def handle_events(self):
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
                self.key(ev.key, ev.mod)

    KEYS = {pygame.K_SPACE: "toggle_play", pygame.K_h: "hud", pygame.K_b: "blackout", pygame.K_t: "marker",
            pygame.K_v: "toggle_view", pygame.K_d: "fade",
            pygame.K_PAGEDOWN: "next_cue", pygame.K_PAGEUP: "prev_cue", pygame.K_RETURN: "switch_now"}
    NUMBER_KEYS = {getattr(pygame, f"K_{n}"): n for n in range(1, 10)}

    def key(self, key, mod=0):
        fps = float(self.film_info.fps) if self.film_info else 24.0
        step = 1.0 if mod & pygame.KMOD_SHIFT else 1.0 / fps
        if key in (pygame.K_ESCAPE, pygame.K_q):
            self.running = False
        elif key in self.KEYS:
            arg = 1.0 if (mod & pygame.KMOD_SHIFT and key in (pygame.K_PAGEUP, pygame.K_PAGEDOWN)) else None
            self.apply(Control(self.clock(), self.KEYS[key], arg, "key"))
        elif key in self.NUMBER_KEYS:                 # cue N; with shift, at once
            self.select_cue(self.NUMBER_KEYS[key] - 1, now=bool(mod & pygame.KMOD_SHIFT))
        elif key in (pygame.K_RIGHT, pygame.K_LEFT):
            self.apply(Control(self.clock(), "nudge", step if key == pygame.K_RIGHT else -step, "key"))
        elif key == pygame.K_l and self.midi_control is not None:
            self.learn_next()
        elif key == pygame.K_f and not self.opt.headless:
            self._set_mode(not self.fullscreen)
            if self.film_factory is not None and self.film is not None:
                if self._next_film is not None:
                    self._next_film.decoder.stop(wait=False)
                self._next_film = self.film_factory((self.film_rect[2], self.film_rect[3]),
                                                    max(0, self.film.current_seq), self.loop)
        elif key in self.on_key:
            self.on_key[key]()

    def learn_next(self) -> None:
        """MIDI learn (L): choose the action the next MIDI note or CC will be bound to; each press
        moves to the next action, and after the last one learning is off."""
        names = list(ACTIONS)
        mc = self.midi_control
        i = names.index(mc.learn) + 1 if mc.learn in names else 0
        mc.learn = names[i] if i < len(names) else None
        self.show_hud = True

    def apply(self, c: Control) -> None:
        """One action, from whichever source: the keyboard, MIDI or OSC."""
        fc = self.film_clock
        if c.action == "hud":
            self.show_hud = not self.show_hud
        elif c.action == "blackout":
            self.blackout = not self.blackout
        elif c.action in ("toggle_view", "studio_view", "performance_view"):
            self.view = {"studio_view": "studio", "performance_view": "performance"}.get(
                c.action, "performance" if self.view == "studio" else "studio")
        elif c.action == "fade":
            self.fade_target = 0.0 if self.fade_target else 1.0
        elif c.action in ("next_cue", "prev_cue"):
            step = 1 if c.action == "next_cue" else -1
            base = self._pending[0] if self._pending else self.cue_index
            self.select_cue(base + step, now=bool(c.arg))
        elif c.action == "cue":
            if c.arg is not None:
                self.select_cue(int(c.arg) - 1)
        elif c.action == "switch_now":
            if self._pending:
                self._pending[1] = True
        elif c.action == "marker":
            frame = self.loop[0] + max(0, self.film.current_seq) % (self.loop[1] - self.loop[0]) if self.film else 0
            self.markers.append((frame, c.t))
        elif fc is None:
            return
        elif c.action == "toggle_play":
            fc.toggle()
        elif c.action == "play":
            fc.play()
        elif c.action == "pause":
            fc.pause()
        elif c.action == "nudge":
            fps = float(self.film_info.fps) if self.film_info else 24.0
            fc.nudge(c.arg if c.arg is not None else 1.0 / fps)
            if self.film is not None:
                self.film.jumped()

    # -- cues
    def select_cue(self, i: int, now: bool = False) -> bool:
        """Make cue ``i`` the next: its film starts decoding at once; it takes over at the end of
        the current pass (or at once: ``now``, or the session's switch = "now") as soon as its
        first frames are decoded, so the picture never waits."""
        if not self.cues or not 0 <= i < len(self.cues) or self.film_factory is None or self.film is None:
            return False
        if self._pending is not None:
            if self._pending[0] == i:
                self._pending[1] = self._pending[1] or now
                return True
            self._pending[2].decoder.stop(wait=False)
            self._pending = None
        if i == self.cue_index and not now:
            return False
        size = (self.film_rect[2], self.film_rect[3])
        player = self.film_factory(size, 0, self.cues[i].loop)
        length = self.loop[1] - self.loop[0]
        seq = max(0, self.film.current_seq)
        self._pending = [i, now or self.switch_mode == "now", player, (seq // length + 1) * length]
        return True

    def _maybe_switch(self, lookahead: float) -> None:
        i, now, player, at_seq = self._pending
        if not player.decoder.head_ready.is_set():
            return
        pos = self.film_clock.position() + lookahead
        if not now and self.film.seq_at(pos) < at_seq:       # the pass has frames still to show
            return
        at = at_seq / float(self.film_info.fps)
        old = self.film
        self.film = player
        self.loop = self.cues[i].loop
        self.cue_index = i
        self._pending = None
        self.film_clock.restart(max(0.0, pos - at) if not now else 0.0)
        self._film_seq = None
        old.decoder.stop(wait=False)

    def apply_controls(self) -> int:
        """Drain the control queue (MIDI and OSC land there): once per frame."""
        n = 0
        for c in self.controls.drain():
            self.apply(c)
            n += 1
        return n

    # -- drawing
    def draw_film(self, lookahead: float = 0.0):
        """The film frame due ``lookahead`` seconds from now (when this frame will be shown)."""
        screen = self.screen
        if self.film is None or self.film_clock is None:
            screen.fill((8, 8, 12))
            return
        nxt = self._next_film
        if nxt is not None and nxt.decoder.head_ready.is_set():    # re-decoded at the new size: swap
            self.film.decoder.stop(wait=False)
            self.film, self._next_film = nxt, None
        if self._pending is not None:
            self._maybe_switch(lookahead if self.film_clock.playing else 0.0)
        pos = self.film_clock.position() + (lookahead if self.film_clock.playing else 0.0)
        seq, px = self.film.frame_at(pos)
        if px is None:
            screen.fill((0, 0, 0))
            return
        if seq != self._film_seq or self._film_surface is None:
            h, w = px.shape[:2]
            surf = pygame.image.frombuffer(px, (w, h), "BGRA")
            if (w, h) != (self.film_rect[2], self.film_rect[3]):     # only until the re-decoded frames come
                surf = pygame.transform.scale(surf, self.film_rect[2:])
            self._film_surface = surf
            self._film_seq = seq
        x, y, w, h = self.film_rect
        sw, sh = self.size
        if y:                                   # letterbox bars
            screen.fill((0, 0, 0), (0, 0, sw, y))
            screen.fill((0, 0, 0), (0, y + h, sw, sh - y - h))
        if x:                                   # pillarbox bars
            screen.fill((0, 0, 0), (0, 0, x, sh))
            screen.fill((0, 0, 0), (x + w, 0, sw - x - w, sh))
        blit_strips(screen, self._film_surface, (x, y))
        step = 1.0 / (FADE_S * self.opt.fps)
        self.fade = min(self.fade_target, self.fade + step) if self.fade < self.fade_target else \
            max(self.fade_target, self.fade - step)
        if self.fade > 0:
            if self._fade_surface is None or self._fade_surface.get_size() != (w, h):
                self._fade_surface = pygame.Surface((w, h))
            self._fade_surface.set_alpha(int(255 * self.fade))
            screen.blit(self._fade_surface, (x, y))

    def draw_lanes(self, now: float) -> list[float]:
        dx = int((now - self.t_right) * self.pps)
        if dx > 0:
            h = self.size[1]
            for top in range(0, h, STRIP):          # in strips, for the GIL (see blit_strips)
                self.trail.set_clip((0, top, self.now_x, min(STRIP, h - top)))
                self.trail.scroll(-dx, 0)
            self.trail.set_clip(None)
            self.trail.fill((0, 0, 0, 0), (self.now_x - dx, 0, dx, h))
            self.t_right += dx / self.pps
            for lv in self.lanes:
                lv.shift(dx)
        drawn: list[float] = []
        for lv in self.lanes:
            lv.draw_new(self.trail, self.t_right, drawn)
        for lv in self.lanes:
            lv.update_status(now)
        if self.view == "performance":       # the lanes keep up underneath, unseen: switching back is seamless
            cue = self.cues[self.cue_index] if self.cues else None
            self.performance.draw(self.screen, now, getattr(cue, "palette", None), self.chord_at_time(now))
            return drawn
        self._blit_lanes(self.screen, now)
        return drawn

    def _blit_lanes(self, surface, now: float) -> None:
        blit_strips(surface, self.grid)
        blit_strips(surface, self.trail)
        for lv in self.lanes:
            lv.draw_label(surface, self.now_x, self.col_w, now)

    def draw_monitor(self, now: float, film_time: float) -> None:
        """The operator's window: the film as projected, the lanes, the harmony, hits, timecode
        and the HUD (with what the projector shows), whatever view the projector is in."""
        if self.monitor is None:
            return
        win = self.monitor.get_surface()
        canvas = win if win.get_size() == self.size else self._monitor_canvas
        if canvas is None or canvas.get_size() != self.size:
            canvas = self._monitor_canvas = pygame.Surface(self.size)
        canvas.fill((0, 0, 0))
        if self._film_surface is not None:
            canvas.blit(self._film_surface, self.film_rect[:2])
            if self.fade > 0 and self._fade_surface is not None:
                canvas.blit(self._fade_surface, self.film_rect[:2])
        self._blit_lanes(canvas, now)
        screen, view, hud = self.screen, self.view, self.show_hud
        self._projector_view = view
        self.screen, self.view, self.show_hud = canvas, "studio", True
        try:
            self.draw_overlays(film_time, blackout=False)
        finally:
            self.screen, self.view, self.show_hud = screen, view, hud
        if canvas is not win:
            pygame.transform.scale(canvas, win.get_size(), win)
        self.monitor.flip()

    def hud_lines(self):
        fi = self.film_info
        lines = []
        if fi is not None and self.film is not None:
            fps = fi.fps
            seq = max(0, self.film.current_seq)
            length = self.loop[1] - self.loop[0]
            frame = self.loop[0] + seq % length
            lines.append((self.tc.label(frame), 1.6, (255, 255, 255)))
            state = "PLAY" if self.film_clock.playing else "PAUSE"
            lines.append((f"{state}  pass {seq // length + 1}  {seq % length / float(fps):5.1f} / "
                          f"{length / float(fps):.1f} s  loop {self.tc.label(self.loop[0])}-"
                          f"{self.tc.label(self.loop[1])}", 0.8, (220, 220, 220)))
            if self.cues and len(self.cues) > 1 or (self.cues and self.cues[0].hits):
                cue = self.cues[self.cue_index]
                nxt = ""
                if self._pending:
                    when = "at once" if self._pending[1] else "at end of pass"
                    nxt = f"   next: {self._pending[0] + 1} {self.cues[self._pending[0]].name} ({when})"
                lines.append((f"cue {self.cue_index + 1}/{len(self.cues)} {cue.name}{nxt}", 1.0, (255, 230, 120)))
            if getattr(self.film.decoder, "error", None):
                lines.append((f"FILM: {self.film.decoder.error}", 0.8, (255, 100, 90)))
        if self.monitor is not None:                 # what the audience sees, on the operator's monitor
            view = getattr(self, "_projector_view", self.view)
            shows = "BLACKOUT" if self.blackout else f"{view} view" + (
                f", faded {int(100 * self.fade)}%" if self.fade > 0 else "")
            lines.append((f"projector: {shows}", 1.0, (255, 120, 200) if view == "performance" else (160, 220, 255)))
        st = self.source_status
        lat = percentile(self.recent_latencies, 50)
        lines.append((f"input {st.device}: {st.state}   blocks {st.blocks}   overruns {st.overruns}", 0.8,
                      (255, 110, 90) if st.state.startswith("lost") else (220, 220, 220)))
        dropped = self.film.dropped if self.film else 0
        cpu = ""
        if self.analysis is not None and self.present_times:
            elapsed = max(1e-3, self.present_times[-1] - self.present_times[0])
            cpu = f"   analysis {100 * self.analysis.busy_s / elapsed:.1f}% CPU"
        lines.append((f"dropped frames {dropped}   late draws {self.frames_late}   latency "
                      f"{'%.1f ms' % (lat * 1000) if lat is not None else '-'}{cpu}", 0.8, (220, 220, 220)))
        for m in self.midi_inputs:
            lines.append((f"MIDI {m.port_name or m.spec}: {m.state}   messages {m.messages}   "
                          f"reconnects {m.reconnects}", 0.8,
                          (255, 110, 90) if m.state == "lost" else (220, 220, 220)))
        if self.osc is not None:
            inp, out = self.osc
            parts = []
            if inp is not None:
                parts.append(f"OSC in {inp.address[0]}:{inp.address[1]}  received {self.controls.received}  "
                             f"unknown {self.controls.unknown}  malformed {inp.malformed}")
            if out is not None:
                parts.append(f"OSC out sent {out.sent}")
            lines.append(("   ".join(parts), 0.8, (220, 220, 220)))
        if self.chase is not None:
            r = self.chase.reader
            lines.append((f"MTC in: {self.chase.state}  error {self.chase.last_error_frames:+.2f} fr  "
                          f"locks {self.chase.locks}  cycles {r.cycles}", 0.8,
                          (120, 255, 160) if self.chase.state == "locked" else (255, 200, 90)))
        if self.mtc_sender is not None:
            lines.append((f"MTC out: quarter frames sent {self.mtc_sender.sent}", 0.8, (220, 220, 220)))
        mc = self.midi_control
        if mc is not None and (mc.learn or mc.learned):
            text = (f"MIDI LEARN: send a note or CC for '{mc.learn}'  (L: next action)" if mc.learn else
                    f"learned: {mc.learned[-1].action} = " + (f"CC {mc.learned[-1].cc}" if mc.learned[-1].cc is not None
                                                             else f"note {mc.learned[-1].note}") + " (saved)")
            lines.append((text, 0.9, (120, 255, 160)))
        if self.markers:
            lines.append((f"markers {len(self.markers)}, last at "
                          f"{self.tc.label(self.markers[-1][0])}",
                          0.8, (255, 230, 120)))
        for lv in self.lanes:
            lines.append((f"{lv.player.name}: {lv.meter_db:6.1f} dBFS  {lv.status}", 0.8, lv.player.colour))
        return lines

    def chord_at_time(self, t: float):
        """The chord sounding at clock time t in the current cue (None without a harmony)."""
        cue = self.cues[self.cue_index] if self.cues else None
        if not cue or not getattr(cue, "harmony", None) or self.film_info is None or self.film_clock is None:
            return None
        from ..harmony import chord_at
        pos = self.film_clock.position() + ((t - self.clock()) if self.film_clock.playing else 0.0)
        length_s = (self.loop[1] - self.loop[0]) / float(self.film_info.fps)
        found = chord_at(cue.harmony, pos % length_s)
        return found[1].chord if found else None

    def draw_harmony(self, film_time: float) -> None:
        """The current chord large, the next one smaller, and how far through the sequence."""
        cue = self.cues[self.cue_index] if self.cues else None
        if not cue or not getattr(cue, "harmony", None):
            return
        from ..harmony import chord_at
        spans = cue.harmony
        length_s = (self.loop[1] - self.loop[0]) / float(self.film_info.fps)
        i, span = chord_at(spans, self.pass_position(film_time) % length_s)
        nxt = next((spans[(i + k) % len(spans)].chord.name for k in range(1, len(spans))
                    if spans[(i + k) % len(spans)].chord.name != span.chord.name), span.chord.name)
        cx = (self.now_x if self.lanes else self.size[0]) // 2
        big = self.text.render(span.chord.name, int(110 * self.scale), (255, 255, 255))
        small = self.text.render(f"next {nxt}", int(46 * self.scale), (200, 200, 200))
        y = int(30 * self.scale)
        self.screen.blit(big, big.get_rect(midtop=(cx, y)))
        self.screen.blit(small, small.get_rect(midtop=(cx, y + big.get_height())))
        total = spans[-1].start + spans[-1].length
        frac = (self.pass_position(film_time) % total) / total
        bw = int(300 * self.scale)
        pygame.draw.rect(self.screen, (80, 80, 80), (cx - bw // 2, y - 10, bw, 6))
        pygame.draw.rect(self.screen, (255, 255, 255), (cx - bw // 2, y - 10, int(bw * frac), 6))

    TITLE_S = (1.0, 5.0, 1.5)        # a cue's title: fades in, holds, fades out (seconds)

    def title_alpha(self, now: float) -> float:
        """How visible the current cue's title is: it shows as the cue begins, then goes."""
        if self._title_cue != self.cue_index:
            self._title_cue, self._title_t = self.cue_index, now
        age = now - self._title_t
        fin, hold, fout = self.TITLE_S
        if age < 0 or age > fin + hold + fout:
            return 0.0
        return min(1.0, age / fin, (fin + hold + fout - age) / fout)

    def draw_title(self) -> None:
        """The performance view's only text: the cue's title, low and centred, as it begins."""
        cue = self.cues[self.cue_index] if self.cues else None
        title = getattr(cue, "title", "") if cue else ""
        if not title:
            return
        a = self.title_alpha(self.clock())
        if a <= 0:
            return
        img = self.text.render(title, int(64 * self.scale), (255, 255, 255))
        img.set_alpha(int(255 * a))
        self.screen.blit(img, img.get_rect(midbottom=(self.size[0] // 2, int(self.size[1] * 0.9))))

    def draw_overlays(self, film_time: float, blackout: bool = True) -> None:
        """What goes over the film and the players: in the studio view the streamers, punches,
        count-off, burned-in timecode and HUD; in the performance view nothing (no text)."""
        if self.view == "studio":
            self.draw_harmony(film_time)
            self.draw_hits(film_time)
            if self.opt.timecode != "off":
                self.draw_timecode()
        elif self.view == "performance":
            self.draw_title()
        if self.blackout and blackout:          # the players still follow underneath
            self.screen.fill((0, 0, 0))
        if self.show_hud and self.view == "studio":
            self.draw_hud()

    # -- scoring to picture: streamers, punches, the count-off
    def pass_position(self, at_time: float | None = None) -> float:
        """Seconds into the current pass of the loop (as of ``at_time`` on the clock)."""
        pos = self.film_clock.position()
        if at_time is not None and self.film_clock.playing:
            pos += at_time - self.clock()
        return pos % ((self.loop[1] - self.loop[0]) / float(self.film_info.fps))

    def draw_hits(self, at_time: float) -> None:
        if self.film is None or self.film_clock is None or self.film_info is None:
            return
        fps = float(self.film_info.fps)
        length_s = (self.loop[1] - self.loop[0]) / fps
        p = self.pass_position(at_time)
        sw, sh = self.size
        cue = self.cues[self.cue_index] if self.cues else None
        for h in (cue.hits if cue else ()):
            t_hit = (h.frame - self.loop[0]) / fps
            dt = t_hit - p
            if dt < -0.2:
                dt += length_s                           # the hit of the next pass
            if 0 < dt <= h.streamer:
                # streamer: from the left edge to the hit; with lanes it arrives at their "now"
                # line, so in every lane the player sees the hit coming toward the present
                end = self.now_x if self.lanes else sw - 1
                x = int((1.0 - dt / h.streamer) * end)
                pygame.draw.rect(self.screen, h.colour, (x - 6, 0, 12, sh))
                if h.label:
                    img = self.text.render(h.label, int(36 * self.scale), h.colour)
                    self.screen.blit(img, (x + 10, int(40 * self.scale)))
                if h.flutter:                            # flutters: a flash on each of the last beats
                    beat = 60.0 / h.tempo
                    since_beat = (-dt) % beat            # beats fall at dt = n * beat before the hit
                    if dt <= h.flutter * beat + 1e-6 and since_beat < 1.5 / fps:
                        pygame.draw.rect(self.screen, h.colour, (0, 0, end, max(6, int(10 * self.scale))))
                        pygame.draw.rect(self.screen, h.colour, (0, sh - max(6, int(10 * self.scale)), end, sh))
            elif h.punch and -3.0 / fps < dt <= 0:        # punch: three frames from the hit
                r = int(min(sw, sh) * 0.18)
                pygame.draw.circle(self.screen, h.colour, (sw // 2, sh // 2), r)
                if h.label:
                    img = self.text.render(h.label, int(72 * self.scale), (0, 0, 0), shadow=False)
                    self.screen.blit(img, img.get_rect(center=(sw // 2, sh // 2)))
        # the count-off: the last two seconds of each pass as a shrinking bar and 2, 1
        left = length_s - p
        if left <= 2.0 and self.film_clock.playing:
            colour = (255, 200, 60) if self._pending is None else (120, 255, 160)   # green: a new cue follows
            bar_h = max(8, int(14 * self.scale))
            pygame.draw.rect(self.screen, colour, (0, 0, int(sw * left / 2.0), bar_h))
            img = self.text.render(str(int(left) + 1), int(120 * self.scale), colour)
            self.screen.blit(img, img.get_rect(midtop=(self.now_x // 2 if self.lanes else sw // 2, bar_h)))

    def timecode_text(self) -> str:
        frame = self.loop[0] + max(0, self.film.current_seq) % (self.loop[1] - self.loop[0]) if self.film else 0
        text = self.tc.label(frame)
        if self.opt.feet_frames:
            text += f"   {feet_frames(frame)}"
        return text

    def draw_timecode(self):
        """The burned-in timecode window: white on a black box, where the session puts it."""
        if self.film is None:
            return
        px = int(64 * self.scale * self.opt.timecode_size)
        img = self.text.render(self.timecode_text(), px, (255, 255, 255), shadow=False)
        pad = max(4, px // 6)
        w, h = img.get_width() + 2 * pad, img.get_height() + pad
        sw, sh = self.size
        right = self.now_x if self.lanes else sw          # keep off the label column
        x = pad if "left" in self.opt.timecode else right - w - pad
        y = pad if "top" in self.opt.timecode else sh - h - pad
        self.screen.fill((0, 0, 0), (x, y, w, h))
        self.screen.blit(img, (x + pad, y + pad // 2))

    def draw_hud(self):
        s = self.scale
        base = int(34 * s) + 6
        rendered = [self.text.render(t, int(base * k), c) for t, k, c in self.hud_lines()]
        pad = int(14 * s) + 4
        w = max(r.get_width() for r in rendered) + 2 * pad
        h = sum(r.get_height() for r in rendered) + 2 * pad
        if self._hud_box is None or self._hud_box.get_size() != (w, h):
            self._hud_box = pygame.Surface((w, h), pygame.SRCALPHA)
            self._hud_box.fill((0, 0, 0, 190))
        self.screen.blit(self._hud_box, (pad, pad))
        y = 2 * pad
        for r in rendered:
            self.screen.blit(r, (2 * pad, y))
            y += r.get_height()

    # -- the loop
    def run(self, seconds: float | None = None, snapshot=None) -> dict:
        """Draw until quit (or for ``seconds``).

        Without a vsync'd flip the loop paces itself, and latches late: it wakes early enough to
        draw the film (which does not depend on the players), then waits until just before the
        deadline to draw the lanes from the newest analysis results, then flips on the deadline.
        Frames leave at an even cadence however long each took, and what they show of the
        players is as fresh as the lanes' own drawing time allows."""
        period = 1.0 / self.opt.fps
        # the analysis and film threads hold the GIL in short bursts; a 5 ms switch interval
        # (Python's default) would let one of them delay a frame by that much
        sys.setswitchinterval(0.0005)
        _clock.raise_thread_priority(-5)       # where allowed: the picture before background work
        _clock.place_thread(first_core=True)   # and a core of its own (the decoder keeps off it)
        t_start = self.clock()
        deadline = t_start + period
        film_times: collections.deque[float] = collections.deque(maxlen=240)
        lane_times: collections.deque[float] = collections.deque(maxlen=240)

        def budget(times, default):
            # the slowest of the last 4 s, less outliers, and a margin
            return (float(np.percentile(times, 99)) if len(times) >= 10 else default) + 0.001

        flip_times = []
        try:
            while self.running:
                pacing = self._pacing
                if pacing:
                    _clock.sleep_until(deadline - min(period, budget(film_times, period / 4)
                                                      + budget(lane_times, period / 4)), self.clock)
                t_begin = self.clock()
                self.handle_events()
                self.apply_controls()
                if self.chase is not None:
                    self.chase.update(self.film_clock, self.clock())
                ahead = self.opt.latency_ms / 1000.0          # the projector shows it this much later
                self.draw_film(lookahead=(max(0.0, deadline - t_begin) if pacing else 0.0) + ahead)
                t_film = self.clock()
                if pacing:
                    _clock.sleep_until(deadline - budget(lane_times, period / 4), self.clock)
                t_lanes = self._t_latch = self.clock()
                shown_at = deadline if pacing else t_lanes              # as of when it is shown
                drawn = self.draw_lanes(shown_at + self.opt.analysis_offset_ms / 1000.0)
                self.draw_overlays(shown_at + ahead)
                t0 = self.clock()
                film_times.append(t_film - t_begin)
                lane_times.append(t0 - t_lanes)
                if pacing:
                    _clock.sleep_until(deadline, self.clock)
                t1 = self.clock()
                pygame.display.flip()
                t_present = self.clock()
                flip_times.append(t_present - t1)
                self.work_times.append((t0 - t_lanes + t_film - t_begin, t_present - t1,
                                        t1 - deadline if pacing else 0.0))
                self.frames += 1
                if self.present_times and t_present - self.present_times[-1] > 1.5 * period:
                    self.frames_late += 1
                self.present_times.append(t_present)
                # every analysis result drawn in this frame: capture of its last sample -> this flip
                lat = [t_present - t for t in drawn]
                self.latencies.extend(lat)
                self.recent_latencies.extend(lat)
                if self.trace is not None:
                    self.trace.put(self._trace_obj(t_present))
                # the operator's monitor: after the projector's flip (never delaying it), at half
                # the projector's rate (the operator reads it; the audience watches the other)
                if self.monitor is not None and self.frames % 2 == 0:
                    self.draw_monitor(shown_at, shown_at + ahead)
                if self.osc is not None and self.osc[1] is not None and self.film is not None:
                    self.osc[1].film_state = self._film_state()
                if seconds is not None and t_present - t_start >= seconds:
                    break
                if self.vsync and len(flip_times) == 30:
                    self._pacing = float(np.median(flip_times)) < 0.002   # flips do not wait: pace ourselves
                deadline += period
                if self.clock() > deadline:          # fell behind by a whole frame: skip it, keep cadence
                    deadline += period * int((self.clock() - deadline) / period + 1)
            if snapshot:
                pygame.image.save(self.screen, str(snapshot))
            if self.monitor is not None and self.opt.monitor_snapshot:
                pygame.image.save(self.monitor.get_surface(), str(self.opt.monitor_snapshot))
        finally:
            if self.trace is not None:
                self.trace.close()
        return self.stats()

    def _film_state(self):
        """(timecode, frame, pass, playing) of the frame on screen, for OSC out."""
        seq = max(0, self.film.current_seq)
        length = self.loop[1] - self.loop[0]
        frame = self.loop[0] + seq % length
        return (self.tc.label(frame), frame, seq // length + 1, int(self.film_clock.playing))

    def _trace_obj(self, t_present):
        """What this frame showed: each player's newest analysis result drawn in it."""
        players = {}
        for lv in self.lanes:
            t, f0, level = lv.last_drawn
            players[lv.player.name] = {"f0_hz": round(f0, 3), "level_db": None if t is None else round(level, 2),
                                       "t_capture": t, "t_publish": lv.last_publish,
                                       "t_note": list(getattr(lv, "note_start", (None, None))), "status": lv.status}
        view = {"view": self.view, "fade": round(self.fade, 3)}
        film = None
        if self.film is not None and self.film_info is not None:
            tc, frame, pass_no, playing = self._film_state()
            film = {"frame": frame, "timecode": tc, "pass": pass_no, "playing": bool(playing),
                    "blackout": self.blackout}
        return {"t_present": t_present, "t_latch": self._t_latch, "frame": self.frames, "players": players,
                "film": film, **view}

    def stats(self) -> dict:
        iv = np.diff(np.fromiter(self.present_times, float)) * 1000 if len(self.present_times) > 1 else []
        st = self.source_status
        lat = np.fromiter(self.latencies, float) * 1000
        r = lambda v: None if v is None else round(v, 2)  # noqa: E731
        return {
            "frames_drawn": self.frames,
            "frames_dropped": self.film.dropped if self.film else 0,
            "frames_late": self.frames_late,
            "frame_interval_p50_ms": r(percentile(iv, 50)),
            "frame_interval_p99_ms": r(percentile(iv, 99)),
            "audio_blocks": st.blocks,
            "overruns": st.overruns,
            "latency_p50_ms": r(percentile(lat, 50)),
            "latency_p99_ms": r(percentile(lat, 99)),
            "draw_p50_ms": r(percentile([w[0] * 1000 for w in self.work_times], 50)),
            "draw_p99_ms": r(percentile([w[0] * 1000 for w in self.work_times], 99)),
            "flip_p50_ms": r(percentile([w[1] * 1000 for w in self.work_times], 50)),
            "flip_p99_ms": r(percentile([w[1] * 1000 for w in self.work_times], 99)),
            "flip_start_late_p99_ms": r(percentile([w[2] * 1000 for w in self.work_times], 99)),
            "vsync": self.vsync,
            "markers": [self.tc.label(f) for f, _ in self.markers],
            "controls": self.controls.received,
            "players": {lv.player.name: {"status": lv.status,
                                         "note_hz": round(lv.shown_hz, 2) if lv.status == "pitch" else 0.0}
                        for lv in self.lanes},
        }

    def close(self):
        pygame.display.quit()
