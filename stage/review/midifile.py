"""Notes to a Standard MIDI File (format 1), read by any DAW and by mido.

Two kinds of time:

- **beats** (a sound file's transcription): 480 ticks a beat at 120 beats a minute, so a
  second is 960 ticks and the notes sit at their seconds from the file's first sample;
- **SMPTE** (a take's): the division and the SMPTE offset event of the take's own MIDI file
  (stage.takes.smf: the film's label rate, 100 ticks a frame), the offset the film's
  timecode at the file's time zero, so the notes land on the frames they were played to.

The conductor track holds the tempo or the SMPTE offset, and markers (FF 06); each further
track is one player: its name (FF 03) and its notes, on a channel of its own (channel 10,
the drums' in General MIDI, is left out), or for a MIDI player the messages as played.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..takes import smf

BEAT_TICKS = 480
TEMPO_US = 500_000            # 120 beats a minute


@dataclass
class TrackSpec:
    name: str
    notes: list = field(default_factory=list)        # stage.review.notes.Note (times in seconds from zero)
    messages: list = field(default_factory=list)     # (seconds from zero, bytes): a MIDI player's, as played
    channel: int | None = None                       # 0-15 (None: the track's own)


def _channels():
    return [c for c in range(16) if c != 9]


def encode(tracks: list[TrackSpec], *, smpte: smf.Division | None = None, start_label: str | None = None,
           start_fraction: float = 0.0, title: str = "", markers=()) -> bytes:
    """The file's bytes. ``markers``: (seconds from zero, text). Times before zero are dropped
    (they would land before the file's start)."""
    if smpte is not None:
        per_s = smpte.ticks_per_second
        head_div = smpte.header_word()
    else:
        per_s = BEAT_TICKS * 1e6 / TEMPO_US
        head_div = BEAT_TICKS.to_bytes(2, "big")

    def tick(t: float) -> int:
        return max(0, int(math.floor(t * per_s + 0.5)))

    conductor = smf.Track(title)
    if smpte is not None and start_label is not None:
        conductor.events += b"\x00" + smf.smpte_offset(smpte, start_label, start_fraction)
    if smpte is None:
        conductor.events += b"\x00" + smf.meta(0x51, TEMPO_US.to_bytes(3, "big"))
        conductor.events += b"\x00" + smf.meta(0x58, bytes([4, 2, 24, 8]))
    for t, text in sorted(markers):
        if t >= 0:
            conductor.add(tick(t), smf.meta(0x06, str(text).encode("utf-8")))
    chunks = [conductor.chunk()]
    free = _channels()
    for k, spec in enumerate(tracks):
        tr = smf.Track(spec.name)
        ch = spec.channel if spec.channel is not None else free[k % len(free)]
        events = []                          # (tick, order, bytes): at one tick, offs before ons
        for n in spec.notes:
            if n.end <= 0:
                continue
            on, off = tick(max(0.0, n.start)), tick(n.end)
            off = max(off, on + 1)
            note = max(0, min(127, int(n.midi)))
            events.append((on, 1, bytes([0x90 | ch, note, max(1, min(127, int(n.velocity)))])))
            events.append((off, 0, bytes([0x80 | ch, note, 0])))
        for t, data in spec.messages:
            ev = smf.channel_event(bytes(data))
            if ev is not None and t >= 0:
                events.append((tick(t), 2, ev))
        events.sort(key=lambda e: (e[0], e[1]))
        for tk, _o, ev in events:
            tr.add(tk, ev)
        chunks.append(tr.chunk())
    head = b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big") + len(chunks).to_bytes(2, "big") + head_div
    return head + b"".join(chunks)


def write(path, tracks: list[TrackSpec], **kw) -> None:
    """Write the file (temp + rename: a reader never sees half of it)."""
    import os
    from pathlib import Path
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(encode(tracks, **kw))
    os.replace(tmp, path)
