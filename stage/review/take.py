"""A take folder read back for review: what ``stage transcribe``, ``report`` and ``render`` use.

:func:`open_take` reads the manifest (stage.takes.manifest), and, where it can, the session
it names: the players as the session gives them (colours, transpositions, gains, noise
floors, MIDI channels) and the film with its cues (hit points, harmony). Where the session
cannot be loaded (moved, changed, its film gone) the take is still read, from the manifest
alone (``session_error`` says why): the players by name, channel or port and range, in the
default colours; the cue's loop from the manifest; no hit points or harmony.

**The film's place.** A take's analysis rows say which film frame was showing when each hop
was captured; the frame changes ``fps`` times a second while each row comes every 5.3 ms,
so the moment every frame began is known to a hop. :class:`FilmClock` fits that: one
*segment* for each stretch where the film ran (or stood) without a jump, ``seq = floor((t -
T) * fps)`` frames into the cue (passes counted), ``T`` found to a few milliseconds from
every row of the stretch. A MIDI-only take (no analysis rows) has one running segment from
the manifest's start frame.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..takes import TakeError
from ..takes import manifest as mf


@dataclass
class ReviewPlayer:
    """A player as the review needs it (the session's PlayerConfig has the same fields)."""
    name: str
    colour: tuple = (255, 176, 0)
    channel: int = 0
    lowest: int = 28
    highest: int = 108
    midi: str | None = None
    midi_channel: int | None = None
    bend_range: float = 2.0
    transpose: int = 0
    gain_db: float = 0.0
    noise_floor: float = -50.0

    @property
    def is_midi(self) -> bool:
        return self.midi is not None


@dataclass(frozen=True)
class Segment:
    t_from: float            # capture time it holds from
    t_to: float
    T: float                 # when frame seq 0 of the cue began, had the film run (a running segment)
    playing: bool
    seq: int = 0             # the frame held (a held segment)


@dataclass
class FilmClock:
    fps: float
    loop_in: int             # frames of the file
    length: int
    segments: list

    def seq_at(self, t: float) -> float:
        """Frames into the cue at capture time ``t`` (fractional while running)."""
        seg = self.segment_at(t)
        return (t - seg.T) * self.fps if seg.playing else float(seg.seq)

    def segment_at(self, t: float) -> Segment:
        for s in self.segments:
            if t < s.t_to:
                return s
        return self.segments[-1]

    def frame_at(self, t: float) -> int:
        """The file's frame showing at ``t``."""
        q = int(math.floor(self.seq_at(t) + 1e-9))
        return self.loop_in + q % self.length

    def pass_at(self, t: float) -> int:
        return int(math.floor(self.seq_at(t) + 1e-9)) // self.length + 1

    def film_s(self, t: float) -> float:
        """Seconds from the file's first frame (continuous within a frame)."""
        q = self.seq_at(t)
        return (self.loop_in + q % self.length) / self.fps

    def pass_start(self, pass_no: int) -> float:
        """When pass ``pass_no`` began (its loop in point), on the first running segment that holds it."""
        for s in self.segments:
            if s.playing:
                t = s.T + (pass_no - 1) * self.length / self.fps
                if s.t_from - 1.0 / self.fps <= t < s.t_to:
                    return t
        raise ValueError(f"pass {pass_no} does not begin inside the take")


def fit_film_clock(t: np.ndarray, seq: np.ndarray, fps: float, loop_in: int, length: int,
                   t0: float, seq0: int) -> FilmClock:
    """Segments from rows (capture time, frames into the cue); see the module's docstring."""
    if len(t) == 0:
        return FilmClock(fps, loop_in, length, [Segment(-math.inf, math.inf, t0 - (seq0 + 0.5) / fps, True)])
    order = np.argsort(t, kind="stable")
    t, seq = np.asarray(t, float)[order], np.asarray(seq, np.int64)[order]
    segs = []
    i, n = 0, len(t)
    while i < n:
        lo, hi = -math.inf, math.inf
        j = i
        while j < n:
            a, b = t[j] - (seq[j] + 1) / fps, t[j] - seq[j] / fps
            if max(lo, a) > min(hi, b) + 1e-6:
                break
            lo, hi = max(lo, a), min(hi, b)
            j += 1
        held = j - i >= 2 and seq[j - 1] == seq[i] and t[j - 1] - t[i] > 1.5 / fps
        if j < n and seq[j] == seq[j - 1]:
            # the film stood: a held segment while the frame does not change
            k = j
            while k < n and seq[k] == seq[j - 1]:
                k += 1
            if t[k - 1] - t[j - 1] > 1.5 / fps:
                segs.append(Segment(t[i], t[j - 1], 0.5 * (lo + hi), True))
                segs.append(Segment(t[j - 1], t[k - 1], 0.0, False, int(seq[j - 1])))
                i = k
                continue
        if held:
            segs.append(Segment(t[i], t[j - 1], 0.0, False, int(seq[i])))
        else:
            segs.append(Segment(t[i], t[j - 1], 0.5 * (lo + hi), True))
        i = j
    # every moment belongs to a segment: each runs until the next begins
    out = []
    for k, s in enumerate(segs):
        t_from = -math.inf if k == 0 else s.t_from
        t_to = math.inf if k == len(segs) - 1 else segs[k + 1].t_from
        out.append(Segment(t_from, t_to, s.T, s.playing, s.seq))
    return FilmClock(fps, loop_in, length, out)


@dataclass
class Take:
    folder: Path
    manifest: dict
    fps: Fraction
    tc: object                       # stage.film.timecode.TimecodeFormat (the film's own labels)
    loop: tuple                      # frames of the file [in, out)
    players: list
    session: object = None           # the loaded session, or None
    session_error: str | None = None
    film: object = None              # stage.runtime.Film (probed, cues resolved), or None
    film_error: str | None = None
    cue: object = None               # stage.runtime.Cue of the take, or None
    _analysis: dict = field(default_factory=dict)
    _clock: FilmClock | None = None

    # -- basics
    @property
    def t0(self) -> float:
        return float(self.manifest["start"]["monotonic_raw"])

    @property
    def samplerate(self) -> int:
        return int(self.manifest["samplerate"])

    @property
    def channels(self) -> int:
        return int(self.manifest["channels"])

    @property
    def seconds(self) -> float:
        return float(self.manifest.get("seconds") or 0.0)

    @property
    def name(self) -> str:
        return f"{self.manifest.get('cue', '')}-{self.manifest.get('take', '')}".strip("-") or self.folder.name

    def file(self, *keys) -> Path | None:
        d = self.manifest.get("files", {})
        for k in keys:
            d = d.get(k) if isinstance(d, dict) else None
        return self.folder / d if isinstance(d, str) else None

    def player(self, name: str):
        return next(p for p in self.players if p.name == name)

    # -- the recorded data
    def analysis(self, name: str) -> np.ndarray:
        """A player's analysis records (stage.takes.records.ANALYSIS_DTYPE); empty if none."""
        if name not in self._analysis:
            from ..takes.records import ANALYSIS_DTYPE
            path = self.file("analysis", name)
            if path is None or not path.exists():
                self._analysis[name] = np.zeros(0, ANALYSIS_DTYPE)
            else:
                try:
                    self._analysis[name] = np.load(path)
                except (OSError, ValueError) as e:
                    raise TakeError(self.folder, f"{path.name}: cannot be read as analysis records: {e}") from None
        return self._analysis[name]

    def audio(self) -> np.ndarray:
        """Every input channel, frames x channels, float32 (as captured)."""
        import soundfile as sf
        path = self.file("audio")
        if path is None or not path.exists():
            raise TakeError(self.folder, "its audio file (manifest key files.audio) is not there")
        try:
            data, _sr = sf.read(str(path), dtype="float32", always_2d=True)
        except RuntimeError as e:
            raise TakeError(self.folder, f"{path.name}: cannot be read as sound: {e}") from None
        return data

    def frame_times(self, n: int) -> np.ndarray:
        """Capture time of each of the audio file's first ``n`` frames: the take's start plus
        the frames before, and the gaps the manifest notes (a lost stretch is not in the file)."""
        times = self.t0 + np.arange(n) / self.samplerate
        for g in self.manifest.get("gaps", []) or []:
            f = int(g.get("audio_frame", n))
            times[f:] += float(g.get("seconds", 0.0))
        return times

    def midi_messages(self) -> list[tuple[float, str, bytes]]:
        """Every MIDI message received, (capture time, port, bytes), from the take's log."""
        from ..takes import smf
        path = self.file("midi_log")
        if path is None or not path.exists():
            return []
        msgs, _torn = smf.read_log(path.read_bytes())
        return msgs

    def player_messages(self, p) -> list[tuple[float, bytes]]:
        """A MIDI player's messages: its port (the name contains the player's ``midi``), its channel."""
        out = []
        for t, port, data in self.midi_messages():
            if p.midi.lower() not in port.lower() or not data:
                continue
            status = data[0]
            if status >= 0xF0 or status < 0x80:
                continue
            if p.midi_channel is not None and (status & 0x0F) != p.midi_channel - 1:
                continue
            out.append((t, data))
        return out

    @property
    def markers(self) -> list[dict]:
        return list(self.manifest.get("markers", []) or [])

    # -- the film's place
    @property
    def clock(self) -> FilmClock:
        if self._clock is None:
            ts, seqs = [], []
            length = self.loop[1] - self.loop[0]
            for p in self.players:
                if p.is_midi:
                    continue
                a = self.analysis(p.name)
                if len(a):
                    ts.append(a["t_capture"])
                    seqs.append((a["loop_pass"].astype(np.int64) - 1) * length + (a["frame"] - self.loop[0]))
            st = self.manifest["start"]
            seq0 = (int(st.get("pass", 1)) - 1) * length + int(st.get("frame", self.loop[0])) - self.loop[0]
            if ts and "frame" in st:            # the frame at the take's first sample, as the recorder read it
                ts.insert(0, np.array([self.t0]))
                seqs.insert(0, np.array([seq0], np.int64))
            self._clock = fit_film_clock(np.concatenate(ts) if ts else np.zeros(0),
                                         np.concatenate(seqs) if seqs else np.zeros(0, np.int64),
                                         float(self.fps), self.loop[0], length, self.t0, seq0)
        return self._clock

    def passes(self) -> list[tuple[int, float, float]]:
        """(pass number, first and last capture time in the take) of every pass the take holds."""
        c = self.clock
        end = self.t0 + self.seconds
        first, last = c.pass_at(self.t0), c.pass_at(max(self.t0, end - 1e-3))
        out = []
        for n in range(first, last + 1):
            a = self.t0 if n == first else max(self.t0, c.pass_start(n))
            b = end if n == last else c.pass_start(n + 1)
            out.append((n, a, b))
        return out


def _manifest_players(m: dict) -> list[ReviewPlayer]:
    from ..session.kinds import COLOURS, DEFAULT_COLOURS
    out = []
    for i, p in enumerate(m.get("players", [])):
        out.append(ReviewPlayer(str(p["name"]), COLOURS[DEFAULT_COLOURS[i % len(DEFAULT_COLOURS)]],
                                int(p.get("channel") or 0), int(p.get("lowest", 28)), int(p.get("highest", 108)),
                                p.get("midi")))
    return out


def open_take(folder, load_session: bool = True, open_film_file: bool = True) -> Take:
    """The take in ``folder``; TakeError (naming the folder and the key) when it cannot be read."""
    from ..film.timecode import TimecodeError, TimecodeFormat
    folder = Path(folder)
    if not folder.is_dir():
        raise TakeError(folder, "no such take folder")
    m = mf.read(folder)
    for key in ("samplerate", "channels", "start", "film", "files"):
        if key not in m:
            raise TakeError(folder, f"{mf.NAME}: key {key!r} is missing")
    film = m["film"]
    try:
        fps = Fraction(str(film["fps"])).limit_denominator(1001)
        drop = bool(film.get("drop_frame", False))
        base = TimecodeFormat(fps, drop)
        tc = TimecodeFormat(fps, drop, base.label_to_count(film.get("first_frame", "00:00:00:00")))
        loop = film.get("loop")
        loop = (tc.frame(loop[0]), tc.frame(loop[1])) if loop else (0, 1 << 30)
    except (TimecodeError, ValueError, TypeError, KeyError, ZeroDivisionError) as e:
        raise TakeError(folder, f"{mf.NAME}: key 'film': {e}") from None
    take = Take(folder, m, fps, tc, loop, _manifest_players(m))
    if load_session and m.get("session"):
        _attach_session(take, Path(m["session"]), open_film_file)
    elif load_session:
        take.session_error = "the manifest names no session"
    return take


def _attach_session(take: Take, path: Path, open_film_file: bool) -> None:
    from ..film.decoder import FilmError
    from ..session import SessionError, load_session
    try:
        s = load_session(path)
    except SessionError as e:
        take.session_error = f"the session {path} cannot be loaded: {e}"
        return
    by_name = {p.name: p for p in s.players}
    missing = [p.name for p in take.players if p.name not in by_name]
    if missing:
        take.session_error = (f"the session {path} no longer has the player(s) {', '.join(missing)}: "
                              f"the take's players are read from its manifest")
        return
    take.session = s
    take.players = [by_name[p.name] for p in take.players]
    if not open_film_file:
        return
    from ..runtime import open_film
    try:
        film = open_film(s)
    except (FilmError, SessionError) as e:
        take.film_error = str(e)
        return
    take.film = film
    i = int(take.manifest.get("cue_index", 0) or 0)
    if 0 <= i < len(film.cues) and film.cues[i].name == take.manifest.get("cue", film.cues[i].name):
        take.cue = film.cues[i]
    else:
        take.film_error = f"the session's cue {i + 1} is not the take's cue {take.manifest.get('cue')!r}"


def describe_sources(take: Take) -> list[str]:
    """What the review read, said once (for the commands to print)."""
    lines = []
    if take.session is not None:
        lines.append(f"session {take.session.path}: players, cue, hit points and harmony from it")
    else:
        lines.append(f"session not used ({take.session_error}); players from the take's manifest")
    if take.film_error:
        lines.append(f"film: {take.film_error}")
    return lines


def manifest_json(take: Take) -> str:
    return json.dumps(take.manifest, indent=2)
