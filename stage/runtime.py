"""Putting a session together: source -> analysis -> feeds -> renderer, with the film beside it."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass

from .audio.engine import AnalysisThread
from .audio.state import InputStatus, PlayerFeed
from .control.actions import ControlQueue
from .midi.inputs import MidiPortError, find_port, open_midi_inputs
from .midi.players import MidiFeed
from .film.clock import FilmClock
from .film.decoder import FilmDecoder, FilmError, FilmPlayer, fit_rect, probe, resolve_loop
from .film.timecode import TimecodeError, TimecodeFormat, film_timecode


@dataclass
class Hit:
    frame: int                   # frame of the file
    label: str
    colour: tuple
    streamer: float              # seconds
    punch: bool
    flutter: int = 0             # beats of flutter leading into the hit
    tempo: float = 120.0         # their tempo, beats a minute


@dataclass
class Cue:
    name: str
    loop: tuple[int, int]        # frames [in, out)
    hits: list
    palette: list = None         # performance view colours for the players, in order (None: their own)
    harmony: list = None         # harmony.Span list over the loop (None: no harmony given)
    title: str = ""              # the performance view's title for this cue ("" for none)


@dataclass
class Film:
    info: object
    loop: tuple[int, int]        # the first cue's
    tc: TimecodeFormat
    cues: list


def open_film(session) -> Film:
    """Probe the film, set up its timecode (the session's start and drop_frame, else the file's
    own: see film_timecode; film.tc.source says which) and resolve its loop; FilmError says
    which file and why, SessionError which key."""
    info = probe(session.film.path)
    f = session.film
    try:
        tc = film_timecode(info.fps, info.timecode, f.start, f.drop_frame)
    except TimecodeError as e:
        if e.setting == "drop_frame":
            raise session.error("film.drop_frame", f"{e} (the film runs at {float(info.fps):.3f} fps)") from None
        if e.setting is not None:
            raise session.error(f"film.{e.setting}", str(e)) from None
        raise FilmError(f"{info.path}: {e}") from None
    cues = resolve_cues(session, info, tc)
    return Film(info, cues[0].loop, tc, cues)


def resolve_cues(session, info, tc) -> list[Cue]:
    """Cues to frames, checked against the film and each other: errors name the cue and value."""
    implicit = session.cues_from_film
    cues = []
    for i, c in enumerate(session.cues):
        pre = "film" if implicit else f"cues[{i}]"
        try:
            loop = resolve_loop(info, c.loop_in, c.loop_out, tc)
        except Exception as e:
            key = getattr(e, "point", None) or ("out" if "out point" in str(e) or (
                c.loop_out is not None and str(c.loop_out) in str(e)) else "in")
            raise session.error(f"{pre}.{key}", f"cue {c.name!r}: {e}") from None
        hits = []
        for j, h in enumerate(c.hits):
            try:
                frame = tc.position(h.time)
            except TimecodeError as e:
                raise session.error(f"{pre}.hits[{j}].time", f"cue {c.name!r}: {e}") from None
            if not loop[0] <= frame < loop[1]:
                raise session.error(f"{pre}.hits[{j}].time",
                                    f"cue {c.name!r}: hit {h.label or h.time!r} at {tc.label(frame)} is outside "
                                    f"the cue's loop {tc.label(loop[0])}-{tc.label(loop[1])}")
            hits.append(Hit(frame, h.label, h.colour, h.streamer, h.punch, h.flutter, h.tempo))
        harmony = c.harmony or None
        if c.harmony_at:
            harmony = _harmony_at(session, pre, c, loop, info, tc)
        for other in cues:
            if loop[0] < other.loop[1] and other.loop[0] < loop[1]:
                raise session.error(f"{pre}.in", f"cue {c.name!r} ({tc.label(loop[0])}-{tc.label(loop[1])}) overlaps "
                                    f"cue {other.name!r} ({tc.label(other.loop[0])}-{tc.label(other.loop[1])})")
        cues.append(Cue(c.name, loop, sorted(hits, key=lambda h: h.frame), c.palette or None, harmony,
                        c.title))
    return cues


def _harmony_at(session, pre, c, loop, info, tc) -> list:
    """Chords at timecodes to spans over the loop: each lasts until the next; the last runs to
    the loop's end and, where the first starts after the in point, on from the pass's start."""
    from .harmony import Span
    fps = float(info.fps)
    frames = []
    for j, (pos, chord) in enumerate(c.harmony_at, 1):
        try:
            frame = tc.position(pos)
        except TimecodeError as e:
            raise session.error(f"{pre}.harmony", f"cue {c.name!r}: chord {j} ({chord.name}): {e}") from None
        if not loop[0] <= frame < loop[1]:
            raise session.error(f"{pre}.harmony", f"cue {c.name!r}: chord {j} ({chord.name}) at {tc.label(frame)} is "
                                f"outside the cue's loop {tc.label(loop[0])}-{tc.label(loop[1])}")
        if frames and frame <= frames[-1][0]:
            raise session.error(f"{pre}.harmony", f"cue {c.name!r}: chord {j} ({chord.name}) at {tc.label(frame)} "
                                f"does not come after chord {j - 1} at {tc.label(frames[-1][0])}")
        frames.append((frame, chord))
    starts = [(f - loop[0]) / fps for f, _ in frames] + [(loop[1] - loop[0]) / fps]
    spans = [Span(starts[k], starts[k + 1] - starts[k], ch) for k, (_, ch) in enumerate(frames)]
    if starts[0] > 0:
        spans.insert(0, Span(0.0, starts[0], frames[-1][1]))
    return spans


def start_film(film: Film, size, start_seq: int = 0, wait: float = 10.0, loop=None) -> FilmPlayer:
    loop = loop or film.loop
    dec = FilmDecoder(film.info, loop[0], loop[1], size, start_seq=start_seq).start()
    dec.head_ready.wait(wait)
    return FilmPlayer(dec)


def open_source(session, play_out: bool = True):
    """The session's sound: a recorded performance if audio.file is set, else the live input.
    A device that is not there is reported against the session's audio.input."""
    from .audio.devices import DeviceError
    a = session.audio
    if a.file is not None:
        from .audio.sources import Playback
        return Playback(a.file, a.blocksize, a.output, play_out=play_out)
    from .audio.sources import LiveInput
    channels = max(p.channel for p in session.players if not p.is_midi)
    try:
        return LiveInput(a.input, a.samplerate, a.blocksize, channels)
    except DeviceError as e:
        raise session.error("audio.input", str(e)) from None


def check_channels(session, source):
    for p in session.players:
        if not p.is_midi and p.channel > source.ring.channels:
            raise session.error(f"players[{session.players.index(p)}].channel",
                                f"channel {p.channel} does not exist: the input has {source.ring.channels} "
                                f"channel(s) (1-{source.ring.channels})")


class Performance:
    """Everything a run needs, started in order and stopped in reverse."""

    def __init__(self, session, options, play_out=True, trace_path=None, clock=None):
        from . import clock as _clock
        from .render.app import StageApp
        self.session = session
        clock = clock or _clock.now
        self.film = open_film(session)
        players = session.players
        self.feeds = [MidiFeed(p.name, p.midi_channel, p.bend_range) if p.is_midi else PlayerFeed(p.name)
                      for p in players]
        audio = [(p, f) for p, f in zip(players, self.feeds) if not p.is_midi]
        self.source = self.analysis = None
        if audio:
            self.source = open_source(session, play_out)
            check_channels(session, self.source)
            self.analysis = AnalysisThread(self.source.ring, [p for p, _ in audio], [f for _, f in audio],
                                           [p.channel - 1 for p, _ in audio], session.audio.hop,
                                           self.source.doorbell, self.source.status, clock=clock)
        self.controls = ControlQueue(clock)
        ctl = session.control
        self.midi_control = None
        if ctl.midi:
            from .control.midi import DEFAULT_MAP, MidiControl, append_mapping
            self.midi_control = MidiControl(ctl.maps or DEFAULT_MAP, self.controls, f"midi {ctl.midi}",
                                            on_learn=lambda m: append_mapping(session.path, m))
        listeners = [(ctl.midi, self.midi_control)] if self.midi_control else []
        self.mtc_reader = self.chase = self.mtc_sender = self.clock_sender = None
        sync = session.sync
        if sync.mtc_in:
            from .midi.mtc import MtcChase, MtcReader
            self.mtc_reader = MtcReader()
            self.chase = MtcChase(self.mtc_reader, self.film.info.fps, self.film.loop[0], sync.mtc_rate)
            listeners.append((sync.mtc_in, self.mtc_reader))
        self.midi = open_midi_inputs(players, self.feeds, listeners, clock)
        for m in self.midi:                 # a port that is not there: say so before the screen opens
            try:
                find_port(m.spec)
            except MidiPortError as e:
                i = next((i for i, p in enumerate(players) if p.midi == m.spec), None)
                key = f"players[{i}].midi" if i is not None else ("sync.mtc_in" if m.spec == sync.mtc_in
                                                                  else "control.midi")
                raise session.error(key, str(e)) from None
        self.osc_in = self.osc_out = None
        if ctl.osc_listen:
            from .control.osc import OscControl
            try:
                self.osc_in = OscControl(*ctl.osc_listen, self.controls)
            except OSError as e:
                raise session.error("control.osc_listen", f"cannot listen on {ctl.osc_listen[0]}:"
                                    f"{ctl.osc_listen[1]}: {e.strerror}") from None
        if ctl.osc_send:
            from .control.osc import OscOut
            self.osc_out = OscOut(ctl.osc_send, players, self.feeds, period=session.audio.hop / 48000, clock=clock)
        status = self.source.status if self.source else InputStatus(device="no audio players", state="-")
        self.film_clock = FilmClock(clock, playing=False)
        self.app = StageApp(players, self.feeds, status, film=None,
                            film_clock=self.film_clock, film_info=self.film.info, loop=self.film.loop,
                            timecode=self.film.tc, cues=self.film.cues, switch=session.film.switch,
                            options=options, clock=clock, trace_path=trace_path,
                            analysis=self.analysis, film_factory=self._refilm, midi_inputs=self.midi,
                            controls=self.controls, midi_control=self.midi_control, chase=self.chase,
                            osc=(self.osc_in, self.osc_out) if (self.osc_in or self.osc_out) else None)
        x, y, w, h = fit_rect(self.film.info.aspect, self.app.size)
        self.player = start_film(self.film, (w, h))
        self._players = [self.player]
        self.app.film = self.player
        self.sound = None
        self._sound_starting = False
        if session.film.sound and self.film.info.has_audio:
            self.toggle_sound()
        import pygame
        self.app.on_key[pygame.K_m] = self.toggle_sound

    def _refilm(self, size, seq, loop=None):
        """A film player for ``loop`` (a cue's) at a picture size, decoding from ``seq`` on;
        returned at once: the app goes on showing the old one until the new one's head is
        decoded (after a resize, or before a cue switch)."""
        new = start_film(self.film, size, start_seq=seq, wait=0, loop=loop)
        self._players.append(new)
        return new

    def toggle_sound(self):
        """The film's own sound on or off (M). Decoding the loop's sound takes a moment, so it
        happens on a thread of its own: the picture never waits for it."""
        if not self.film.info.has_audio or self._sound_starting:
            return
        if self.sound is not None:
            sound, self.sound = self.sound, None
            threading.Thread(target=sound.stop, name="stage-film-sound-stop", daemon=True).start()
            return
        self._sound_starting = True

        def start():
            from .film.sound import FilmSound
            try:
                self.sound = FilmSound(self.film.info, self.film.loop, self.film_clock,
                                       self.session.audio.output).start()
            except Exception as e:      # no output device: the picture goes on
                print(f"stage: film sound unavailable: {e}", file=sys.stderr)
            finally:
                self._sound_starting = False
        threading.Thread(target=start, name="stage-film-sound", daemon=True).start()

    def run(self, seconds=None, snapshot=None) -> dict:
        from .audio.devices import DeviceError
        if self.source is not None:
            self.analysis.start()
            try:
                self.source.start()
            except DeviceError as e:
                self.stop()
                key = "audio.samplerate" if "Hz" in str(e) and self.session.audio.samplerate else "audio.input"
                raise self.session.error(key, str(e)) from None
        for m in self.midi:
            m.start()
        sync = self.session.sync
        if sync.mtc_out or sync.clock_out:
            from .midi.inputs import open_virtual_output
            from .midi.mtc import MidiClockSender, MtcSender
            ports = {}
            for name in {sync.mtc_out, sync.clock_out} - {None}:
                ports[name] = open_virtual_output(name)           # one port when both name the same
            if sync.mtc_out:
                self.mtc_sender = MtcSender(ports[sync.mtc_out], self.film_clock, self.film.info.fps,
                                            self.film.loop[0], self.film.tc.start).start()
                self.app.mtc_sender = self.mtc_sender
            if sync.clock_out:
                bpm = sync.clock_bpm or next((c.tempo for c in self.session.cues if c.tempo), None) or 120.0
                self.clock_sender = MidiClockSender(ports[sync.clock_out], self.film_clock, bpm).start()
        for o in (self.osc_in, self.osc_out):
            if o is not None:
                o.start()
        self.film_clock.restart(0.0)
        if self.chase is None:              # chasing MTC, the film waits for the code
            self.film_clock.play()
        try:
            return self.app.run(seconds, snapshot)
        finally:
            self.stop()

    def stop(self):
        t_end = time.monotonic() + 5
        while self._sound_starting and time.monotonic() < t_end:    # let a starting film sound finish
            time.sleep(0.01)
        if self.sound is not None:
            self.sound.stop()
        for m in self.midi:
            m.stop()
        for o in (self.osc_in, self.osc_out, self.mtc_sender, self.clock_sender):
            if o is not None:
                o.stop()
        if self.source is not None:
            self.source.stop()
            self.analysis.stop()
        for p in self._players:
            p.decoder.stop()
        self.app.close()
