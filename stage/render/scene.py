"""One frame's state, and the renderer that draws it with the layers.

The frame pacer builds a :class:`FrameState` for the moment the frame will be shown (the
transport's position then, the view state the controller published, the cue waiting) and hands
it to :class:`Renderer` twice: ``draw_early`` paints everything that does not depend on what
the players are playing (the film, the lanes' grid and trail so far, the text layers), and
``draw_late``, as close to the flip as the pacer can leave it, reads the players' feeds and
paints only what they add: the newest stretch of each trail (the label column, whose text
costs more to draw than those milliseconds are worth, is drawn early from what was in). The renderer
reads state and draws; it moves nothing (not the transport, not the cues).
"""

from __future__ import annotations

from dataclasses import dataclass

import pygame

from .layers import FilmLayer, HarmonyLayer, HitsLayer, HudLayer, Layout, TimecodeLayer, TitleLayer
from .lanes import LanesLayer
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


@dataclass(frozen=True)
class FrameState:
    """What one frame shows, as of the moment it is shown."""
    t_show: float            # when it is shown (clock)
    t_film: float            # the film's moment it shows (t_show plus the projector's delay)
    pos: object              # transport.Position at t_film
    cue: object              # the cue playing then (stage.runtime.Cue), or None
    view: object             # control.controller.ViewState
    pending: object = None   # film.director.Pending, or None
    fade: float = 0.0        # the film's fade to black, 0-1

    @property
    def t_lanes(self) -> float:
        return self.t_show


class Renderer:
    def __init__(self, players, feeds, film=None, director=None, transport=None, options: ViewOptions = None,
                 hud_lines=None, ghost=None):
        from ..control.controller import ViewState
        self.players, self.feeds, self.film = players, feeds, film
        self.director, self.transport = director, transport
        self.opt = options or ViewOptions()
        self.hud_lines = hud_lines or default_hud_lines
        self.idle_view = ViewState()
        self.size = None
        self.ghost_store = ghost          # GhostStore: the analysis of passes recorded (or of a chosen take)

    # -- layout
    def resize(self, size) -> None:
        w, h = size
        self.size = (w, h)
        self.scale = h / 1080.0
        self.text = Text(self.scale)
        self.lanes = LanesLayer(self.players, self.feeds, (w, h), self.text, self.scale, self.opt.seconds_visible,
                                self.opt.a4, chord_at=self.chord_at if self.transport is not None else None)
        self.now_x = self.lanes.now_x
        self.ghost = None
        if self.ghost_store is not None and self.transport is not None and self.film is not None:
            from .ghost import GhostLayer
            self.ghost = GhostLayer(self.lanes, self.ghost_store, self.transport, float(self.film.info.fps))
        from ..film.decoder import fit_rect
        aspect = self.film.info.aspect if self.film is not None else w / h
        self.film_rect = fit_rect(aspect, (w, h))
        self.film_layer = FilmLayer(self.director, self.film_rect, (w, h))
        tc = self.film.tc if self.film is not None else None
        box = (0, 0)
        self.timecode = None
        if tc is not None and self.opt.timecode != "off":
            probe = Layout((w, h), self.now_x, self.scale)
            self.timecode = TimecodeLayer(self.text, probe, tc, self.opt.timecode_size, self.opt.feet_frames)
            box = self.timecode.box
        self.layout = Layout((w, h), self.now_x, self.scale, self.opt.timecode if self.timecode else "off", box)
        if self.timecode is not None:
            self.timecode.layout = self.layout
        self.harmony = HarmonyLayer(self.text, self.layout)
        self.hits = HitsLayer(self.text, self.layout, lanes=bool(self.players))
        self.title = TitleLayer(self.text, self.layout)
        self.hud = HudLayer(self.text, self.layout, lambda fs, projector: self.hud_lines(fs, projector))
        from .performance import PerformanceView
        self.performance = PerformanceView(self.players, self.feeds, (w, h), self.opt.a4)
        self._overlays = []

    def film_size(self) -> tuple[int, int]:
        return self.film_rect[2], self.film_rect[3]

    def lane(self, name):
        return self.lanes.lane(name)

    # -- state
    def state(self, t_show: float, view=None, pending=None) -> FrameState:
        view = view or self.idle_view
        t_film = t_show + self.opt.latency_ms / 1000.0
        pos = self.transport.at(t_film) if self.transport is not None else None
        cue = self.film.cues[pos.cue] if (self.film is not None and pos is not None) else None
        return FrameState(t_show, t_film, pos, cue, view, pending, view.fade_at(t_show))

    def chord_at(self, t: float):
        """The chord sounding at clock time ``t`` (None without a harmony)."""
        pos = self.transport.at(t)
        cue = self.film.cues[pos.cue] if self.film is not None else None
        spans = getattr(cue, "harmony", None)
        if not spans:
            return None
        from ..harmony import chord_at
        found = chord_at(spans, pos.offset % (spans[-1].start + spans[-1].length))
        return found[1].chord if found else None

    # -- drawing
    def _prepare_overlays(self, fs, studio: bool, hud: bool, projector=None) -> list:
        out = []
        if studio:
            hud_rect = None
            if hud:
                self.hud.prepare(fs, projector)
                hud_rect = self.hud.rect
            if fs.pos is not None:
                self.harmony.prepare(fs, hud_rect)
                self.hits.prepare(fs)
                out += [self.harmony, self.hits]
                if self.timecode is not None:
                    self.timecode.prepare(fs)
                    out.append(self.timecode)
            if hud:
                out.append(self.hud)
        elif fs.pos is not None:
            self.title.prepare(fs)
            out.append(self.title)
        return out

    def draw_early(self, screen, fs: FrameState) -> None:
        """Everything but what the players' newest results add."""
        view = fs.view
        self.lanes.scroll_to(fs.t_lanes + self.opt.analysis_offset_ms / 1000.0)
        if self.ghost is not None:
            self.ghost.scroll_to(self.lanes.t_right)
            self.lanes.under = self.ghost if getattr(view, "ghost", False) else None
        if fs.pos is not None:
            self.film_layer.prepare(fs)
        self.film_layer.paint(screen)
        studio = view.view == "studio"
        if self.players:
            self.lanes.update_status(fs.t_show)
        if studio and self.players:
            self.lanes.paint(screen)
            self.lanes.keep_column(screen)
            # the label column (note names, meters) from the results in by now: text costs more
            # to draw than the last few milliseconds are worth; the lines are drawn late
            self.lanes.paint_labels(screen, fs.t_show, from_kept=False)
        self._overlays = self._prepare_overlays(fs, studio, view.hud)
        for layer in self._overlays:
            layer.paint(screen)
        if view.blackout:                    # the players still follow underneath
            screen.fill((0, 0, 0))

    def _repaint(self, screen, area: pygame.Rect, film: bool = True) -> None:
        """The picture again in ``area``: the film, the lanes, the text layers over them."""
        if film:
            self.film_layer.paint_area(screen, area)
            self.lanes.paint_area(screen, area)
        screen.set_clip(area)
        try:
            for layer in self._overlays:
                if layer.ops.hits(area):
                    layer.paint(screen)
        finally:
            screen.set_clip(None)

    def draw_late(self, screen, fs: FrameState) -> list[float]:
        """Read the players' feeds and paint what they add; returns the capture times of every
        result drawn."""
        drawn: list[float] = []
        dirty = self.lanes.read(drawn)
        self.lanes.update_status(fs.t_show)           # (what the next frame's labels will say)
        view = fs.view
        if view.blackout:
            return drawn
        if view.view == "performance":        # the lanes keep up underneath, unseen: switching back is seamless
            palette = getattr(fs.cue, "palette", None)
            chord = self.chord_at(fs.t_show) if self.transport is not None else None
            self.performance.draw(screen, fs.t_show, palette, chord)
            for layer in self._overlays:
                layer.paint(screen)
            return drawn
        if not self.players:
            return drawn
        lanes_area = pygame.Rect(0, 0, self.now_x, self.size[1])
        for r in dirty:
            area = r.inflate(4, 4).clip(lanes_area)
            if area.width and area.height:
                self._repaint(screen, area)
        return drawn

    def draw_monitor(self, surface, fs: FrameState, projector: str) -> None:
        """The operator's picture: the studio view with the HUD (saying what the projector
        shows), whatever the projector shows. Drawn after the projector's flip."""
        self.film_layer.paint(surface)
        self.lanes.paint(surface)
        self.lanes.paint_labels(surface, fs.t_show, from_kept=fs.view.view == "studio" and not fs.view.blackout)
        for layer in self._prepare_overlays(fs, True, True, projector):
            layer.paint(surface)


def default_hud_lines(fs, projector=None):
    """The HUD's lines from the frame's state alone (the show adds its inputs and counts)."""
    pos = fs.pos
    lines = []
    if pos is not None:
        lines.append((f"{'PLAY' if pos.playing else 'PAUSE'}  pass {pos.pass_no}  {pos.offset:5.1f} / "
                      f"{pos.pass_seconds:.1f} s", 0.8, (220, 220, 220)))
    if projector:
        lines.append((f"projector: {projector}", 1.0, (160, 220, 255)))
    return lines
