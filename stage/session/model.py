"""Session files: what a music director writes, checked with errors that name file, line and key.

Example (see assets/example_session.toml for the full commented version)::

    [film]
    file = "demo_film.mp4"
    in = "00:00:00:00"
    out = 30.0

    [audio]
    input = "Scarlett"      # part of the device name, or its index
    samplerate = 48000
    blocksize = 256

    [[players]]
    name = "Trumpet"
    colour = "#ffb000"
    channel = 1
    lowest = "E3"
    highest = "C6"
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..music import NoteError, parse_note

COLOURS = {
    "amber": (255, 176, 0), "red": (255, 72, 72), "orange": (255, 140, 40),
    "yellow": (255, 230, 60), "green": (80, 230, 110), "cyan": (60, 220, 255),
    "blue": (90, 150, 255), "violet": (190, 120, 255), "magenta": (255, 90, 220),
    "white": (245, 245, 245), "pink": (255, 150, 190), "teal": (40, 200, 170),
}
DEFAULT_COLOURS = ("amber", "cyan", "magenta", "green", "orange", "violet", "yellow", "pink")

_SECTIONS = {
    "film": {"file", "in", "out", "sound", "start", "drop_frame", "switch"},
    "display": {"screen", "fullscreen", "size", "fps", "vsync", "timecode", "timecode_size", "feet_frames",
                "latency_ms", "analysis_offset_ms", "a4", "monitor", "monitor_screen", "monitor_size"},
    "audio": {"input", "samplerate", "blocksize", "hop", "file", "output"},
    "players": {"name", "colour", "color", "channel", "lowest", "highest", "midi", "midi_channel", "bend_range",
                "transpose", "gain_db", "noise_floor"},
    "control": {"midi", "osc_listen", "osc_send", "map"},
    "cues": {"name", "in", "out", "hits", "palette", "harmony", "tempo", "beats_per_bar", "title"},
    "sync": {"mtc_in", "mtc_out", "mtc_rate", "clock_out", "clock_bpm"},
}
_HIT_KEYS = {"time", "label", "colour", "color", "streamer", "punch", "flutter", "tempo"}
_MAP_KEYS = {"action", "cc", "note", "channel", "arg"}


class SessionError(ValueError):
    """A mistake in a session file, with the file, line and key it is at."""

    def __init__(self, path, line, key, message):
        self.path, self.line, self.key, self.message = Path(path), line, key, message
        where = f"{self.path}:{line}" if line else f"{self.path}"
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")


@dataclass
class FilmConfig:
    path: Path
    loop_in: object = 0          # 'HH:MM:SS:FF' or seconds; resolved to frames when the film is opened
    loop_out: object = None      # None = the end of the film
    sound: bool = False
    start: str | None = None     # the first frame's timecode (a reel starting at 01:00:00:00)
    drop_frame: bool | None = None   # 29.97 / 59.94 labels in drop-frame (HH:MM:SS;FF); None: as the file's own timecode
    switch: str = "end"          # a new cue starts at the end of the current pass ("end") or at once ("now")


@dataclass
class DisplayConfig:
    screen: int = 0
    fullscreen: bool = True
    size: tuple[int, int] | None = None   # None = the screen's own size (windowed: 1280x720)
    fps: int = 60
    vsync: bool = True
    timecode: str = "off"        # burned-in timecode window: off, top-left, top-right, bottom-left, bottom-right
    timecode_size: float = 1.0
    feet_frames: bool = False    # also show 35 mm feet+frames
    latency_ms: float = 0.0      # the projector's own delay: picture and its overlays are drawn this much ahead
    analysis_offset_ms: float = 0.0   # moves the players' lines along time (positive: later)
    a4: float = 440.0            # the reference pitch note names and cents are read against
    monitor: bool = False        # a second window for the operator (studio view and HUD)
    monitor_screen: int | None = None     # where it opens (default: the screen after the projector's)
    monitor_size: tuple[int, int] | None = None


# concert to written pitch, in semitones, for the instruments that read transposed parts
# (Bb: trumpet, clarinet; Bb tenor: tenor sax, bass clarinet; Eb: alto sax; F: horn; A: clarinet
# in A; G: alto flute; D: D trumpet; octave: guitar and double bass, written an octave up)
TRANSPOSITIONS = {"C": 0, "Bb": 2, "Bb tenor": 14, "Eb": 9, "Eb baritone": 21, "F": 7, "A": 3, "G": 5,
                  "D": -2, "octave": 12}

TIMECODE_PLACES = ("off", "top-left", "top-right", "bottom-left", "bottom-right")


@dataclass
class AudioConfig:
    input: str | int | None = None        # device name part or index; None = the default input
    samplerate: int | None = None         # None = the device's own rate
    blocksize: int = 256
    hop: int = 256
    file: Path | None = None              # a recorded performance played instead of live input
    output: str | int | None = None       # where a recorded performance is heard


@dataclass
class PlayerConfig:
    name: str
    colour: tuple[int, int, int]
    channel: int                          # 1-based channel of the audio input (0 for a MIDI player)
    lowest: int                           # MIDI note
    highest: int
    line: int = 0
    midi: str | None = None               # a MIDI player: part of the input port's name
    midi_channel: int | None = None       # 1-16, or None for every channel
    bend_range: float = 2.0               # semitones at full pitch bend
    transpose: int = 0                    # semitones from concert to the written pitch shown
    gain_db: float = 0.0                  # input gain before the analysis (and the meter)
    noise_floor: float = -50.0            # dBFS: below it nothing is pitched, and the player is silent

    @property
    def is_midi(self) -> bool:
        return self.midi is not None


@dataclass
class HitConfig:
    time: object                 # timecode label or seconds, like a loop point
    label: str = ""
    colour: tuple[int, int, int] = (255, 255, 255)
    streamer: float = 2.5        # seconds the streamer takes to cross the screen
    punch: bool = True
    flutter: int = 0             # beats of flutter (flashes on the beat) leading into the hit
    tempo: float = 120.0         # beats a minute, for the flutters


@dataclass
class CueConfig:
    name: str
    loop_in: object
    loop_out: object
    hits: list = field(default_factory=list)
    palette: list = field(default_factory=list)   # the players' colours in the performance view
    harmony: list = field(default_factory=list)   # harmony.Span: the chords over the loop
    title: str = ""              # shown in the performance view as the cue begins (the only text there)
    harmony_at: list = field(default_factory=list)   # (position, harmony.Chord): chords at timecodes
    tempo: float | None = None   # beats a minute, when the cue gives one


@dataclass
class ControlConfig:
    midi: str | None = None                        # a MIDI port for control (pedal, controller)
    maps: list = field(default_factory=list)       # [{"action", "cc"|"note", "channel", "arg"}]
    osc_listen: tuple[str, int] | None = None      # (host, port) for OSC control in
    osc_send: list = field(default_factory=list)   # [(host, port)] for players' data out


@dataclass
class SyncConfig:
    mtc_in: str | None = None        # chase MTC from this MIDI input port (a DAW)
    mtc_out: str | None = None       # send MTC on a MIDI output port of this name (stage as master)
    mtc_rate: float | None = None    # treat incoming MTC as this rate (23.976 for a "24" code ...)
    clock_out: str | None = None     # send MIDI clock on a MIDI output port of this name (may be mtc_out's)
    clock_bpm: float | None = None   # its tempo (default: the first cue's harmony tempo, else 120)


@dataclass
class Session:
    path: Path
    film: FilmConfig
    display: DisplayConfig = field(default_factory=DisplayConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    players: list[PlayerConfig] = field(default_factory=list)
    control: ControlConfig = field(default_factory=ControlConfig)
    cues: list = field(default_factory=list)       # CueConfig; one from [film] in/out if none are given
    cues_from_film: bool = False                   # no [[cues]]: the one cue is [film] in/out
    sync: SyncConfig = field(default_factory=SyncConfig)
    lines: dict = field(default_factory=dict, repr=False)

    def error(self, key: str, message: str) -> SessionError:
        return SessionError(self.path, _line_of(self.lines, key), key, message)


def _key_lines(text: str) -> dict[str, int]:
    """Map 'table.key' and 'players[i].key' to the line they are written on."""
    lines: dict[str, int] = {}
    table = ""
    counts: dict[str, int] = {}
    for no, raw in enumerate(text.splitlines(), 1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        m = re.match(r"^\[\[\s*([\w.-]+)\s*\]\]", s)
        if m:
            name = m.group(1)
            parent, _, child = name.rpartition(".")
            if parent in counts:                  # [[cues.hits]]: belongs to the last [[cues]]
                name = f"{parent}[{counts[parent] - 1}].{child}"
            i = counts.get(name, 0)
            counts[name] = i + 1
            table = f"{name}[{i}]"
            lines.setdefault(table, no)
            continue
        m = re.match(r"^\[\s*([\w.-]+)\s*\]", s)
        if m:
            table = m.group(1)
            lines.setdefault(table, no)
            continue
        m = re.match(r"^\"?([\w-]+)\"?\s*=", s)
        if m:
            key = f"{table}.{m.group(1)}" if table else m.group(1)
            lines.setdefault(key, no)
    return lines


def _line_of(lines: dict, key: str) -> int:
    while key:
        if key in lines:
            return lines[key]
        key = key.rsplit(".", 1)[0] if "." in key else ""
    return 0


def parse_colour(value) -> tuple[int, int, int]:
    if isinstance(value, str):
        v = value.strip().lower()
        if v in COLOURS:
            return COLOURS[v]
        m = re.fullmatch(r"#?([0-9a-f]{6})", v)
        if m:
            h = m.group(1)
            return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    if isinstance(value, list) and len(value) == 3 and all(isinstance(c, int) and 0 <= c <= 255 for c in value):
        return tuple(value)
    raise ValueError(f"{value!r} is not a colour; use '#rrggbb', [r, g, b] or one of: {', '.join(COLOURS)}")


def load_session(path, base_dir: Path | None = None) -> Session:
    """Read and validate a session file. Raises SessionError naming file, line and key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SessionError(path, 0, "", "no such session file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SessionError(path, 0, "", f"cannot read it: {e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        raise SessionError(path, int(m.group(1)) if m else 0, "", f"not valid TOML: {e}") from None
    lines = _key_lines(text)
    base = base_dir or path.parent

    def err(key, message):
        return SessionError(path, _line_of(lines, key), key, message)

    for top in data:
        if top not in _SECTIONS:
            raise err(top, f"unknown section; valid sections: {', '.join(_SECTIONS)}")
    for sec, allowed in _SECTIONS.items():
        arrays = sec in ("players", "cues")
        tables = data.get(sec, [] if arrays else {})
        if arrays:
            if not isinstance(tables, list):
                raise err(sec, f"{sec} are written as [[{sec}]] tables, one each")
            named = [(f"{sec}[{i}]", t) for i, t in enumerate(tables)]
        else:
            if not isinstance(tables, dict):
                raise err(sec, f"[{sec}] must be a table")
            named = [(sec, tables)]
        for prefix, t in named:
            for k in t:
                if k not in allowed:
                    raise err(f"{prefix}.{k}", f"unknown key; valid keys in [{sec}]: {', '.join(sorted(allowed))}")

    def get(table: dict, prefix: str, key: str, types, default=None, required=False):
        if key not in table:
            if required:
                raise err(prefix, f"missing required key '{key}'")
            return default
        v = table[key]
        if isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
            raise err(f"{prefix}.{key}", f"expected {_type_names(types)}, got {v!r}")
        if not isinstance(v, types):
            raise err(f"{prefix}.{key}", f"expected {_type_names(types)}, got {v!r}")
        return v

    # [film]
    f = data.get("film")
    if f is None:
        raise SessionError(path, 0, "film", "missing [film] section (film.file is required)")
    fname = get(f, "film", "file", str, required=True)
    fpath = (base / fname).expanduser() if not Path(fname).is_absolute() else Path(fname)
    if not fpath.exists():
        raise err("film.file", f"film not found: {fpath}")
    loop_in = get(f, "film", "in", (str, int, float), 0)
    loop_out = get(f, "film", "out", (str, int, float), None)
    for key, v in (("in", loop_in), ("out", loop_out)):
        if v is not None:
            _check_position(v, lambda m, key=key: err(f"film.{key}", m))
    start = get(f, "film", "start", str, None)
    if start is not None:
        _check_position(start, lambda m: err("film.start", m))
    switch = get(f, "film", "switch", str, "end")
    if switch not in ("end", "now"):
        raise err("film.switch", f"{switch!r}: valid: 'end' (at the end of the current pass) or 'now'")
    film = FilmConfig(fpath, loop_in, loop_out, get(f, "film", "sound", bool, False), start,
                      get(f, "film", "drop_frame", bool, None), switch)

    # [display]
    d = data.get("display", {})
    size = get(d, "display", "size", list, None)
    if size is not None:
        if len(size) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) and 64 <= x <= 16384 for x in size):
            raise err("display.size", f"expected [width, height] in pixels, got {size!r}")
        size = (size[0], size[1])
    fps = get(d, "display", "fps", int, 60)
    if not 10 <= fps <= 240:
        raise err("display.fps", f"expected 10-240 frames per second, got {fps}")
    screen = get(d, "display", "screen", int, 0)
    if screen < 0:
        raise err("display.screen", f"screens are numbered from 0, got {screen}")
    place = get(d, "display", "timecode", str, "off")
    if place not in TIMECODE_PLACES:
        raise err("display.timecode", f"{place!r} is not a place for the timecode; valid: {', '.join(TIMECODE_PLACES)}")
    tsize = get(d, "display", "timecode_size", (int, float), 1.0)
    if not 0.25 <= tsize <= 4:
        raise err("display.timecode_size", f"a scale from 0.25 to 4, got {tsize}")
    latency = get(d, "display", "latency_ms", (int, float), 0.0)
    if not 0 <= latency <= 1000:
        raise err("display.latency_ms", f"the projector's delay in milliseconds, 0-1000, got {latency}")
    aoff = get(d, "display", "analysis_offset_ms", (int, float), 0.0)
    if not -500 <= aoff <= 500:
        raise err("display.analysis_offset_ms", f"milliseconds, -500 to 500, got {aoff}")
    a4 = get(d, "display", "a4", (int, float), 440.0)
    if not 400 <= a4 <= 480:
        raise err("display.a4", f"the reference pitch of A4 in Hz, 400-480 (440, 442, 415 ...), got {a4}")
    mscreen = get(d, "display", "monitor_screen", int, None)
    if mscreen is not None and mscreen < 0:
        raise err("display.monitor_screen", f"screens are numbered from 0, got {mscreen}")
    msize = get(d, "display", "monitor_size", list, None)
    if msize is not None:
        if len(msize) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) and 64 <= x <= 16384 for x in msize):
            raise err("display.monitor_size", f"expected [width, height] in pixels, got {msize!r}")
        msize = (msize[0], msize[1])
    display = DisplayConfig(screen, get(d, "display", "fullscreen", bool, True), size, fps,
                            get(d, "display", "vsync", bool, True), place, float(tsize),
                            get(d, "display", "feet_frames", bool, False), float(latency), float(aoff),
                            float(a4), get(d, "display", "monitor", bool, False), mscreen, msize)

    # [audio]
    a = data.get("audio", {})
    sr = get(a, "audio", "samplerate", int, None)
    if sr is not None and sr not in (22050, 32000, 44100, 48000, 88200, 96000, 192000):
        raise err("audio.samplerate", f"{sr} is not a sample rate; valid: 44100, 48000, 88200, 96000, 192000 (32000, 22050)")
    bs = get(a, "audio", "blocksize", int, 256)
    hop = get(a, "audio", "hop", int, 256)
    for key, v in (("blocksize", bs), ("hop", hop)):
        if v not in (64, 128, 256, 512, 1024, 2048):
            raise err(f"audio.{key}", f"{v} frames is not allowed; valid: 64, 128, 256, 512, 1024, 2048")
    afile = get(a, "audio", "file", str, None)
    if afile is not None:
        afile = (base / afile) if not Path(afile).is_absolute() else Path(afile)
        if not afile.exists():
            raise err("audio.file", f"recording not found: {afile}")
    audio = AudioConfig(get(a, "audio", "input", (str, int), None), sr, bs, hop, afile,
                        get(a, "audio", "output", (str, int), None))

    # [[players]]
    players: list[PlayerConfig] = []
    plist = data.get("players", [])
    if not plist:
        raise SessionError(path, 0, "players", "no players: add at least one [[players]] table with name and channel")
    for i, p in enumerate(plist):
        pre = f"players[{i}]"
        name = get(p, pre, "name", str, required=True).strip()
        if not name:
            raise err(f"{pre}.name", "a player needs a name")
        if any(q.name == name for q in players):
            raise err(f"{pre}.name", f"two players are called {name!r}; names must differ")
        ckey = "colour" if "colour" in p else "color"
        try:
            colour = parse_colour(p[ckey]) if ckey in p else COLOURS[DEFAULT_COLOURS[i % len(DEFAULT_COLOURS)]]
        except ValueError as e:
            raise err(f"{pre}.{ckey}", str(e)) from None
        midi = get(p, pre, "midi", str, None)
        if midi is not None:
            if "channel" in p:
                raise err(f"{pre}.channel", "a player has either an audio channel or a midi port, not both "
                                            "(midi_channel picks the MIDI channel)")
            if not midi.strip():
                raise err(f"{pre}.midi", "name the MIDI input port (part of its name; see `stage devices`)")
            ch = 0
        else:
            ch = get(p, pre, "channel", int, None)
            if ch is None:
                raise err(pre, "missing 'channel' (the audio input channel, from 1) or 'midi' (a MIDI input port)")
            if ch < 1:
                raise err(f"{pre}.channel", f"channels are numbered from 1, got {ch}")
            for k in ("midi_channel", "bend_range"):
                if k in p:
                    raise err(f"{pre}.{k}", f"{k} is for MIDI players (with 'midi = \"port\"')")
        mch = get(p, pre, "midi_channel", int, None)
        if mch is not None and not 1 <= mch <= 16:
            raise err(f"{pre}.midi_channel", f"MIDI channels run 1-16, got {mch}")
        bend = get(p, pre, "bend_range", (int, float), 2.0)
        if not 0 < bend <= 48:
            raise err(f"{pre}.bend_range", f"pitch-bend range in semitones, 0-48, got {bend}")
        notes = {}
        for key, default in (("lowest", "E1"), ("highest", "C8")):
            v = get(p, pre, key, str, default)
            try:
                notes[key] = parse_note(v)
            except NoteError as e:
                raise err(f"{pre}.{key}", str(e)) from None
        if notes["lowest"] >= notes["highest"]:
            raise err(f"{pre}.highest", "highest note must be above lowest note")
        tr = get(p, pre, "transpose", (str, int), 0)
        if isinstance(tr, str):
            if tr not in TRANSPOSITIONS:
                raise err(f"{pre}.transpose", f"{tr!r} is not a transposition; valid: "
                                              f"{', '.join(repr(k) for k in TRANSPOSITIONS)}, or semitones")
            tr = TRANSPOSITIONS[tr]
        elif not -36 <= tr <= 36:
            raise err(f"{pre}.transpose", f"semitones from concert to written pitch, -36 to 36, got {tr}")
        gain = get(p, pre, "gain_db", (int, float), 0.0)
        if not -40 <= gain <= 60:
            raise err(f"{pre}.gain_db", f"input gain in dB, -40 to 60, got {gain}")
        floor = get(p, pre, "noise_floor", (int, float), -50.0)
        if not -100 <= floor <= -10:
            raise err(f"{pre}.noise_floor", f"the level in dBFS below which the player is silent, -100 to -10, got {floor}")
        if ch == 0 and ("gain_db" in p or "noise_floor" in p):
            k = "gain_db" if "gain_db" in p else "noise_floor"
            raise err(f"{pre}.{k}", f"{k} is for audio players (a MIDI player's level is its velocity)")
        players.append(PlayerConfig(name, colour, ch, notes["lowest"], notes["highest"],
                                    _line_of(lines, pre), midi.strip() if midi else None, mch, float(bend),
                                    int(tr), float(gain), float(floor)))
    control = _control(data.get("control", {}), err, get)
    cues = _cues(data.get("cues", []), err, get)
    from_film = not cues
    if from_film:
        cues = [CueConfig("loop", film.loop_in, film.loop_out)]
    y = data.get("sync", {})
    rate = get(y, "sync", "mtc_rate", (int, float), None)
    if rate is not None and not any(abs(rate - r) < 0.01 for r in (23.976, 24, 25, 29.97, 30)):
        raise err("sync.mtc_rate", f"{rate} is not an MTC rate; valid: 23.976, 24, 25, 29.97, 30")
    bpm = get(y, "sync", "clock_bpm", (int, float), None)
    if bpm is not None and not 20 <= bpm <= 400:
        raise err("sync.clock_bpm", f"beats a minute, 20-400, got {bpm}")
    sync = SyncConfig(get(y, "sync", "mtc_in", str, None), get(y, "sync", "mtc_out", str, None),
                      None if rate is None else float(rate), get(y, "sync", "clock_out", str, None),
                      None if bpm is None else float(bpm))
    return Session(path, film, display, audio, players, control, cues, from_film, sync, lines)


def _cues(cues, err, get):
    out = []
    names = set()
    for i, c in enumerate(cues):
        pre = f"cues[{i}]"
        name = get(c, pre, "name", str, f"cue {i + 1}")
        if name in names:
            raise err(f"{pre}.name", f"two cues are called {name!r}")
        names.add(name)
        if "in" not in c or "out" not in c:
            raise err(pre, f"cue {name!r} needs 'in' and 'out' (timecode or seconds)")
        for k in ("in", "out"):
            v = get(c, pre, k, (str, int, float))
            _check_position(v, lambda m, k=k, pre=pre: err(f"{pre}.{k}", m))
        hits = []
        for j, h in enumerate(c.get("hits", [])):
            hp = f"{pre}.hits[{j}]"
            for k in h:
                if k not in _HIT_KEYS:
                    raise err(f"{hp}.{k}", f"unknown key; valid keys in [[cues.hits]]: {', '.join(sorted(_HIT_KEYS))}")
            t = get(h, hp, "time", (str, int, float), required=True)
            _check_position(t, lambda m, hp=hp: err(f"{hp}.time", m))
            ckey = "colour" if "colour" in h else "color"
            try:
                colour = parse_colour(h[ckey]) if ckey in h else (255, 255, 255)
            except ValueError as e:
                raise err(f"{hp}.{ckey}", str(e)) from None
            streamer = get(h, hp, "streamer", (int, float), 2.5)
            if not 0.5 <= streamer <= 10:
                raise err(f"{hp}.streamer", f"seconds for the streamer to cross, 0.5-10 (2-3.33 is usual), got {streamer}")
            flutter = get(h, hp, "flutter", int, 0)
            if not 0 <= flutter <= 16:
                raise err(f"{hp}.flutter", f"beats of flutter before the hit, 0-16, got {flutter}")
            tempo = get(h, hp, "tempo", (int, float), 120.0)
            if not 20 <= tempo <= 400:
                raise err(f"{hp}.tempo", f"beats a minute, 20-400, got {tempo}")
            hits.append(HitConfig(t, get(h, hp, "label", str, ""), colour, float(streamer),
                                  get(h, hp, "punch", bool, True), flutter, float(tempo)))
        palette = []
        for j, v in enumerate(get(c, pre, "palette", list, [])):
            try:
                palette.append(parse_colour(v))
            except ValueError as e:
                raise err(f"{pre}.palette", f"colour {j + 1}: {e}") from None
        harmony, harmony_at = [], []
        cue_tempo = get(c, pre, "tempo", (int, float), None)       # the harmony's, and MIDI clock's
        if cue_tempo is not None and not 20 <= cue_tempo <= 400:
            raise err(f"{pre}.tempo", f"cue {name!r}: beats a minute, 20-400, got {cue_tempo}")
        if "harmony" in c and isinstance(c["harmony"], list):
            # chords at timecodes: [["00:00:06:00", "Dm7"], ["00:00:08:12", "G7"], [10.5, "C dorian"]]
            from ..harmony import HarmonyError, parse_chord
            for j, entry in enumerate(c["harmony"], 1):
                if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], str)
                        and isinstance(entry[0], (str, int, float)) and not isinstance(entry[0], bool)):
                    raise err(f"{pre}.harmony", f"cue {name!r}: chord {j}: expected [timecode, \"chord\"] "
                                                f"(\"HH:MM:SS:FF\" or seconds), got {entry!r}")
                _check_position(entry[0], lambda m, j=j, k=f"{pre}.harmony", cue=name: err(k, f"cue {cue!r}: chord {j}: {m}"))
                try:
                    harmony_at.append((entry[0], parse_chord(entry[1])))
                except HarmonyError as e:
                    raise err(f"{pre}.harmony", f"cue {name!r}: chord {j} ({entry[1]!r}): {e}") from None
            if not harmony_at:
                raise err(f"{pre}.harmony", f"cue {name!r}: no chords in the list")
        elif "harmony" in c:
            from ..harmony import HarmonyError, parse_sequence
            text = get(c, pre, "harmony", str)
            tempo = cue_tempo or 120.0
            bpb = get(c, pre, "beats_per_bar", int, 4)
            if not 1 <= bpb <= 16:
                raise err(f"{pre}.beats_per_bar", f"cue {name!r}: 1-16 beats to a bar, got {bpb}")
            try:
                harmony = parse_sequence(text, float(tempo), bpb)
            except HarmonyError as e:
                raise err(f"{pre}.harmony", f"cue {name!r}: {e}") from None
        title = get(c, pre, "title", str, "")
        if len(title) > 120:
            raise err(f"{pre}.title", f"cue {name!r}: a title of at most 120 characters, got {len(title)}")
        out.append(CueConfig(name, c["in"], c["out"], hits, palette, harmony, title.strip(), harmony_at,
                             None if cue_tempo is None else float(cue_tempo)))
    return out


def _address(value, key, err, default_host="127.0.0.1"):
    """'host:port' or a port number -> (host, port); OSC stays on localhost unless told."""
    if isinstance(value, int) and not isinstance(value, bool):
        host, port = default_host, value
    elif isinstance(value, str) and value.rpartition(":")[2].isdigit():
        host, _, port = value.rpartition(":")
        host, port = host or default_host, int(port)
    else:
        raise err(key, f"expected a port number or 'host:port', got {value!r}")
    if not 1 <= port <= 65535:
        raise err(key, f"ports run 1-65535, got {port}")
    return host, port


def _control(c, err, get):
    from ..control.actions import ACTIONS
    if not isinstance(c, dict):
        raise err("control", "[control] must be a table")
    cfg = ControlConfig()
    cfg.midi = get(c, "control", "midi", str, None)
    if "osc_listen" in c:
        cfg.osc_listen = _address(c["osc_listen"], "control.osc_listen", err)
    sends = c.get("osc_send", [])
    if not isinstance(sends, list):
        sends = [sends]
    cfg.osc_send = [_address(v, "control.osc_send", err) for v in sends]
    maps = c.get("map", [])
    if not isinstance(maps, list):
        raise err("control.map", "mappings are written as [[control.map]] tables")
    for i, m in enumerate(maps):
        pre = f"control.map[{i}]"
        for k in m:
            if k not in _MAP_KEYS:
                raise err(f"{pre}.{k}", f"unknown key; valid keys in [[control.map]]: {', '.join(sorted(_MAP_KEYS))}")
        action = get(m, pre, "action", str, required=True)
        if action not in ACTIONS:
            raise err(f"{pre}.action", f"no action {action!r}; the actions are: {', '.join(ACTIONS)}")
        if ("cc" in m) == ("note" in m):
            raise err(pre, "a mapping needs one of 'cc' (a controller number) or 'note' (a note number)")
        for k in ("cc", "note"):
            if k in m and not (isinstance(m[k], int) and 0 <= m[k] <= 127):
                raise err(f"{pre}.{k}", f"expected 0-127, got {m[k]!r}")
        ch = get(m, pre, "channel", int, None)
        if ch is not None and not 1 <= ch <= 16:
            raise err(f"{pre}.channel", f"MIDI channels run 1-16, got {ch}")
        arg = get(m, pre, "arg", (int, float), None)
        cfg.maps.append({"action": action, "cc": m.get("cc"), "note": m.get("note"), "channel": ch,
                         "arg": None if arg is None else float(arg)})
    return cfg


def _check_position(v, error):
    from ..film.timecode import TimecodeError, parse_position
    try:
        parse_position(v, 30)  # shape check only; frame range is checked against the film itself
    except TimecodeError as e:
        if "frames run" not in str(e) and "before the film" not in str(e):
            raise error(str(e)) from None


def _type_names(types) -> str:
    types = types if isinstance(types, tuple) else (types,)
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list"}
    return " or ".join(names.get(t, t.__name__) for t in types)
