"""Per-player pitch lanes: a scrolling trail on a semitone grid, the note and cents, a meter.

The trail lives on one surface that is scrolled a whole number of pixels per frame; only the
entries that arrived since the last frame are drawn. Time runs right to left: ``now_x`` is
the present.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pygame

from ..audio.analysis import AnalysisSettings
from ..midi.players import velocity_db
from ..music import hz_to_midi, midi_to_hz, nearest_note, note_name
from .strips import STRIP, blit_strips

# Meter ballistics, in the units a sound engineer reads them in:
METER_FLOOR_DB = -60.0       # bottom of the scale
METER_RELEASE_DB_S = 20.0    # fall-back rate: 20 dB/s, close to an IEC type II PPM (24 dB in 2.8 s)
PEAK_HOLD_S = 1.5            # peak marker holds this long before falling
SILENT_AFTER_S = 0.4         # below the gate this long: "no signal"
GONE_AFTER_S = 0.35          # no analysis result this long: "no input" (device silent or gone)
SIGNAL_DB = AnalysisSettings().gate_db   # below the analysis gate a player counts as silent
# a pitch against the current chord: the thin core of the trail and the note's name take these
FUNCTION_COLOURS = {"chord": (90, 255, 120), "scale": (235, 235, 235), "outside": (255, 70, 70)}
VOICED_HOLD_S = 0.12         # a shown note stays this long past its last voiced hop


@dataclass
class LaneGeom:
    """A lane's pitch axis. Rows are in *shown* notes: written pitch for a transposing player
    (``shift`` semitones from concert), against the session's A4."""
    top: int
    height: int
    lo: float        # shown MIDI note at the lane's bottom edge
    hi: float        # shown MIDI note at the top edge
    shift: int = 0   # written minus concert, in semitones
    a4: float = 440.0

    def y_for_midi(self, m: float) -> float:
        """y of a shown note (as the grid labels it)."""
        return self.top + self.height - (m - self.lo) / (self.hi - self.lo) * self.height

    def y_for_concert(self, m: float) -> float:
        """y of a concert-pitch note number (a MIDI player's)."""
        return self.y_for_midi(m + self.shift)

    def y_for_hz(self, hz: float) -> float:
        return self.y_for_midi(hz_to_midi(hz, self.a4) + self.shift)


def lane_geometry(n: int, screen_h: int, lowest: int, highest: int, index: int, gap: int = 4,
                  shift: int = 0, a4: float = 440.0) -> LaneGeom:
    """``lowest`` and ``highest`` are concert pitch, as the session gives them."""
    h = (screen_h - gap * (n + 1)) // n
    top = gap + index * (h + gap)
    return LaneGeom(top, h, lowest + shift - 1.0, highest + shift + 1.0, shift, a4)


class LaneView:
    """Draw state of one player's lane (keeps what it drew, reads the feed)."""

    def __init__(self, player, feed, geom: LaneGeom, now_x: int, pps: float, text, hud_scale: float):
        self.player, self.feed, self.geom = player, feed, geom
        self.signal_db = getattr(player, "noise_floor", SIGNAL_DB)   # quieter than this: silent
        self.now_x, self.pps, self.text, self.s = now_x, pps, text, hud_scale
        self.seen = self._first_unseen()
        self.prev_point = None          # (x_time, y, voiced) of the last drawn entry
        self.meter_db = METER_FLOOR_DB
        self.peak_db = METER_FLOOR_DB
        self.peak_t = 0.0
        self.onset_t = -10.0
        self.last_voiced_t = -10.0
        self.last_loud_t = -10.0
        self.shown_hz = 0.0
        self.shown_conf = 0.0
        self.status = "no input"
        self.last_drawn = (None, 0.0, -120.0)     # (t_capture, f0, level) of the newest entry drawn
        self.last_publish = None                  # when the analysis handed that entry over
        self.note_hz = 0.0                        # the note being drawn (0: none)
        self.note_start = (None, None)            # (t_capture, t_publish) of its first result
        self.updated = 0.0                        # when the meter was last moved
        self.chord_at = None                      # t -> harmony.Chord or None (set by the app)
        self.function = None                      # the shown note's function against the chord
        self.chord_now = None                     # the chord sounding as this frame is drawn

    def _first_unseen(self) -> int:
        return max(0, self.feed.count - 1)

    # -- trail
    def draw_new(self, trail: pygame.Surface, t_right: float, drawn: list) -> pygame.Rect | None:
        """Draw entries that arrived since the last frame; append their capture times to
        ``drawn``; returns the area of the trail drawn on (None: nothing)."""
        feed, g, col = self.feed, self.geom, self.player.colour
        dirty = None
        published = feed.t_publish                # read before the count: it is never newer than it
        end = feed.count
        if end > self.seen:
            self.last_publish = published
        for i in feed.since(self.seen, end):
            t, f0, conf, level, onset = feed.at(i)
            drawn.append(t)
            self.last_drawn = (t, f0, level)
            x = self.now_x - (t_right - t) * self.pps
            if level > self.signal_db:
                self.last_loud_t = t
            if onset:
                self.onset_t = t
            if f0 > 0:
                if self.note_hz <= 0 or abs(hz_to_midi(f0) - hz_to_midi(self.note_hz)) > 0.5:
                    self.note_start = (t, feed.published(i))     # the first result of a new note
                self.note_hz = f0
                self.last_voiced_t = t
                self.shown_hz, self.shown_conf = f0, conf
                y = g.y_for_hz(f0)
                if not (g.top <= y <= g.top + g.height):
                    self.prev_point = None
                    continue
                width = max(2, int(2 + (max(-60.0, min(0.0, level)) + 60.0) / 60.0 * 12 * self.s))
                a = int(255 * max(0.3, min(1.0, (conf - 0.5) * 2.0)))
                p = self.prev_point
                if p is not None and abs(p[1] - y) < g.height / (g.hi - g.lo) * 1.5 and x - p[0] < 6:
                    start = (p[0], p[1])
                else:
                    start = (x - 1, y)
                r = pygame.draw.line(trail, (*col, a), start, (x, y), width)
                dirty = r if dirty is None else dirty.union(r)
                chord = self.chord_now                 # (the frame's chord: one look per frame)
                if chord is not None:                  # a thin core in the colour of the note's function
                    fn = chord.function(int(round(hz_to_midi(f0, g.a4))))     # concert, as chords are
                    self.function = fn
                    pygame.draw.line(trail, (*FUNCTION_COLOURS[fn], a), start, (x, y), max(2, width // 3))
                self.prev_point = (x, y)
            else:
                self.prev_point = None
                self.note_hz = 0.0
            if onset and level > self.signal_db:
                # onsets: a white tick at the lane's top and bottom edges, whatever the pitch
                tick = max(6, int(14 * self.s))
                r = pygame.draw.line(trail, (255, 255, 255, 230), (x, g.top), (x, g.top + tick), 3)
                dirty = r if dirty is None else dirty.union(r)
                r = pygame.draw.line(trail, (255, 255, 255, 230), (x, g.top + g.height - tick), (x, g.top + g.height), 3)
                dirty = dirty.union(r)
        self.seen = end
        return dirty

    def shift(self, dx: int):
        if self.prev_point is not None:
            self.prev_point = (self.prev_point[0] - dx, self.prev_point[1])

    # -- the label column: note, cents, meter, status
    def update_status(self, now: float):
        dt = min(0.1, max(0.0, now - self.updated)) if self.updated else 0.0
        self.updated = now
        latest = self.feed.latest()
        level = latest[3] if latest else METER_FLOOR_DB
        if latest is None or now - latest[0] > GONE_AFTER_S:
            self.status = "no input"
            level = METER_FLOOR_DB
        elif now - self.last_loud_t > SILENT_AFTER_S:
            self.status = "no signal"
        elif now - self.last_voiced_t <= VOICED_HOLD_S:
            self.status = "pitch"
        else:
            self.status = "unpitched"
        peak = max(METER_FLOOR_DB, latest[4]) if latest and self.status != "no input" else METER_FLOOR_DB
        self.move_meter(max(METER_FLOOR_DB, level), peak, now, dt)

    def move_meter(self, level: float, peak: float, now: float, dt: float) -> None:
        """Meter ballistics: rise at once, fall at METER_RELEASE_DB_S; the peak mark holds for
        PEAK_HOLD_S, then falls at the same rate."""
        self.meter_db = level if level > self.meter_db else max(level, self.meter_db - METER_RELEASE_DB_S * dt)
        if peak >= self.peak_db:
            self.peak_db, self.peak_t = peak, now
        elif now - self.peak_t > PEAK_HOLD_S:
            self.peak_db = max(peak, self.peak_db - METER_RELEASE_DB_S * dt)

    def note_label(self) -> tuple[str, float | None]:
        """The note name shown large (written pitch for a transposing player), and the cents
        off it against the session's A4 (None: none to show)."""
        n, cents = nearest_note(self.shown_hz, self.geom.a4)
        return note_name(n + self.geom.shift), cents

    def sounding_midi(self) -> float | None:
        """The shown note as a concert MIDI number (None: none)."""
        return hz_to_midi(self.shown_hz, self.geom.a4) if self.shown_hz > 0 else None

    def degree_label(self, now: float) -> str:
        """'3 of Cmaj7': the shown note's scale degree against the chord at ``now`` ('' without
        a harmony or a note)."""
        chord = self.chord_at(now) if self.chord_at else None
        m = self.sounding_midi()
        if chord is None or m is None:
            return ""
        return f"{chord.degree(int(round(m)))} of {chord.name}"

    def draw_label(self, screen: pygame.Surface, x0: int, width: int, now: float):
        g, col, s = self.geom, self.player.colour, self.s
        big = min(int(g.height * 0.5), int(84 * s))
        small = max(18, min(int(g.height * 0.24), int(36 * s)))
        pad = int(10 * s)
        name = self.text.render(self.player.name, small, col)
        screen.blit(name, (x0 + pad, g.top + pad // 2))
        cy = g.top + g.height // 2
        if self.status == "pitch":
            note, cents = self.note_label()
            ncol = FUNCTION_COLOURS[self.function] if (self.chord_at and self.function) else (255, 255, 255)
            label = self.text.render(note, big if len(note) <= 4 else small, ncol)
            screen.blit(label, (x0 + pad, cy - label.get_height() // 2 + small // 3))
            if cents is not None:
                c = int(round(cents))
                ccol = (120, 255, 140) if abs(c) <= 10 else (255, 220, 90) if abs(c) <= 25 else (255, 110, 90)
                ctext = self.text.render(f"{c:+d}¢", small, ccol)
                screen.blit(ctext, (x0 + pad + label.get_width() + pad, cy - ctext.get_height() // 2 + small // 3))
            degree = self.degree_label(now)
            if degree:                      # the note's degree against the chord sounding now
                dtext = self.text.render(degree, small, ncol)
                screen.blit(dtext, (x0 + pad, cy + label.get_height() // 2 + small // 3))
        else:
            word = {"no input": "NO INPUT", "no signal": "NO SIGNAL", "unpitched": "no pitch"}[self.status]
            wcol = (255, 90, 90) if self.status == "no input" else (170, 170, 170)
            w = self.text.render(word, small, wcol)
            screen.blit(w, (x0 + pad, cy - w.get_height() // 2 + small // 3))
        # onset flash: a bright bar on the lane's left edge of the column
        if now - self.onset_t < 0.12 and self.status != "no input":
            screen.fill((255, 255, 255), (x0, g.top, max(4, int(6 * s)), g.height))
        # meter: vertical bar at the column's right edge
        mw = max(10, int(18 * s))
        mx = x0 + width - mw - pad
        mtop, mh = g.top + pad // 2, g.height - pad
        screen.fill((30, 30, 30), (mx, mtop, mw, mh))           # (fill: a tenth of draw.rect's time)
        frac = (self.meter_db - METER_FLOOR_DB) / -METER_FLOOR_DB
        bh = int(mh * max(0.0, min(1.0, frac)))
        mcol = (90, 220, 110) if self.meter_db < -12 else (250, 210, 60) if self.meter_db < -3 else (255, 70, 60)
        if bh > 0:
            screen.fill(mcol, (mx, mtop + mh - bh, mw, bh))
        pf = (self.peak_db - METER_FLOOR_DB) / -METER_FLOOR_DB
        if pf > 0:
            py = mtop + mh - int(mh * min(1.0, pf))
            screen.fill((255, 255, 255), (mx, py - 1, mw, 3))


def draw_grid(surf: pygame.Surface, geom: LaneGeom, x0: int, x1: int, text, scale: float, colour):
    """Semitone lines (faint), C lines (stronger, labelled), the lane's frame."""
    g = geom
    for m in range(int(math.ceil(g.lo)), int(math.floor(g.hi)) + 1):
        y = int(round(g.y_for_midi(m)))
        if m % 12 == 0:
            pygame.draw.line(surf, (255, 255, 255, 70), (x0, y), (x1, y), 1)
            lab = text.render(note_name(m), max(14, int(20 * scale)), (200, 200, 200))
            surf.blit(lab, (x0 + 4, y - lab.get_height()))
        else:
            a = 28 if m % 12 in (2, 4, 5, 7, 9, 11) else 16
            pygame.draw.line(surf, (255, 255, 255, a), (x0, y), (x1, y), 1)
    pygame.draw.line(surf, (*colour, 90), (x0, g.top + g.height), (x1, g.top + g.height), 2)


class MidiLaneView(LaneView):
    """A MIDI player's lane: every sounding note drawn exactly (no confidence fade), bent by
    the pitch wheel, its thickness the velocity; chords show every note."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.t_prev = None

    def _first_unseen(self) -> int:
        return self.feed.ons

    def draw_new(self, trail: pygame.Surface, t_right: float, drawn: list) -> pygame.Rect | None:
        feed, g, col = self.feed, self.geom, self.player.colour
        dirty = None
        t_from = self.t_prev if self.t_prev is not None else t_right
        self.t_prev = t_right
        bend = feed.bend
        for n in feed.sounding:
            y = g.y_for_concert(n.note + bend)
            if not (g.top <= y <= g.top + g.height):
                continue
            x0 = self.now_x - (t_right - max(n.t_on, t_from)) * self.pps
            width = max(2, int(2 + n.velocity / 127 * 12 * self.s))
            colour = (*col, 150 if n.released else 255)          # held by the pedal: a little dimmer
            r = pygame.draw.line(trail, colour, (x0 - 1, y), (self.now_x, y), width)
            dirty = r if dirty is None else dirty.union(r)
        tick = max(6, int(14 * self.s))
        for i in range(max(self.seen, feed.ons - feed.capacity + 1), feed.ons):
            k = i % feed.capacity
            t = float(feed.on_t[k])
            drawn.append(t)
            x = self.now_x - (t_right - t) * self.pps
            r = pygame.draw.line(trail, (255, 255, 255, 230), (x, g.top), (x, g.top + tick), 3)
            dirty = r if dirty is None else dirty.union(r)
            dirty = dirty.union(pygame.draw.line(trail, (255, 255, 255, 230), (x, g.top + g.height - tick),
                                                 (x, g.top + g.height), 3))
            self.onset_t = t
        self.seen = feed.ons
        newest = feed.newest()
        if newest is not None:
            self.shown_hz = midi_to_hz(newest.note + bend)
            self.last_drawn = (newest.t_on, self.shown_hz, velocity_db(newest.velocity))
        else:
            self.last_drawn = (feed.t_last or None, 0.0, METER_FLOOR_DB)
        return dirty

    def update_status(self, now: float):
        dt = min(0.1, max(0.0, now - self.updated)) if self.updated else 0.0
        self.updated = now
        feed = self.feed
        sounding = feed.sounding
        if not feed.connected:
            self.status = "no input"
        elif sounding:
            self.status = "pitch"
        else:
            self.status = "no signal"
        level = max((velocity_db(n.velocity) for n in sounding), default=METER_FLOOR_DB)
        self.move_meter(level, level, now, dt)

    def sounding_midi(self) -> float | None:
        n = self.feed.newest()
        return None if n is None else n.note + self.feed.bend

    def note_label(self) -> tuple[str, float | None]:
        bend = self.feed.bend
        notes = [nearest_note(midi_to_hz(n + bend)) for n in sorted(n.note for n in self.feed.sounding)]
        k = self.geom.shift
        if len(notes) == 1:
            n, cents = notes[0]
            return note_name(n + k), (cents if abs(bend) > 0.005 else None)
        return " ".join(note_name(n + k) for n, _ in notes[:6]), None


class LanesLayer:
    """Every player's lane: the grid (drawn once), one scrolling trail surface shared by the
    lanes, and the label column. The trail is scrolled to the frame's time and painted with
    the rest of the picture; the players' feeds are read as late as possible (``draw_late``),
    and only what that draws is painted again: the strip of the trail it touched and the label
    column, over the parts of the picture under them."""

    def __init__(self, players, feeds, size, text, scale, seconds_visible: float, a4: float, chord_at=None):
        w, h = size
        self.size, self.text, self.scale = (w, h), text, scale
        self.col_w = max(220, int(w * 0.2))
        self.now_x = w - self.col_w
        self.pps = self.now_x / seconds_visible
        self.trail = pygame.Surface((self.now_x, h), pygame.SRCALPHA)
        self.trail.fill((0, 0, 0, 0))
        grid = pygame.Surface((w, h), pygame.SRCALPHA)
        grid.fill((0, 0, 0, 0))
        n = len(players)
        self.lanes = []
        for i, (p, feed) in enumerate(zip(players, feeds)):
            g = lane_geometry(n, h, p.lowest, p.highest, i, shift=getattr(p, "transpose", 0), a4=a4)
            view = MidiLaneView if getattr(p, "is_midi", False) else LaneView
            lane = view(p, feed, g, self.now_x, self.pps, text, scale)
            lane.chord_at = chord_at
            self.lanes.append(lane)
            draw_grid(grid, g, 0, self.now_x, text, scale, p.colour)
        pygame.draw.rect(grid, (0, 0, 0, 150), (self.now_x, 0, self.col_w, h))
        pygame.draw.line(grid, (255, 255, 255, 140), (self.now_x, 0), (self.now_x, h), 2)
        # the grid never changes: run-length encoded, its mostly transparent pixels cost nothing
        # to paint whole; a plain copy paints small areas (an RLE blit walks every row above one)
        self.grid = grid.convert_alpha() if pygame.display.get_surface() is not None else grid
        self.grid_plain = self.grid.copy()
        self.grid.set_alpha(255, pygame.RLEACCEL)
        self.column = pygame.Rect(self.now_x, 0, self.col_w, h)
        self.col_bg = pygame.Surface(self.column.size)     # the picture under the labels, this frame
        self.t_right = None

    def scroll_to(self, t: float) -> None:
        """Move the trail so its right edge is time ``t`` (whole pixels)."""
        if self.t_right is None:
            self.t_right = t
            return
        dx = int((t - self.t_right) * self.pps)
        if dx <= 0:
            return
        h = self.size[1]
        if dx >= self.now_x:
            self.trail.fill((0, 0, 0, 0))
        else:
            for top in range(0, h, STRIP):          # in strips, for the GIL (see blit_strips)
                self.trail.set_clip((0, top, self.now_x, min(STRIP, h - top)))
                self.trail.scroll(-dx, 0)
            self.trail.set_clip(None)
            self.trail.fill((0, 0, 0, 0), (self.now_x - dx, 0, dx, h))
        self.t_right += dx / self.pps
        for lv in self.lanes:
            lv.shift(dx)

    under = None              # a layer painted between the grid and the trail (the ghost)

    def paint(self, surface) -> None:
        """The grid and the trail as they are (the picture under them already painted)."""
        blit_strips(surface, self.grid)
        if self.under is not None:
            self.under.paint(surface)
        blit_strips(surface, self.trail)

    def paint_area(self, surface, area: pygame.Rect) -> None:
        """The grid and the trail in ``area`` only (the picture under them already painted)."""
        surface.blit(self.grid_plain, area.topleft, area)
        if self.under is not None:
            self.under.paint_area(surface, area)
        surface.blit(self.trail, area.topleft, area)

    def keep_column(self, surface) -> None:
        """Keep what is under the label column now (the film, dimmed), to paint the labels over
        again after the late read."""
        self.col_bg.blit(surface, (0, 0), self.column)

    def read(self, drawn: list) -> list[pygame.Rect]:
        """Read every feed: draw what arrived into the trail; returns the areas drawn on (one a
        lane: small ones, each cheap to paint again, where one spanning the lanes would be tall)."""
        dirty = []
        chord = self.lanes[0].chord_at(self.t_right) if self.lanes and self.lanes[0].chord_at else None
        for lv in self.lanes:
            lv.chord_now = chord
            r = lv.draw_new(self.trail, self.t_right, drawn)
            if r is not None:
                dirty.append(r)
        return dirty

    def update_status(self, now: float) -> None:
        for lv in self.lanes:
            lv.update_status(now)

    def paint_labels(self, surface, now: float, from_kept: bool = True) -> None:
        if from_kept:
            surface.blit(self.col_bg, self.column.topleft)
        for lv in self.lanes:
            lv.draw_label(surface, self.now_x, self.col_w, now)

    def lane(self, name):
        return next(lv for lv in self.lanes if lv.player.name == name)
