"""The session file, declared once: every section, key, kind of value, default and what it
means. The loader (load.py) reads and checks a file against this declaration, and
`stage check` lists the settings in effect from it (describe.py); nothing else knows the keys.

Each setting is a dataclass field with :func:`setting` metadata: its kind (kinds.py: how a
value is checked and what it becomes), a line saying what it is for, and, where the TOML key or
default differs from the attribute's, those. What one setting cannot check alone (a player has
an audio channel or a MIDI port; two players may not share a name) is in the table's
``_after``, which runs once its settings are read.

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

import dataclasses
from dataclasses import MISSING, dataclass, field
from pathlib import Path

from .kinds import (COLOURS, DEFAULT_COLOURS, TIMECODE_PLACES, TRANSPOSITIONS, Action, Address, Addresses,
                    Bool, Colour, Device, FilePath, FolderPath, Harmony, Int, Kind, ListOf, Note, Number, OneOf,
                    Position, Section, Size, Str, Tables, Transposition, parse_colour)
from .lines import line_of

__all__ = ["AudioConfig", "COLOURS", "ControlConfig", "CueConfig", "DEFAULT_COLOURS", "DisplayConfig", "FilmConfig",
           "HitConfig", "MapConfig", "PlayerConfig", "Session", "SessionError", "Setting", "SyncConfig", "TakesConfig",
           "TIMECODE_PLACES", "TRANSPOSITIONS", "parse_colour", "setting", "settings"]

_SAME = object()


class SessionError(ValueError):
    """A mistake in a session file, with the file, line and key it is at."""

    def __init__(self, path, line, key, message):
        self.path, self.line, self.key, self.message = Path(path), line, key, message
        where = f"{self.path}:{line}" if line else f"{self.path}"
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")


@dataclass(frozen=True)
class Setting:
    name: str                    # the attribute
    key: str                     # the TOML key
    kind: Kind
    doc: str                     # what it is for, in a line
    toml: object = _SAME         # the default as it would be written (or a function of the table's index);
    #                              _SAME: the attribute's own default; None: not set
    required: bool | str = False    # True, or the message when it is missing
    aliases: tuple = ()          # other spellings of the key ("color")
    unset: str = ""              # what happens when it is not set


def setting(kind: Kind, doc: str, *, key: str | None = None, default=MISSING, factory=MISSING, toml=_SAME,
            required: bool | str = False, aliases=(), unset: str = ""):
    """A dataclass field that is a session setting."""
    meta = {"setting": (kind, doc, key, toml, required, tuple(aliases), unset)}
    if factory is not MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def settings(cls) -> list[Setting]:
    """The settings a table declares, in order."""
    out = []
    for f in dataclasses.fields(cls):
        if "setting" in f.metadata:
            kind, doc, key, toml, required, aliases, unset = f.metadata["setting"]
            out.append(Setting(f.name, key or f.name, kind, doc, toml, required, aliases, unset))
    return out


# ---------------------------------------------------------------------------------------------------------- film

@dataclass
class FilmConfig:
    _title = "[film]"
    path: Path = setting(FilePath("film"), "the film: any file FFmpeg reads (.mov, .mp4, .mkv ...), "
                         "relative to the session file", key="file", required=True)
    loop_in: object = setting(Position(), "loop in point: timecode HH:MM:SS:FF at the film's rate, or seconds "
                              "(resolved to frames when the film is opened)", key="in", default=0)
    loop_out: object = setting(Position(), "loop out point (exclusive)", key="out", default=None,
                               unset="the end of the film")
    sound: bool = setting(Bool(), "play the film's own sound (toggle live with M)", default=False)
    start: str | None = setting(Position(timecode_only=True), "the timecode of the film's first frame "
                                "(a reel that starts at 01:00:00:00)", default=None,
                                unset="the film's own timecode, else 00:00:00:00")
    drop_frame: bool | None = setting(Bool(), "29.97 and 59.94 fps only: drop-frame labels, written HH:MM:SS;FF",
                                      default=None, unset="as the film's own timecode is written, else non-drop")
    switch: str = setting(OneOf(("end", "now"), "{v}: valid: 'end' (at the end of the current pass) or 'now'"),
                          "a new cue starts at the end of the current pass ('end') or at once ('now')",
                          default="end")


# ------------------------------------------------------------------------------------------------------- display

@dataclass
class DisplayConfig:
    _title = "[display]"
    screen: int = setting(Int(0, None, message="screens are numbered from 0, got {v}"),
                          "the screen the picture opens on (0 = the first; the projector is often 1)", default=0)
    fullscreen: bool = setting(Bool(), "full-screen (false: a window, as --windowed)", default=True)
    size: tuple[int, int] | None = setting(Size(), "the picture's size, [width, height] in pixels", default=None,
                                           unset="the screen's own size (a window: 1280x720)")
    fps: int = setting(Int(10, 240, "frames per second"), "frames per second the picture is drawn at",
                       default=60)
    vsync: bool = setting(Bool(), "wait for the screen's refresh (no tearing)", default=True)
    timecode: str = setting(OneOf(TIMECODE_PLACES, "{v} is not a place for the timecode; valid: "
                                  + ", ".join(TIMECODE_PLACES)),
                            "the burned-in timecode window: " + ", ".join(TIMECODE_PLACES), default="off")
    timecode_size: float = setting(Number(0.25, 4, message="a scale from 0.25 to 4, got {v}"),
                                   "the timecode window's size, a scale", default=1.0)
    feet_frames: bool = setting(Bool(), "also show 35 mm feet+frames (16 frames a foot)", default=False)
    latency_ms: float = setting(Number(0, 1000, "the projector's delay in milliseconds"),
                                "the projector's own delay: the picture and its overlays are drawn this much "
                                "ahead", default=0.0)
    analysis_offset_ms: float = setting(Number(-500, 500, "milliseconds"),
                                        "moves the players' lines along time (positive: later)", default=0.0)
    a4: float = setting(Number(400, 480, message="the reference pitch of A4 in Hz, 400-480 (440, 442, 415 ...), "
                                                 "got {v}"),
                        "the reference pitch note names and cents are read against, in Hz", default=440.0)
    monitor: bool = setting(Bool(), "a second window for the operator: the studio view and HUD (as --monitor)",
                            default=False)
    monitor_screen: int | None = setting(Int(0, None, message="screens are numbered from 0, got {v}"),
                                         "the screen the operator's window opens on", default=None,
                                         unset="the screen after the projector's")
    monitor_size: tuple[int, int] | None = setting(Size(), "the operator's window's size, [width, height]",
                                                   default=None, unset="1280x720")


# --------------------------------------------------------------------------------------------------------- audio

SAMPLE_RATES = (22050, 32000, 44100, 48000, 88200, 96000, 192000)
BLOCK_SIZES = (64, 128, 256, 512, 1024, 2048)


@dataclass
class AudioConfig:
    _title = "[audio]"
    input: str | int | None = setting(Device(), "the input device: part of its name, or its index "
                                      "(see `stage devices`)", default=None, unset="the default input")
    samplerate: int | None = setting(Int(choices=SAMPLE_RATES, message="{v} is not a sample rate; valid: "
                                         "44100, 48000, 88200, 96000, 192000 (32000, 22050)"),
                                     "the sample rate, Hz", default=None, unset="the device's own rate")
    blocksize: int = setting(Int(choices=BLOCK_SIZES, message="{v} frames is not allowed; valid: "
                                 + ", ".join(map(str, BLOCK_SIZES))),
                             "frames per audio callback (256 at 48 kHz: 5.3 ms)", default=256)
    hop: int = setting(Int(choices=BLOCK_SIZES, message="{v} frames is not allowed; valid: "
                           + ", ".join(map(str, BLOCK_SIZES))),
                       "frames per analysis step", default=256)
    file: Path | None = setting(FilePath("recording"), "a recorded performance played instead of live input "
                                "(its channels are the players' channels)", default=None, unset="live input")
    output: str | int | None = setting(Device(), "where a recorded performance is heard: an output device, "
                                       "part of its name or its index", default=None, unset="the default output")


# ------------------------------------------------------------------------------------------------------- players

@dataclass
class PlayerConfig:
    _title = "[[players]]"
    name: str = setting(Str(strip=True, nonempty="a player needs a name"), "the player's name, as the lanes "
                        "and the HUD show it", required=True)
    colour: tuple[int, int, int] = setting(Colour(), "'#rrggbb', [r, g, b], or a name: " + " ".join(COLOURS),
                                           aliases=("color",), toml=lambda i: DEFAULT_COLOURS[i % len(DEFAULT_COLOURS)])
    channel: int = setting(Int(1, None, message="channels are numbered from 1, got {v}"),
                           "the audio input's channel, from 1 (0 for a MIDI player)", toml=None,
                           unset="a MIDI player (midi = \"port\")")
    lowest: int = setting(Note(), "the instrument's lowest note, concert pitch (the tracker ignores pitches "
                          "outside its range)", toml="E1")
    highest: int = setting(Note(), "the instrument's highest note, concert pitch", toml="C8")
    line: int = 0                         # the line its [[players]] table starts on
    midi: str | None = setting(Str(strip=True, nonempty="name the MIDI input port (part of its name; "
                                                         "see `stage devices`)"),
                               "a MIDI player: part of the MIDI input port's name", default=None,
                               unset="an audio player")
    midi_channel: int | None = setting(Int(1, 16, message="MIDI channels run 1-16, got {v}"),
                                       "a MIDI player's channel, 1-16", default=None, unset="every channel")
    bend_range: float = setting(Number(0, 48, "pitch-bend range in semitones", above_lo=True),
                                "a MIDI player's pitch-bend range at full bend, semitones", default=2.0)
    transpose: int = setting(Transposition(), "show written pitch: \"Bb\" (trumpet, clarinet), \"Bb tenor\" "
                             "(tenor sax), \"Eb\" (alto sax), \"Eb baritone\", \"F\" (horn), \"A\", \"G\", \"D\", "
                             "\"octave\" (guitar, double bass), or semitones from concert", default=0)
    gain_db: float = setting(Number(-40, 60, "input gain in dB"), "input gain before the analysis and the meter, dB",
                             default=0.0)
    noise_floor: float = setting(Number(-100, -10, "the level in dBFS below which the player is silent"),
                                 "dBFS: quieter than this is silence (raise it in a noisy room)", default=-50.0)

    @property
    def is_midi(self) -> bool:
        return self.midi is not None

    def _after(self, chk) -> None:
        if any(q.name == self.name for q in chk.siblings):
            raise chk.fail("name", f"two players are called {self.name!r}; names must differ")
        if self.midi is not None:
            if chk.given("channel"):
                raise chk.fail("channel", "a player has either an audio channel or a midi port, not both "
                                          "(midi_channel picks the MIDI channel)")
            self.channel = 0
            for k in ("gain_db", "noise_floor"):
                if chk.given(k):
                    raise chk.fail(k, f"{k} is for audio players (a MIDI player's level is its velocity)")
        else:
            if self.channel is None:
                raise chk.fail("", "missing 'channel' (the audio input channel, from 1) or 'midi' "
                                   "(a MIDI input port)")
            for k in ("midi_channel", "bend_range"):
                if chk.given(k):
                    raise chk.fail(k, f"{k} is for MIDI players (with 'midi = \"port\"')")
        if self.lowest >= self.highest:
            raise chk.fail("highest", "highest note must be above lowest note")
        self.line = chk.line


# ---------------------------------------------------------------------------------------------------------- cues

@dataclass
class HitConfig:
    _title = "[[cues.hits]]"
    time: object = setting(Position(), "the hit: timecode or seconds, like a loop point", required=True)
    label: str = setting(Str(), "its label in the studio view", default="")
    colour: tuple[int, int, int] = setting(Colour(), "the streamer's and the punch's colour", aliases=("color",),
                                           default=(255, 255, 255))
    streamer: float = setting(Number(0.5, 10, message="seconds for the streamer to cross, 0.5-10 "
                                                      "(2-3.33 is usual), got {v}"),
                              "seconds the streamer takes to cross the screen, ending at the hit", default=2.5)
    punch: bool = setting(Bool(), "a flash at the hit frame", default=True)
    flutter: int = setting(Int(0, 16, "beats of flutter before the hit"),
                           "beats of flutter (flashes on the beat) leading into the hit", default=0)
    tempo: float = setting(Number(20, 400, "beats a minute"), "beats a minute, for the flutters", default=120.0)


@dataclass
class CueConfig:
    _title = "[[cues]]"
    _label = ("name", "cue {!r}: ")       # errors in a cue (after its name) say which cue
    name: str = setting(Str(), "the cue's name (1M1 ...)", toml=lambda i: f"cue {i + 1}")
    loop_in: object = setting(Position(), "loop in point: timecode or seconds", key="in",
                              required="missing 'in': the loop's in point (timecode or seconds)")
    loop_out: object = setting(Position(), "loop out point (exclusive): timecode or seconds", key="out",
                               required="missing 'out': the loop's out point (timecode or seconds)")
    hits: list = setting(Tables(HitConfig, "hit points are written as [[cues.hits]] tables"),
                         "hit points: a streamer crosses the screen and ends on each with a punch", factory=list)
    palette: list = setting(ListOf(Colour(), "colour"), "the players' colours in the performance view, in order",
                            factory=list, unset="their own colours")
    harmony: list = setting(Harmony(), "the chords: a sequence in bars (\"Dm7 | G7 | Cmaj7*2\") at the cue's "
                            "tempo, or [[timecode, \"chord\"], ...]", factory=list, unset="none")
    title: str = setting(Str(120, "a title of at most {max} characters, got {n}", strip=True),
                         "shown in the performance view as the cue begins (its only text)", default="")
    harmony_at: list = field(default_factory=list)    # (position, harmony.Chord): chords at timecodes
    tempo: float | None = setting(Number(20, 400, "beats a minute"), "beats a minute: the harmony's, and "
                                  "MIDI clock's", default=None, unset="120 for the harmony")
    beats_per_bar: int = setting(Int(1, 16, message="1-16 beats to a bar, got {v}"),
                                 "beats to a bar in the harmony", default=4)

    def _after(self, chk) -> None:
        if any(c.name == self.name for c in chk.siblings):
            raise chk.fail("name", f"two cues are called {self.name!r}", label=False)
        kind, value = self.harmony if self.harmony else (None, None)
        self.harmony = []
        if kind == "bars":
            from ..harmony import HarmonyError, parse_sequence
            try:
                self.harmony = parse_sequence(value, self.tempo or 120.0, self.beats_per_bar)
            except HarmonyError as e:
                raise chk.fail("harmony", str(e)) from None
        elif kind == "at":
            self.harmony_at = value


# ------------------------------------------------------------------------------------------------------- control

@dataclass
class MapConfig:
    _title = "[[control.map]]"
    action: str = setting(Action(), "the action (see the README's list: play, pause, next_cue ...)", required=True)
    cc: int | None = setting(Int(0, 127, message="expected 0-127, got {v}"), "a controller number, 0-127 "
                             "(acts when it crosses 64 upwards: a pedal pressed)", default=None, unset="")
    note: int | None = setting(Int(0, 127, message="expected 0-127, got {v}"), "a note number, 0-127",
                               default=None, unset="")
    channel: int | None = setting(Int(1, 16, message="MIDI channels run 1-16, got {v}"), "the MIDI channel, 1-16",
                                  default=None, unset="any channel")
    arg: float | None = setting(Number(), "the action's argument (a nudge's seconds, a cue's number)",
                                default=None, unset="none")

    def _after(self, chk) -> None:
        if (self.cc is None) == (self.note is None):
            raise chk.fail("", "a mapping needs one of 'cc' (a controller number) or 'note' (a note number)")


@dataclass
class ControlConfig:
    _title = "[control]"
    midi: str | None = setting(Str(), "a MIDI input port for control (a pedal, a controller): part of its name",
                               default=None, unset="none")
    maps: list = setting(Tables(MapConfig, "mappings are written as [[control.map]] tables", as_dict=True),
                         "MIDI notes and CCs mapped to actions", key="map", factory=list,
                         unset="CC 64 (a sustain pedal) plays and pauses")
    osc_listen: tuple[str, int] | None = setting(Address(), "OSC control in: a port (on 127.0.0.1, this machine "
                                                 "only), or 'host:port' ('0.0.0.0:9000': every network interface)",
                                                 default=None, unset="no OSC control")
    osc_send: list = setting(Addresses(), "the players' data out over OSC: 'host:port' or a list of them",
                             factory=list, unset="none")


# ---------------------------------------------------------------------------------------------------------- sync

@dataclass
class SyncConfig:
    _title = "[sync]"
    mtc_in: str | None = setting(Str(), "chase MTC from this MIDI input port (a DAW)", default=None, unset="none")
    mtc_out: str | None = setting(Str(), "send MTC on a MIDI output port of this name (stage as master)",
                                  default=None, unset="none")
    mtc_rate: float | None = setting(Number(approx=(23.976, 24, 25, 29.97, 30), message="{v} is not an MTC rate; "
                                            "valid: 23.976, 24, 25, 29.97, 30"),
                                     "treat incoming MTC as this rate (23.976 for a \"24\" code ...)", default=None,
                                     unset="the rate the code says")
    clock_out: str | None = setting(Str(), "send MIDI clock on a MIDI output port of this name (may be mtc_out's)",
                                    default=None, unset="none")
    clock_bpm: float | None = setting(Number(20, 400, "beats a minute"), "MIDI clock's tempo", default=None,
                                      unset="the first cue's tempo, else 120")


# ------------------------------------------------------------------------------------------------------- session

# --------------------------------------------------------------------------------------------------------- takes

@dataclass
class TakesConfig:
    _title = "[takes]"
    folder: Path | None = setting(FolderPath("takes"), "where takes are recorded: one folder per take inside it",
                                  default=None, unset="takes/ beside the session file")
    keep_free_minutes: float = setting(Number(1, 24 * 60, "minutes of audio"),
                                       "a take is refused unless the disk has room for this many minutes of "
                                       "every input channel", default=10.0)


@dataclass
class Session:
    _title = "the session"
    _unknown = "unknown section; valid sections: {valid}"
    path: Path
    film: FilmConfig = setting(Section(FilmConfig), "the film and its loop",
                               required="missing [film] section (film.file is required)")
    display: DisplayConfig = setting(Section(DisplayConfig), "the picture", factory=DisplayConfig)
    audio: AudioConfig = setting(Section(AudioConfig), "the audio input", factory=AudioConfig)
    players: list[PlayerConfig] = setting(Tables(PlayerConfig, "players are written as [[players]] tables, one each"),
                                          "the players", factory=list)
    control: ControlConfig = setting(Section(ControlConfig), "MIDI and OSC control", factory=ControlConfig)
    cues: list = setting(Tables(CueConfig, "cues are written as [[cues]] tables, one each"),
                         "named loops with hit points, switched live", factory=list,
                         unset="one cue over [film] in/out")
    cues_from_film: bool = False                   # no [[cues]]: the one cue is [film] in/out
    sync: SyncConfig = setting(Section(SyncConfig), "timecode and clock", factory=SyncConfig)
    takes: TakesConfig = setting(Section(TakesConfig), "recording takes", factory=TakesConfig)
    lines: dict = field(default_factory=dict, repr=False)   # key path -> line
    raw: dict = field(default_factory=dict, repr=False)     # the file as TOML read it

    def error(self, key: str, message: str) -> SessionError:
        return SessionError(self.path, line_of(self.lines, key), key, message)

    def _after(self, chk) -> None:
        if not self.players:
            raise chk.fail("players", "no players: add at least one [[players]] table with name and channel")
        self.cues_from_film = not self.cues
        if self.cues_from_film:
            self.cues = [CueConfig("loop", self.film.loop_in, self.film.loop_out)]
