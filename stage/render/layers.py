"""The layers over the film, and where each goes on screen.

Each layer is given the frame's state (:class:`~stage.render.scene.FrameState`) and draws onto
a surface it is given; none reads anything else that moves. ``prepare`` works out what to draw
(text is rendered and kept), ``paint`` draws it; a layer can be painted again clipped to an
area (the renderer does that where the players' newest lines were drawn over it, just before
the flip). :class:`Layout` gives each text layer its own place, so none covers another: the
HUD, the chord and the count-off, the timecode window, the title.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygame

from ..film.timecode import feet_frames
from .strips import blit_strips


class Ops:
    """What a layer draws this frame, kept so it can be painted again (clipped)."""

    def __init__(self):
        self.ops: list[tuple] = []
        self.bounds: pygame.Rect | None = None

    def clear(self) -> None:
        self.ops = []
        self.bounds = None

    def _grow(self, r) -> None:
        r = pygame.Rect(r)
        self.bounds = r if self.bounds is None else self.bounds.union(r)

    def blit(self, surf: pygame.Surface, pos) -> pygame.Rect:
        r = surf.get_rect(topleft=pos)
        self.ops.append(("blit", surf, r.topleft))
        self._grow(r)
        return r

    def rect(self, colour, rect) -> None:
        self.ops.append(("rect", colour, pygame.Rect(rect)))
        self._grow(rect)

    def circle(self, colour, centre, radius: int) -> None:
        self.ops.append(("circle", colour, centre, radius))
        self._grow((centre[0] - radius, centre[1] - radius, 2 * radius + 1, 2 * radius + 1))

    def paint(self, surface: pygame.Surface) -> None:
        for op in self.ops:
            if op[0] == "blit":
                surface.blit(op[1], op[2])
            elif op[0] == "rect":
                if len(op[1]) == 4 and op[1][3] < 255:
                    surface.blit(_translucent(op[2].size, op[1]), op[2].topleft)
                else:
                    surface.fill(op[1][:3], op[2])
            else:
                pygame.draw.circle(surface, op[1], op[2], op[3])

    def hits(self, area: pygame.Rect) -> bool:
        return self.bounds is not None and self.bounds.colliderect(area)

    def text_rects(self) -> list[pygame.Rect]:
        """Where this layer put its text (and boxes for text) this frame."""
        return [pygame.Rect(op[2], op[1].get_size()) for op in self.ops if op[0] == "blit"]


_BOXES: dict = {}


def _translucent(size, colour) -> pygame.Surface:
    """A box of a see-through colour (the HUD's backing), made once per size."""
    key = (tuple(size), tuple(colour))
    s = _BOXES.get(key)
    if s is None:
        if len(_BOXES) > 32:
            _BOXES.clear()
        s = pygame.Surface(size, pygame.SRCALPHA)
        s.fill(colour)
        _BOXES[key] = s
    return s


HUD_SHARE = 0.55        # the HUD takes at most this much of the lanes' width (the chord keeps the rest)


@dataclass(frozen=True)
class Layout:
    """Where things go on a screen of ``size``: the lanes to the left of ``now_x``, the label
    column to its right, and places for the text layers that never overlap."""
    size: tuple[int, int]
    now_x: int
    scale: float
    timecode: str = "off"           # the timecode window's corner (or off)
    timecode_box: tuple = (0, 0)    # its size

    @property
    def pad(self) -> int:
        return int(14 * self.scale) + 4

    @property
    def margin(self) -> int:
        """Kept clear left of the now line: the players' newest lines are drawn there last."""
        return max(12, int(24 * self.scale))

    def timecode_rect(self) -> pygame.Rect | None:
        if self.timecode == "off":
            return None
        w, h = self.timecode_box
        pad = self.pad
        x = pad if "left" in self.timecode else self.now_x - self.margin - w
        y = pad if "top" in self.timecode else self.size[1] - h - pad
        return pygame.Rect(x, y, w, h)

    def hud_rect(self, w: int, h: int) -> pygame.Rect:
        """The HUD: top left of the lanes, under a top-left timecode window, above a
        bottom-left one; as wide as its text, at most up to the now line's margin."""
        pad = self.pad
        top = pad
        bottom = self.size[1] - pad
        tc = self.timecode_rect()
        if tc is not None and tc.left < self.now_x // 2:
            if "top" in self.timecode:
                top = tc.bottom + pad
            else:
                bottom = tc.top - pad
        return pygame.Rect(pad, top, min(w, int(self.now_x * HUD_SHARE)), min(h, bottom - top))

    def top_span(self, hud: pygame.Rect | None) -> tuple[int, int, int]:
        """(left, right, top) of the place for the chord and the count-off: the free width at the
        top of the lanes, between the HUD (or a top-left timecode window) and a top-right
        timecode window; under the top-right window where that leaves too little room."""
        pad = self.pad
        left, right, top = pad, self.now_x - self.margin, int(30 * self.scale)
        tc = self.timecode_rect()
        if tc is not None and "top" in self.timecode and "left" in self.timecode:
            left = max(left, tc.right + pad)
        if hud is not None:
            left = max(left, hud.right + pad)
        if tc is not None and "top" in self.timecode and "right" in self.timecode:
            if tc.left - pad - left >= self.now_x * 0.3:
                right = tc.left - pad
            else:
                top = tc.bottom + pad + 10
        return left, max(left + 1, right), top

    def title_rect(self, w: int, h: int) -> pygame.Rect:
        sw, sh = self.size
        return pygame.Rect(sw // 2 - w // 2, int(sh * 0.9) - h, w, h)


class HarmonyLayer:
    """The chord sounding, large; the next one under it; a mark of how far the sequence has
    gone; in the last two seconds of a pass the count-off, under them."""

    def __init__(self, text, layout: Layout):
        self.text, self.layout = text, layout
        self.ops = Ops()

    def prepare(self, fs, hud_rect) -> None:
        self.ops.clear()
        s = self.layout.scale
        left, right, y = self.layout.top_span(hud_rect)
        cx = (left + right) // 2
        width = right - left
        cue, pos = fs.cue, fs.pos
        spans = getattr(cue, "harmony", None)
        if spans:
            from ..harmony import chord_at
            i, span = chord_at(spans, pos.offset % (spans[-1].start + spans[-1].length))
            nxt = next((spans[(i + k) % len(spans)].chord.name for k in range(1, len(spans))
                        if spans[(i + k) % len(spans)].chord.name != span.chord.name), span.chord.name)
            px = int(110 * s)
            big = self.text.render(span.chord.name, px, (255, 255, 255))
            while big.get_width() > width and px > 20:           # a narrow place: smaller type
                px = int(px * 0.8)
                big = self.text.render(span.chord.name, px, (255, 255, 255))
            small = self.text.render(f"next {nxt}", max(14, int(px * 0.42)), (200, 200, 200))
            total = spans[-1].start + spans[-1].length
            frac = (pos.offset % total) / total
            bw = min(int(300 * s), width)
            self.ops.rect((80, 80, 80), (cx - bw // 2, y - 10, bw, 6))
            self.ops.rect((255, 255, 255), (cx - bw // 2, y - 10, max(1, int(bw * frac)), 6))
            r = self.ops.blit(big, big.get_rect(midtop=(cx, y)).topleft)
            r = self.ops.blit(small, small.get_rect(midtop=(cx, r.bottom)).topleft)
            y = r.bottom
        left_s = pos.left
        if left_s <= 2.0 and pos.playing:              # the count-off: a bar and 2, 1
            colour = (255, 200, 60) if fs.pending is None else (120, 255, 160)   # green: a new cue follows
            bar_h = max(8, int(14 * s))
            sw = self.layout.size[0]
            self.ops.rect(colour, (0, 0, max(1, int(sw * left_s / 2.0)), bar_h))
            img = self.text.render(str(int(left_s) + 1), int(120 * s), colour)
            self.ops.blit(img, img.get_rect(midtop=(cx, max(y, bar_h))).topleft)

    def paint(self, surface) -> None:
        self.ops.paint(surface)


class HitsLayer:
    """Scoring to picture: streamers crossing to each hit point (arriving at the players' now
    line), punches on the hit, flutters on the last beats before it."""

    def __init__(self, text, layout: Layout, lanes: bool):
        self.text, self.layout, self.lanes = text, layout, lanes
        self.ops = Ops()

    def prepare(self, fs) -> None:
        self.ops.clear()
        pos, cue = fs.pos, fs.cue
        if cue is None:
            return
        fps = pos.fps
        length_s = pos.pass_seconds
        p = pos.offset
        sw, sh = self.layout.size
        s = self.layout.scale
        end = self.layout.now_x if self.lanes else sw - 1
        for h in cue.hits:
            t_hit = (h.frame - pos.loop_in) / fps
            dt = t_hit - p
            if dt < -0.2:
                dt += length_s                           # the hit of the next pass
            if 0 < dt <= h.streamer:
                x = int((1.0 - dt / h.streamer) * end)
                self.ops.rect(h.colour, (x - 6, 0, 12, sh))
                if h.label:
                    img = self.text.render(h.label, int(36 * s), h.colour)
                    self.ops.blit(img, (x + 10, int(40 * s)))
                if h.flutter:                            # flutters: a flash on each of the last beats
                    beat = 60.0 / h.tempo
                    since_beat = (-dt) % beat            # beats fall at dt = n * beat before the hit
                    if dt <= h.flutter * beat + 1e-6 and since_beat < 1.5 / fps:
                        bar = max(6, int(10 * s))
                        self.ops.rect(h.colour, (0, 0, end, bar))
                        self.ops.rect(h.colour, (0, sh - bar, end, bar))
            elif h.punch and -3.0 / fps < dt <= 0:        # punch: three frames from the hit
                r = int(min(sw, sh) * 0.18)
                self.ops.circle(h.colour, (sw // 2, sh // 2), r)
                if h.label:
                    img = self.text.render(h.label, int(72 * s), (0, 0, 0), shadow=False)
                    self.ops.blit(img, img.get_rect(center=(sw // 2, sh // 2)).topleft)

    def paint(self, surface) -> None:
        self.ops.paint(surface)


def timecode_text(tc, frame: int, feet: bool) -> str:
    text = tc.label(frame)
    if feet:
        text += f"   {feet_frames(frame)}"
    return text


class TimecodeLayer:
    """The burned-in timecode window: white on a black box, in the session's corner."""

    def __init__(self, text, layout: Layout, tc, size: float, feet: bool):
        self.text, self.tc, self.feet = text, tc, feet
        self.px = int(64 * layout.scale * size)
        # the box is sized once, for the widest label, so it never moves or grows
        sample = self.text.render(timecode_text(tc, 0, feet).replace("0", "8"), self.px, (255, 255, 255), shadow=False)
        self.pad = max(4, self.px // 6)
        self.box = (sample.get_width() + 2 * self.pad, sample.get_height() + self.pad)
        self.layout = layout
        self.ops = Ops()

    def prepare(self, fs) -> None:
        self.ops.clear()
        rect = self.layout.timecode_rect()
        if rect is None:
            return
        img = self.text.render(timecode_text(self.tc, fs.pos.frame, self.feet), self.px, (255, 255, 255), shadow=False)
        self.ops.rect((0, 0, 0), rect)
        self.ops.blit(img, (rect.x + self.pad, rect.y + self.pad // 2))

    def paint(self, surface) -> None:
        self.ops.paint(surface)


TITLE_S = (1.0, 5.0, 1.5)        # a cue's title: fades in, holds, fades out (seconds)


def title_alpha(age: float) -> float:
    """How visible a cue's title is ``age`` seconds after the cue began."""
    fin, hold, fout = TITLE_S
    if age < 0 or age > fin + hold + fout:
        return 0.0
    return min(1.0, age / fin, (fin + hold + fout - age) / fout)


class TitleLayer:
    """The performance view's only text: the cue's title, low and centred, as it begins."""

    def __init__(self, text, layout: Layout):
        self.text, self.layout = text, layout
        self.ops = Ops()

    def prepare(self, fs) -> None:
        self.ops.clear()
        title = getattr(fs.cue, "title", "") if fs.cue else ""
        if not title:
            return
        a = title_alpha(fs.t_film - fs.pos.cue_since)
        if a <= 0:
            return
        img = self.text.render(title, int(64 * self.layout.scale), (255, 255, 255)).copy()
        img.set_alpha(int(255 * a))
        r = self.layout.title_rect(img.get_width(), img.get_height())
        self.ops.blit(img, r.topleft)

    def paint(self, surface) -> None:
        self.ops.paint(surface)


class HudLayer:
    """The studio HUD: the film's place, the cue, the inputs, counts; in its own box."""

    def __init__(self, text, layout: Layout, lines_fn):
        self.text, self.layout, self.lines_fn = text, layout, lines_fn
        self.ops = Ops()
        self.rect: pygame.Rect | None = None

    def prepare(self, fs, projector=None) -> None:
        """``projector``: what the audience sees (on the operator's monitor), else None."""
        self.ops.clear()
        self.rect = None
        s = self.layout.scale
        base = int(34 * s) + 6
        rendered = [self.text.render(t, int(base * k), c) for t, k, c in self.lines_fn(fs, projector)]
        if not rendered:
            return
        pad = self.layout.pad
        w = max(r.get_width() for r in rendered) + 2 * pad
        h = sum(r.get_height() for r in rendered) + 2 * pad
        box = self.layout.hud_rect(w, h)
        self.rect = box
        self.ops.rect((0, 0, 0, 190), box)
        y = box.y + pad
        for r in rendered:
            if y + r.get_height() > box.bottom - pad // 2:
                break                                      # no room for more lines: the rest wait
            self.ops.blit(r.subsurface((0, 0, min(r.get_width(), box.width - 2 * pad), r.get_height())),
                          (box.x + pad, y))
            y += r.get_height()

    def paint(self, surface) -> None:
        self.ops.paint(surface)


class FilmLayer:
    """The frame of the film due at the frame's film time, letterboxed, and the fade."""

    def __init__(self, director, rect, size):
        self.director = director
        self.rect = tuple(rect)              # (x, y, w, h) of the picture on screen
        self.size = size
        self.surface: pygame.Surface | None = None
        self._key = None                     # (player, seq) of the frame in ``surface``
        self._fade = None
        self.fade = 0.0
        self.player = None
        self._dropped_before = 0             # frames dropped by players shown before this one

    def prepare(self, fs) -> None:
        self.fade = fs.fade
        pl = self.director.player_for(fs.pos.cue) if self.director is not None else None
        if pl is None:
            return                           # the cue's picture is not decoded yet: hold the last frame
        if pl is not self.player:
            if self.player is not None:
                self._dropped_before += self.player.dropped
            self.player = pl
        seq, px = pl.frame_for(fs.pos.seq, fs.pos.epoch)
        if px is None or (pl, seq) == self._key:
            return
        h, w = px.shape[:2]
        surf = pygame.image.frombuffer(px, (w, h), "BGRA")
        if (w, h) != tuple(self.rect[2:]):   # only until the re-decoded frames come (a resize)
            surf = pygame.transform.scale(surf, self.rect[2:])
        self.surface, self._key = surf, (pl, seq)

    def paint(self, surface) -> None:
        x, y, w, h = self.rect
        sw, sh = self.size
        if self.surface is None:
            surface.fill((0, 0, 0))
            return
        if y:                                   # letterbox bars
            surface.fill((0, 0, 0), (0, 0, sw, y))
            surface.fill((0, 0, 0), (0, y + h, sw, sh - y - h))
        if x:                                   # pillarbox bars
            surface.fill((0, 0, 0), (0, 0, x, sh))
            surface.fill((0, 0, 0), (x + w, 0, sw - x - w, sh))
        blit_strips(surface, self.surface, (x, y))
        if self.fade > 0:
            if self._fade is None:
                self._fade = pygame.Surface((w, h))
            self._fade.set_alpha(int(255 * self.fade))
            surface.blit(self._fade, (x, y))

    def paint_area(self, surface, area: pygame.Rect) -> None:
        """The film (or its bars) in ``area`` only."""
        if self.surface is None:
            surface.fill((0, 0, 0), area)
            return
        x, y, w, h = self.rect
        pic = pygame.Rect(x, y, w, h)
        inside = area.clip(pic)
        if inside.size != area.size:                # bars around the picture
            surface.fill((0, 0, 0), area)
        if inside.width and inside.height:
            surface.blit(self.surface, inside.topleft, inside.move(-x, -y))
            if self.fade > 0 and self._fade is not None:
                surface.blit(self._fade, inside.topleft, inside.move(-x, -y))

    def shown(self):
        """(file frame, pass) of the frame on screen, or None before the first."""
        if self._key is None:
            return None
        pl, seq = self._key
        return pl.decoder.loop_in + seq % pl.length, seq // pl.length + 1

    @property
    def dropped(self) -> int:
        """Film frames whose time passed before they could be shown, over the whole run."""
        return self._dropped_before + (self.player.dropped if self.player is not None else 0)
