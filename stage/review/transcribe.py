"""``stage transcribe``: a sound file's line, or a take's players, as a Standard MIDI File.

A sound file: one channel, the live tracker over it with the instrument's range, the notes
(stage.review.notes) in a file of beats at 120 a minute (a second is two beats), time zero
the file's first sample.

A take: one track per player. An audio player's notes are transcribed from **the take's
audio** (its WAV channel, re-analysed now): the WAV is the take's record of what was played,
bit for bit, and analysing it again uses the tracker the program has now, with the player's
gain and noise floor, over every hop (a live analysis that fell behind has lapped hops; the
sound file has none). ``--from analysis`` uses the analysis recorded live instead (what the
stage showed that night), and it is used when the audio file is not there. A MIDI player's
track holds its messages as played (its port and channel, from the take's MIDI log). The
file has the take's SMPTE division and an SMPTE offset event at the film's timecode at its
time zero (to the sub-frame, from the film's place fitted to the recorded rows: see
stage.review.take.FilmClock): the take's start, or with ``--pass N`` the in point of the
take's N-th pass, when only that pass's notes are written; a DAW places it on the frames it
was played to. Markers: the take's, and the start of each pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import midifile
from .notes import NoteSettings, Rows, analyze_rows, notes_from_rows


@dataclass
class TrackReport:
    player: str
    source: str             # "audio channel N", "recorded analysis", "MIDI port X"
    notes: int


def transcribe_file(path, out, lowest: int, highest: int, channel: int = 1, hop: int = 256) -> list:
    """Write ``out`` (a .mid) with the notes of ``channel`` of the sound file ``path``; returns the notes."""
    import soundfile as sf
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    if not 1 <= channel <= data.shape[1]:
        raise ValueError(f"{path} has {data.shape[1]} channel(s); --channel must be 1-{data.shape[1]}")
    notes = notes_from_rows(analyze_rows(data[:, channel - 1], sr, lowest, highest, hop))
    midifile.write(out, [midifile.TrackSpec(Path(path).stem, notes)], title=Path(path).name)
    return notes


def player_rows(take, p, source: str = "audio", audio=None) -> tuple[Rows, str]:
    """A player's tracker rows on the take's capture times, and where they came from."""
    path = take.file("audio")
    if source == "audio" and path is not None and path.exists():
        if audio is None:
            audio = take.audio()
        if not 1 <= p.channel <= audio.shape[1]:
            raise ValueError(f"player {p.name}: channel {p.channel} is not in the take's audio "
                             f"({audio.shape[1]} channels)")
        rows = analyze_rows(audio[:, p.channel - 1], take.samplerate, p.lowest, p.highest,
                            gain_db=getattr(p, "gain_db", 0.0), noise_floor=getattr(p, "noise_floor", None))
        frames = np.rint(rows.t * take.samplerate).astype(np.int64)
        times = take.frame_times(len(audio))
        return Rows(times[np.clip(frames, 0, len(times) - 1)], rows.f0, rows.conf, rows.level, rows.onset), \
            f"audio channel {p.channel} (re-analysed)"
    return Rows.from_records(take.analysis(p.name)), "recorded analysis" + (
        "" if source == "analysis" else " (the take has no audio file)")


def start_label(take, t: float) -> tuple[str, float]:
    """The film's timecode label at capture time ``t``, and the fraction of a frame past it."""
    c = take.clock
    q = c.seq_at(t)
    whole = math.floor(q + 1e-9)
    frame = c.loop_in + int(whole) % c.length
    return take.tc.label(frame), min(0.999, max(0.0, q - whole))


def transcribe_take(take, out, source: str = "audio", pass_no: int | None = None,
                    settings: NoteSettings | None = None) -> list[TrackReport]:
    """Write the take's notes to ``out`` (see the module's docstring); returns a line per track."""
    from ..takes import smf
    passes = take.passes()
    t_zero, t_end = take.t0, take.t0 + take.seconds
    if pass_no is not None:
        if not 1 <= pass_no <= len(passes):
            raise ValueError(f"the take holds {len(passes)} pass(es); --pass must be 1-{len(passes)}")
        _n, t_zero, t_end = passes[pass_no - 1]
    audio = None
    if source == "audio" and take.file("audio") is not None and take.file("audio").exists():
        audio = take.audio()
    tracks, report = [], []
    for p in take.players:
        if p.is_midi:
            msgs = [(t - t_zero, d) for t, d in take.player_messages(p) if t_zero <= t < t_end]
            tracks.append(midifile.TrackSpec(p.name, messages=msgs,
                                             channel=None if p.midi_channel is None else p.midi_channel - 1))
            report.append(TrackReport(p.name, f"MIDI port {p.midi!r} as played", sum(
                1 for _t, d in msgs if d[0] & 0xF0 == 0x90 and len(d) > 2 and d[2] > 0)))
            continue
        rows, how = player_rows(take, p, source, audio)
        s = settings or NoteSettings(floor_db=getattr(p, "noise_floor", -50.0))
        notes = [n for n in notes_from_rows(rows, s) if t_zero <= n.start < t_end]
        notes = [replace(n, start=n.start - t_zero, end=min(n.end, t_end) - t_zero) for n in notes]
        tracks.append(midifile.TrackSpec(p.name, notes))
        report.append(TrackReport(p.name, how, len(notes)))
    label, frac = start_label(take, t_zero)
    markers = [(mk["t_capture"] - t_zero, mk.get("label") or mk.get("timecode", "marker")) for mk in take.markers
               if t_zero <= mk["t_capture"] < t_end]
    markers += [(a - t_zero, f"pass {n}") for n, a, _b in passes if t_zero <= a < t_end]
    div = smf.division_for(take.fps, take.tc.drop_frame)
    midifile.write(out, tracks, smpte=div, start_label=label, start_fraction=frac,
                   title=f"{take.name} {take.manifest.get('cue', '')}".strip(), markers=markers)
    return report
