"""A show, put together from a session: sources -> analysis -> feeds -> renderer, with the
transport beside them.

:class:`Show` is a list of parts, each with a dry run (``check``: is what it needs there?),
``start`` and ``stop``. ``start`` starts them in order and, when one fails, stops the ones
already started, in reverse, before the error goes on; ``stop`` stops them all in reverse.
``stage check`` is the dry run of the same parts, so it can never disagree with ``stage run``.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field

from . import clock as _clock

SCAN_FRAMES = 30_000         # `stage check` decodes at most this many frames of the loops (20 min at 24 fps)


@dataclass
class Part:
    name: str
    start: object = None        # () -> None
    stop: object = None         # () -> None
    check: object = None        # () -> list of lines saying what it will use
    started: bool = field(default=False, repr=False)


class Show:
    """Everything a run needs. Nothing is opened until ``start`` (or ``run``)."""

    def __init__(self, session, options, play_out: bool = True, trace_path=None, clock=None, stall=None,
                 record: bool = False, ghost_take=None, takes_dir=None):
        self.session, self.opt, self.play_out, self.trace_path = session, options, play_out, trace_path
        self.record, self.ghost_take, self.takes_dir = record, ghost_take, takes_dir
        self.recorder = None
        self.ghost = None
        self.midi_log = None
        self.clock = clock or _clock.now
        from .faults import draw_stall
        self.stall = stall or draw_stall()
        self.film = None
        self.feeds = []
        self.source = self.analysis = None
        self.midi = []
        self.midi_control = None
        self.mtc_reader = self.chase = None
        self.mtc_sender = self.clock_sender = None
        self.osc_in = self.osc_out = None
        self.window = self.renderer = self.pacer = None
        self.director = self.controller = None
        self.sound = None
        self._sound_starting = False
        self.transport = None
        self.controls = None
        self.parts = self._parts()

    # -- the parts, in the order they start
    def _parts(self) -> list[Part]:
        s = self.session
        parts = [Part("film", self._open_film, None, self._check_film),
                 Part("feeds", self._make_feeds)]
        audio = any(not p.is_midi for p in s.players)
        if audio:
            parts.append(Part("audio", self._open_audio, self._close_audio, self._check_audio))
        else:                # a session of MIDI players opens no audio input at all
            parts.append(Part("audio", check=lambda: ["audio    none (every player is a MIDI player)"]))
        parts.append(Part("control", self._make_control, None, self._check_control))
        if self._midi_ports():
            parts.append(Part("midi", self._start_midi, self._stop_midi, self._check_midi))
        if s.control.osc_listen:
            parts.append(Part("osc in", self._start_osc_in, self._stop_osc_in, self._check_osc_in))
        parts += [Part("window", self._open_window, self._close_window),
                  Part("director", self._start_director, self._stop_director)]
        if s.sync.mtc_out or s.sync.clock_out:
            parts.append(Part("sync out", self._start_sync_out, self._stop_sync_out, self._check_sync_out))
        if s.control.osc_send:
            parts.append(Part("osc out", self._start_osc_out, self._stop_osc_out))
        parts += [Part("recorder", self._start_recorder, self._stop_recorder, self._check_recorder),
                  Part("controller", self._start_controller, self._stop_controller),
                  Part("sound", self._start_sound, self._stop_sound)]
        if audio:            # last: a recorded performance starts with the picture, as it was played to it
            parts.append(Part("audio in", self._start_audio, self._stop_audio))
        return parts

    # -- lifecycle
    def check(self) -> list[str]:
        """The dry run: every part says what it will use, or raises naming the session key."""
        lines = []
        for part in self.parts:
            if part.check is not None:
                lines += part.check()
        return lines

    def start(self) -> "Show":
        from .audio import devices
        from .memory import keep_big_blocks_mapped
        keep_big_blocks_mapped()         # a closed film player's frames go back to the system
        for part in self.parts:
            try:
                if part.start is not None:
                    part.start()
                part.started = True
            except BaseException:
                self.stop()
                raise
        devices.let_go()                 # no PortAudio of our own unless a stream of ours needs it
        return self

    def stop(self) -> None:
        errors = []
        for part in reversed(self.parts):
            if not part.started:
                continue
            part.started = False
            if part.stop is None:
                continue
            try:
                part.stop()
            except Exception as e:         # stop the rest all the same
                errors.append(f"{part.name}: {e}")
        for e in errors:
            print(f"stage: while stopping, {e}", file=sys.stderr)

    stop_asked = None        # why the run was asked to end early (a signal's name), or None

    def request_stop(self, why: str = "asked") -> None:
        """End the run cleanly at the next frame: the draw loop leaves, and ``run`` stops every part
        (streams closed, takes finished, MTC and MIDI clock stopped). Safe from a signal handler
        or any thread: it only sets flags."""
        self.stop_asked = why
        if self.window is not None:
            self.window.running = False

    def run(self, seconds=None, snapshot=None) -> dict:
        self.start()
        try:
            if self.stop_asked:                    # asked while the parts were starting
                self.window.running = False
            t0 = self.clock()
            self.transport.restart(t0, playing=self.chase is None)  # chasing MTC, the film waits for the code
            if self.record:
                self.recorder.start(at=t0)                           # armed from the start: --record
            stats = self.pacer.run(seconds, snapshot)
        finally:
            self.stop()
        return self._stats(stats)

    # -- film
    def _open_film(self):
        from .runtime import open_film
        self.film = open_film(self.session)
        fi = self.film.info
        if fi.truncated_at is not None:
            print(f"stage: warning: {fi.path} is truncated: its data stops at {self.film.tc.label(fi.truncated_at)} "
                  f"(frame {fi.truncated_at} of {fi.frames})", file=sys.stderr)
        from .film.transport import Transport
        self.transport = Transport(self.film.info.fps, self.film.cues[0].loop, clock=self.clock)

    def _check_film(self) -> list[str]:
        from .runtime import open_film
        s = self.session
        film = self.film or open_film(s)
        fi, tc = film.info, film.tc
        lines = [f"film     {fi.path}  {fi.width}x{fi.height}  {float(fi.fps):.3f} fps  aspect {fi.aspect:.2f}:1  "
                 f"{fi.duration:.2f} s  sound {'on' if s.film.sound else 'muted'}"
                 f"{'' if fi.has_audio else ' (none in file)'}",
                 f"timecode {tc.label(0)} at the first frame, {'drop-frame' if tc.drop_frame else 'non-drop'} "
                 f"({tc.describe_source()})"]
        if fi.truncated_at is not None:
            lines.append(f"warning  {fi.path.name} is truncated: its data stops at {tc.label(fi.truncated_at)} "
                         f"(frame {fi.truncated_at} of {fi.frames})")
        for i, cue in enumerate(film.cues):
            a, b = cue.loop
            hits = "".join(f"  hit {tc.label(h.frame)} {h.label}".rstrip() for h in cue.hits)
            lines.append(f"cue {i + 1:<4} {cue.name}: {tc.label(a)} - {tc.label(b)}  ({b - a} frames, "
                         f"{(b - a) / float(fi.fps):.2f} s){hits}")
        lines.append(self._check_frames(film))
        d = s.display
        lines.append(f"display  screen {d.screen}  {'full-screen' if d.fullscreen else 'windowed'}  "
                     f"{'%dx%d' % d.size if d.size else 'screen size'}  {d.fps} fps  vsync {'on' if d.vsync else 'off'}")
        return lines

    def _check_frames(self, film) -> str:
        """Every frame of every cue's loop decoded, as the show will: damage is refused here,
        naming the frames, rather than held over on stage."""
        from .film.decoder import scan_loop
        fi, tc = film.info, film.tc
        t0, total, left = time.monotonic(), 0, SCAN_FRAMES
        for i, cue in enumerate(film.cues):
            a, b = cue.loop
            b = min(b, a + left)
            for d in scan_loop(fi, a, b) if b > a else ():
                raise self.session.error(
                    "film.file", f"{fi.path}: cue {i + 1} {cue.name!r}: frames {tc.label(d.first)}-{tc.label(d.last)} "
                    f"({d.first}-{d.last}) cannot be shown: {d.why}; on stage the last good frame would be held "
                    f"over them: export or copy the film again")
            total += b - a
            left -= b - a
        every = sum(c.loop[1] - c.loop[0] for c in film.cues)
        what = "every frame of the loops decodes" if total == every else \
            f"the loops' first {total} of {every} frames decode (the rest is not checked)"
        return f"film     {what} ({total} frames in {time.monotonic() - t0:.1f} s)"

    # -- players' feeds
    def _make_feeds(self):
        from .audio.state import PlayerFeed
        from .midi.players import MidiFeed
        self.feeds = [MidiFeed(p.name, p.midi_channel, p.bend_range) if p.is_midi else PlayerFeed(p.name)
                      for p in self.session.players]

    # -- audio in and its analysis
    def _audio_players(self):
        return [(p, f) for p, f in zip(self.session.players, self.feeds) if not p.is_midi]

    def _open_audio(self):
        """The input (or recording) found and its ring made, the analysis made: nothing runs yet."""
        from .audio.engine import AnalysisThread
        from .runtime import check_channels, open_source
        s = self.session
        self.source = open_source(s, self.play_out)
        check_channels(s, self.source)
        shared = getattr(self.source, "feeds", None)
        if shared:                          # analysed in the capture process: its feeds are the players'
            it = iter(shared)
            self.feeds = [f if p.is_midi else next(it) for p, f in zip(s.players, self.feeds)]
            return
        audio = self._audio_players()
        self.analysis = AnalysisThread(self.source.ring, [p for p, _ in audio], [f for _, f in audio],
                                       [p.channel - 1 for p, _ in audio], s.audio.hop,
                                       self.source.doorbell, self.source.status, clock=self.clock)

    def _close_audio(self):
        if self.source is not None:
            self.source.close()

    def _start_audio(self):
        from .audio.devices import DeviceError
        s = self.session
        if self.analysis is not None:
            self.analysis.start()
        try:
            self.source.start()
        except DeviceError as e:
            if self.analysis is not None:
                self.analysis.stop()
            from .runtime import device_key
            raise s.error(device_key(s, e.setting), str(e)) from None

    def _stop_audio(self):
        if self.analysis is not None:        # the reader first: the ring and its doorbell go with the input
            self.analysis.stop()
        if self.source is not None:
            self.source.stop()

    def _check_audio(self) -> list[str]:
        from .audio.analysis import AnalysisSettings, PitchTracker
        from .audio.devices import DeviceError, resolve, sd
        from .music import note_name
        s, a = self.session, self.session.audio
        lines = []
        if a.file is not None:
            import soundfile as sf
            info = sf.info(str(a.file))
            lines.append(f"audio    recording {a.file}  {info.channels} ch  {info.samplerate} Hz  "
                         f"{info.duration:.1f} s  block {a.blocksize}  hop {a.hop}")
            nch = info.channels
        else:
            from .audio.devices import period, rates, refusal
            from .runtime import device_key
            need = max(p.channel for p in s.players if not p.is_midi)
            try:
                dev = resolve(a.input, "inputs", need)
            except DeviceError as e:
                raise s.error(device_key(s, e.setting), str(e)) from None
            sr = a.samplerate or int(dev["samplerate"])
            try:
                sd.check_input_settings(device=dev["index"], channels=need, samplerate=sr, dtype="float32")
            except (sd.PortAudioError, ValueError) as e:
                r = refusal(dev, sr, need, a.blocksize, e)
                raise s.error(device_key(s, r.setting), str(r)) from None
            lines.append(f"audio    input [{dev['index']}] {dev['name']} ({dev['hostapi']})  {dev['inputs']} ch  "
                         f"{sr} Hz  block {a.blocksize}  hop {a.hop}")
            lines.append(f"audio    the input accepts {', '.join(map(str, rates(dev)))} Hz, up to {dev['inputs']} "
                         f"input channels" + (f"; JACK's period is {period(dev)} frames" if period(dev) else ""))
            nch = dev["inputs"]
        for i, p in enumerate(s.players):
            if p.is_midi:
                continue
            if p.channel > nch:
                raise s.error(f"players[{i}].channel",
                              f"channel {p.channel} does not exist: the input has {nch} channel(s) (1-{nch})")
            spans = PitchTracker(48000, a.hop, p.lowest, p.highest, AnalysisSettings()).windows
            lines.append(f"player   {p.name:<12} channel {p.channel}  {note_name(p.lowest)}-{note_name(p.highest)} "
                         f"concert{self._written(p)}  colour #{'%02x%02x%02x' % p.colour}  gain {p.gain_db:+g} dB  "
                         f"noise floor {p.noise_floor:g} dBFS  pitch windows {'/'.join(map(str, spans))} @48k")
        return lines

    @staticmethod
    def _written(p) -> str:
        return f", shown written ({p.transpose:+d} st)" if p.transpose else ""

    # -- control in: the queue, a MIDI controller, the MTC chase
    def _make_control(self):
        from .control.actions import ControlQueue
        s = self.session
        ctl = s.control
        self.controls = ControlQueue(self.clock, cues=len(s.cues))    # a cue number past the last is refused
        if ctl.midi:
            from .control.midi import DEFAULT_MAP, MidiControl
            self.midi_control = MidiControl(ctl.maps or DEFAULT_MAP, self.controls, f"midi {ctl.midi}",
                                            on_learn=self._save_learned)
        if s.sync.mtc_in:
            from .midi.mtc import MtcChase, MtcReader
            self.mtc_reader = MtcReader()
            self.chase = MtcChase(self.mtc_reader, self.film.info.fps, self.film.tc.start, s.sync.mtc_rate)

    learn_error = ""

    def _save_learned(self, mapping) -> None:
        """A mapping learned live goes into the session file (off the MIDI thread); a file that
        cannot be written says so in the HUD, and the mapping still works for this run."""
        from .control.midi import append_mapping
        from .session import SessionError
        try:
            append_mapping(self.session.path, mapping)
            self.learn_error = ""
        except (SessionError, OSError) as e:
            self.learn_error = f"not saved: {e}"

    def _check_control(self) -> list[str]:
        c = self.session.control
        lines = []
        if c.midi:
            lines.append(f"control  MIDI {c.midi!r}: {len(c.maps) or 1} mapping(s)")
        return lines

    # -- MIDI in: players, the control port, MTC
    def _midi_ports(self) -> dict[str, str]:
        """Each MIDI input port the session names, with the key that names it."""
        s = self.session
        ports = {}
        for i, p in enumerate(s.players):
            if p.is_midi:
                ports.setdefault(p.midi, f"players[{i}].midi")
        if s.control.midi:
            ports.setdefault(s.control.midi, "control.midi")
        if s.sync.mtc_in:
            ports.setdefault(s.sync.mtc_in, "sync.mtc_in")
        return ports

    def _check_midi(self) -> list[str]:
        from .midi.inputs import MidiPortError, find_port
        from .music import note_name
        s = self.session
        lines, found = [], {}
        for spec, key in self._midi_ports().items():
            try:
                found[spec] = find_port(spec)[2]
            except MidiPortError as e:
                raise s.error(key, str(e)) from None
        for p in s.players:
            if p.is_midi:
                ch = f"channel {p.midi_channel}" if p.midi_channel else "all channels"
                lines.append(f"player   {p.name:<12} MIDI {found[p.midi]!r} {ch}  {note_name(p.lowest)}-"
                             f"{note_name(p.highest)} concert{self._written(p)}  colour #{'%02x%02x%02x' % p.colour}  "
                             f"bend +/-{p.bend_range:g} st")
        if s.sync.mtc_in:
            lines.append(f"sync     chasing MTC from {found[s.sync.mtc_in]!r}")
        return lines

    def _start_midi(self):
        from .midi.inputs import MidiPortError, open_midi_inputs
        s = self.session
        listeners = [(s.control.midi, self.midi_control)] if self.midi_control else []
        if self.mtc_reader is not None:
            listeners.append((s.sync.mtc_in, self.mtc_reader))
        from .midi.inputs import MidiLog
        self.midi_log = MidiLog()            # every message received, for the recorder
        self.midi = open_midi_inputs(s.players, self.feeds, listeners, self.clock, log=self.midi_log)
        keys = self._midi_ports()
        for m in self.midi:
            try:
                m.start()
            except MidiPortError as e:
                raise s.error(keys[m.spec], str(e)) from None

    def _stop_midi(self):
        for m in self.midi:
            m.stop()

    # -- OSC
    def _check_osc_in(self) -> list[str]:
        import socket
        host, port = self.session.control.osc_listen
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.bind((host, port))
        except OSError as e:
            raise self.session.error("control.osc_listen", f"cannot listen on {host}:{port}: {e.strerror}") from None
        where = (" (this machine only; osc_listen = \"0.0.0.0:PORT\" listens on the network)"
                 if host in ("127.0.0.1", "localhost", "::1") else " (open to the network)")
        return [f"control  OSC in on {host}:{port}{where}"]

    def _start_osc_in(self):
        from .control.osc import OscControl
        host, port = self.session.control.osc_listen
        try:
            self.osc_in = OscControl(host, port, self.controls).start()
        except OSError as e:
            raise self.session.error("control.osc_listen", f"cannot listen on {host}:{port}: {e.strerror}") from None

    def _stop_osc_in(self):
        self.osc_in.stop()

    def _start_osc_out(self):
        from .control.osc import OscOut
        s = self.session
        self.osc_out = OscOut(s.control.osc_send, s.players, self.feeds, period=s.audio.hop / 48000,
                              clock=self.clock, transport=self.transport, tc=self.film.tc).start()

    def _stop_osc_out(self):
        self.osc_out.stop()

    # -- the picture
    def _open_window(self):
        from .render.pacer import FramePacer
        from .render.scene import Renderer
        from .render.window import Window
        self.window = Window(self.opt, self.film.info.fps)
        from .render.ghost import GhostStore
        self.ghost = GhostStore.from_take(self.ghost_take) if self.ghost_take else GhostStore()
        self.renderer = Renderer(self.session.players, self.feeds, self.film, None, self.transport, self.opt,
                                 hud_lines=self.hud_lines, ghost=self.ghost)
        self.renderer.resize(self.window.size)
        self.pacer = FramePacer(self.window, self.renderer, self.controls, view=lambda: self.controller.view,
                                pending=lambda: self.director.pending, on_resize=self._resized, fps=self.opt.fps,
                                clock=self.clock, trace_path=self.trace_path, stall=self.stall)

    def _close_window(self):
        self.window.close()
        if self.renderer is not None:      # its fonts hold their file open until let go of
            self.renderer.text.close()

    def _resized(self, size):
        """Full-screen toggled: lay the picture out again; the director re-decodes the film at the
        new size (the controller thread does it, the draw loop only asks)."""
        self.renderer.resize(size)
        self.director.want_size(self.renderer.film_size())

    def _start_director(self):
        from .film.director import CueDirector
        self.director = CueDirector(self.film, self.transport, self.renderer.film_size(), self.session.film.switch,
                                    clock=self.clock).start()
        self.renderer.director = self.director
        self.renderer.film_layer.director = self.director

    def _stop_director(self):
        self.director.stop()

    # -- timecode and clock out
    def _check_sync_out(self) -> list[str]:
        y = self.session.sync
        lines = []
        if y.mtc_out:
            tc = self.film.tc
            lines.append(f"sync     MTC out on a port named {y.mtc_out!r} at {float(tc.fps):g} fps"
                         f"{' drop-frame' if tc.drop_frame else ''}")
        if y.clock_out:
            lines.append(f"sync     MIDI clock out on a port named {y.clock_out!r} at {self._bpm(0):g} bpm")
        return lines

    def _bpm(self, cue: int) -> float:
        y = self.session.sync
        if y.clock_bpm:
            return y.clock_bpm
        tempo = self.film.cues[cue].tempo if self.film and 0 <= cue < len(self.film.cues) else None
        return tempo or next((c.tempo for c in self.session.cues if c.tempo), None) or 120.0

    def _start_sync_out(self):
        from .midi.inputs import MidiPortError, open_virtual_output
        from .midi.mtc import MidiClockSender, MtcSender
        y = self.session.sync
        ports = {}
        for name, key in ((y.mtc_out, "sync.mtc_out"), (y.clock_out, "sync.clock_out")):
            if name and name not in ports:
                try:
                    ports[name] = open_virtual_output(name)        # one port when both name the same
                except MidiPortError as e:
                    raise self.session.error(key, str(e)) from None
        self._ports = list(ports.values())
        if y.mtc_out:
            self.mtc_sender = MtcSender(ports[y.mtc_out], self.transport, self.film.tc, clock=self.clock).start()
        if y.clock_out:
            self.clock_sender = MidiClockSender(ports[y.clock_out], self.transport, self._bpm, clock=self.clock).start()

    def _stop_sync_out(self):
        for s in (self.mtc_sender, self.clock_sender):
            if s is not None:
                s.stop()
        for p in getattr(self, "_ports", []):
            try:
                p.close()
            except Exception:
                pass

    # -- takes
    def _takes_dir(self):
        from .takes import default_takes_dir
        t = self.session.takes
        return self.takes_dir or t.folder or default_takes_dir(self.session.path)

    def _check_recorder(self) -> list[str]:
        from .takes import TakeError, check_can_record
        t = self.session.takes
        where = self._takes_dir()
        if self.record:                       # refused before anything starts: a folder we cannot use
            ch = max([p.channel for p in self.session.players if not p.is_midi] or [1])
            try:
                check_can_record(where, ch, self.session.audio.samplerate or 48000, t.keep_free_minutes)
            except TakeError as e:
                raise self.session.error("takes.folder", str(e)) from None
        return [f"takes    {where}  (R records; at least {t.keep_free_minutes:g} min of room asked for)"]

    def _start_recorder(self):
        from .takes import find_unfinished, repair_take
        from .takes.recorder import Recorder
        where = self._takes_dir()
        self._check_recorder()
        try:
            unfinished = find_unfinished(where) if where.is_dir() else []
        except OSError:
            unfinished = []
        for folder in unfinished:                       # what a crash left: made whole, and said
            for what in repair_take(folder):
                print(f"stage: repaired {folder.name}: {what}", file=sys.stderr)
        devices = {"input": self.source.status.device} if self.source is not None else {}
        self.recorder = Recorder(self.session, self.source, self.session.players, self.feeds, self.transport,
                                 self.film, self.midi_log, view=lambda: self.controller.view if self.controller
                                 else None, ghost=self.ghost, takes_dir=where, clock=self.clock,
                                 devices=devices).run()

    def _stop_recorder(self):
        self.recorder.close()

    # -- the controller: the one thread that acts
    def _start_controller(self):
        from .control.controller import Controller, ViewState
        self.controller = Controller(self.controls, self.transport, self.director, self.chase,
                                     sound_toggle=self.toggle_sound, midi_control=self.midi_control,
                                     view=ViewState(view=self.opt.mode, hud=self.opt.hud), clock=self.clock,
                                     recorder=self.recorder).start()

    def _stop_controller(self):
        self.controller.stop()

    # -- the film's own sound
    def _start_sound(self):
        if self.session.film.sound and self.film.info.has_audio:
            self.toggle_sound()

    def _stop_sound(self):
        t_end = time.monotonic() + 5
        while self._sound_starting and time.monotonic() < t_end:    # let a starting film sound finish
            time.sleep(0.01)
        if self.sound is not None:
            self.director.sound = None
            self.sound.stop()
            self.sound = None

    def toggle_sound(self):
        """The film's own sound on or off (M). Opening it takes a moment, so it happens on a
        thread of its own: the picture never waits for it."""
        if not self.film.info.has_audio or self._sound_starting:
            return
        if self.sound is not None:
            sound, self.sound = self.sound, None
            self.director.sound = None
            threading.Thread(target=sound.stop, name="stage-film-sound-stop", daemon=True).start()
            return
        self._sound_starting = True

        def start():
            from .film.sound import FilmSound
            try:
                sound = FilmSound(self.film.info, self.transport, self.session.audio.output)
                cues = {self.transport.at().cue} | ({self.director.pending.cue} if self.director.pending else set())
                for c in cues:
                    sound.prepare(c, self.film.cues[c].loop)
                self.sound = sound.start()
                self.director.sound = self.sound
            except Exception as e:      # no output device: the picture goes on
                print(f"stage: film sound unavailable: {e}", file=sys.stderr)
            finally:
                self._sound_starting = False
        threading.Thread(target=start, name="stage-film-sound", daemon=True).start()

    # -- what the operator reads
    def hud_lines(self, fs, projector=None):
        from .render.pacer import percentile
        lines = []
        pos, film = fs.pos, self.film
        if pos is not None and film is not None:
            tc = film.tc
            lines.append((tc.label(pos.frame), 1.6, (255, 255, 255)))
            lines.append((f"{'PLAY' if pos.playing else 'PAUSE'}  pass {pos.pass_no}  {pos.offset:5.1f} / "
                          f"{pos.pass_seconds:.1f} s  loop {tc.label(pos.loop_in)}-{tc.label(pos.loop_in + pos.length)}",
                          0.8, (220, 220, 220)))
            cues = film.cues
            if len(cues) > 1 or cues[0].hits:
                nxt = ""
                if fs.pending is not None:
                    when = "at once" if fs.pending.at_once else "at end of pass"
                    nxt = f"   next: {fs.pending.cue + 1} {cues[fs.pending.cue].name} ({when})"
                lines.append((f"cue {pos.cue + 1}/{len(cues)} {cues[pos.cue].name}{nxt}", 1.0, (255, 230, 120)))
            pl = self.director.player_for(pos.cue) if self.director else None
            if pl is not None and pl.decoder.error:
                held = f"  ({pl.decoder.held} frames held)" if pl.decoder.held else ""
                lines.append((f"FILM: {pl.decoder.error}{held}", 0.8, (255, 100, 90)))
        if projector:
            lines.append((f"projector: {projector}", 1.0,
                          (255, 120, 200) if fs.view.view == "performance" else (160, 220, 255)))
        st = self.source.status if self.source is not None else None
        pacer = self.pacer
        if st is not None:
            gaps = getattr(st, "gaps", [])
            back = (f"   reconnected {st.reconnects}x, {sum(b - a for a, b in gaps):.1f} s lost"
                    if getattr(st, "reconnects", 0) else "")
            lines.append((f"input {st.device}: {st.state}   blocks {st.blocks}   overruns {st.overruns}{back}", 0.8,
                          (255, 110, 90) if st.state.startswith("lost") else (220, 220, 220)))
        lat = percentile(pacer.recent_latencies, 50) if pacer else None
        cpu = ""
        busy = self.analysis.busy_s if self.analysis is not None else getattr(st, "analysis_busy_s", 0.0)
        if busy and pacer and len(pacer.present_times) > 1 and pacer.t_start is not None:
            elapsed = max(1e-3, pacer.present_times[-1] - pacer.t_start)
            cpu = f"   analysis {100 * busy / elapsed:.1f}% CPU"
        dropped = self.renderer.film_layer.dropped if self.renderer else 0
        lines.append((f"dropped frames {dropped}   late draws {pacer.frames_late if pacer else 0}   latency "
                      f"{'%.1f ms' % (lat * 1000) if lat is not None else '-'}{cpu}", 0.8, (220, 220, 220)))
        for m in self.midi:
            lines.append((f"MIDI {m.port_name or m.spec}: {m.state}   messages {m.messages}   "
                          f"reconnects {m.reconnects}", 0.8, (255, 110, 90) if m.state == "lost" else (220, 220, 220)))
        if self.osc_in is not None or self.osc_out is not None:
            parts = []
            if self.osc_in is not None:
                o = self.osc_in
                parts.append(f"OSC in {o.address[0]}:{o.address[1]}  packets {o.received}  acted {o.accepted}  "
                             f"unknown {o.unknown}  malformed {o.malformed}  bad args {o.bad_args}  "
                             f"flood dropped {o.flood + o.kernel_dropped}")
            if self.osc_out is not None:
                parts.append(f"OSC out sent {self.osc_out.sent}")
            lines.append(("   ".join(parts), 0.8, (220, 220, 220)))
        if self.chase is not None:
            lines.append((f"MTC in: {self.chase.state}  error {self.chase.last_error_frames:+.2f} fr  "
                          f"locks {self.chase.locks}  cycles {self.mtc_reader.cycles}", 0.8,
                          (120, 255, 160) if self.chase.state == "locked" else (255, 200, 90)))
        if self.mtc_sender is not None:
            lines.append((f"MTC out: quarter frames {self.mtc_sender.sent}  full frames {self.mtc_sender.full_frames}",
                          0.8, (220, 220, 220)))
        rec = self.recorder.hud() if self.recorder is not None else ""
        if rec:                              # red while recording; amber when the take is in trouble
            lines.append((rec, 1.0, (255, 200, 60) if self.recorder.in_trouble else (255, 70, 70)))
        v = fs.view
        if v.learn:
            lines.append((f"MIDI LEARN: send a note or CC for '{v.learn}'  (L: next action)", 0.9, (120, 255, 160)))
        elif v.learned:
            lines.append((f"learned: {v.learned} " + (f"({self.learn_error})" if self.learn_error else "(saved)"),
                          0.9, (255, 110, 90) if self.learn_error else (120, 255, 160)))
        if v.markers and film is not None:
            lines.append((f"markers {len(v.markers)}, last at {film.tc.label(v.markers[-1][0])}", 0.8, (255, 230, 120)))
        if self.renderer is not None:
            for lv in self.renderer.lanes.lanes:
                lines.append((f"{lv.player.name}: {lv.meter_db:6.1f} dBFS  {lv.status}", 0.8, lv.player.colour))
        return lines

    def _film_decoder(self):
        """The decoder of the film player shown last (kept after the show has stopped)."""
        pl = self.renderer.film_layer.player if self.renderer is not None else None
        return pl.decoder if pl is not None else None

    def _stats(self, stats: dict) -> dict:
        st = self.source.status if self.source is not None else None
        view = self.controller.view if self.controller else None
        out = dict(stats)
        out.update({
            "audio_blocks": st.blocks if st else 0,
            "overruns": st.overruns if st else 0,
            "input_reconnects": getattr(st, "reconnects", 0) if st else 0,
            "input_gaps_s": round(sum(b - a for a, b in getattr(st, "gaps", [])), 3) if st else 0.0,
            "markers": [self.film.tc.label(f) for f, _ in (view.markers if view else ())],
            "controls": self.controls.received if self.controls else 0,
            "controls_rejected": (self.controls.unknown + self.controls.rejected) if self.controls else 0,
            "osc_in": dict(self.osc_in.counts) if self.osc_in is not None else None,
            "cue_switches": self.director.switches if self.director else 0,
            "film_error": self._film_decoder().error if self._film_decoder() else None,
            "film_held": self._film_decoder().held if self._film_decoder() else 0,
            "takes": [str(p) for p in self.recorder.takes] if self.recorder else [],
            "recording_lost_s": round(self.recorder.lost_frames / max(1, self.source.samplerate), 3)
            if self.recorder and self.source else 0.0,
            "players": {lv.player.name: {"status": lv.status,
                                         "note_hz": round(lv.shown_hz, 2) if lv.status == "pitch" else 0.0}
                        for lv in self.renderer.lanes.lanes} if self.renderer else {},
        })
        return out

