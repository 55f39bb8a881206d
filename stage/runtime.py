"""A session's film resolved: the film probed, its timecode, the cues in frames; where its sound
comes from. (The show itself is put together in stage/show.py.)"""

from __future__ import annotations

from dataclasses import dataclass

from .film.decoder import FilmError, probe, resolve_loop
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
    tempo: float | None = None   # beats a minute, when the cue gives one (MIDI clock follows it)


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
    try:
        info = probe(session.film.path)
    except FilmError as e:               # the session's film.file is at fault: say where it is set
        raise session.error("film.file", str(e)) from None
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
        except FilmError as e:
            raise session.error(f"{pre}.{e.point or 'in'}", f"cue {c.name!r}: {e}") from None
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
                        c.title, c.tempo))
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


def device_key(session, setting: str) -> str:
    """The session key a device's refusal is reported against (DeviceError.setting): the rate
    asked for, the player whose channel is past the device's last, the block size, else the
    input itself."""
    a = session.audio
    if setting == "samplerate" and a.samplerate:
        return "audio.samplerate"
    if setting == "blocksize":
        return "audio.blocksize"
    if setting == "channels":
        audio = [(p.channel, i) for i, p in enumerate(session.players) if not p.is_midi]
        if audio:
            return f"players[{max(audio)[1]}].channel"
    return "audio.input"


def open_source(session, play_out: bool = True):
    """The session's sound: a recorded performance if audio.file is set, else the live input.
    A device that is not there is reported against the session's audio.input."""
    from .audio.devices import DeviceError
    a = session.audio
    if a.file is not None:
        from .audio.sources import Playback
        return Playback(a.file, a.blocksize, a.output, play_out=play_out)
    channels = max(p.channel for p in session.players if not p.is_midi)
    import os
    if os.environ.get("STAGE_CAPTURE") == "thread":     # the callback in this process (to measure against)
        from .audio.sources import LiveInput as Input
    else:                                              # the callback in a process of its own
        from .audio.capture import CaptureInput as Input
    try:
        if Input.__name__ == "CaptureInput":          # its process analyses the players too
            return Input(a.input, a.samplerate, a.blocksize, channels, players=session.players, hop=a.hop)
        return Input(a.input, a.samplerate, a.blocksize, channels)
    except DeviceError as e:
        raise session.error(device_key(session, e.setting), str(e)) from None


def check_channels(session, source):
    for p in session.players:
        if not p.is_midi and p.channel > source.ring.channels:
            raise session.error(f"players[{session.players.index(p)}].channel",
                                f"channel {p.channel} does not exist: the input has {source.ring.channels} "
                                f"channel(s) (1-{source.ring.channels})")
