"""A take's MIDI: a Standard MIDI File with SMPTE division, rebuilt from an append-only log.

The file (format 1)::

    MThd  format 1, 1 + one track per input port, division = -<rate> <ticks per frame>
    track 0: track name (the take), SMPTE offset (FF 54: the film's timecode at the take's
             first sample), a marker (FF 06) for each marker of the take, end of track
    track n: track name (the port), the port's channel messages and system exclusive

Division: SMF knows 24, 25, 29.97 drop-frame (written -29) and 30 frames a second. The code
is the film's nominal label rate (24 for 23.976 and 24, 25, 30 for 29.97 non-drop and 30;
-29 for drop-frame; 48, 50 and 60 use 24, 25 and 30 with half-frames in the offset's
sub-frames), and ``TICKS_PER_FRAME`` (100) ticks a frame. Ticks are real time at the
division's rate (seconds from the take's start x rate x 100), so every SMF reader puts each
event where it happened beside the take's audio; the SMPTE offset gives the film's label at
that start. (SMF has no 23.976 or 29.97 non-drop rate: there a DAW's timecode ruler and the
file's ticks differ by 0.1%, the real-time positions do not.)

Sidecar (``midi.jsonl``): one JSON object a line, appended as each message arrives,
``{"t": <CLOCK_MONOTONIC_RAW seconds>, "port": "<input port>", "data": "<hex bytes>"}``; a
line without its newline is torn and dropped. It holds every message; the ``.mid`` holds
channel messages and system exclusive (system common and real-time bytes, such as MIDI clock
or active sensing, have no place in an SMF track that every reader accepts). Repair rebuilds
the ``.mid`` from it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from fractions import Fraction

TICKS_PER_FRAME = 100
_RATE_BITS = {24: 0, 25: 1, 29: 2, 30: 3}      # the SMPTE offset's hour byte, bits 5-6 (as in MTC)


@dataclass(frozen=True)
class Division:
    code: int              # 24, 25, 29 (29.97 drop-frame) or 30
    ticks_per_frame: int
    per_label: int         # the film's label frames per SMF frame (2 for 48, 50, 60 fps)

    @property
    def rate(self) -> Fraction:
        """SMF frames a second in real time."""
        return Fraction(30000, 1001) if self.code == 29 else Fraction(self.code)

    @property
    def ticks_per_second(self) -> float:
        return float(self.rate) * self.ticks_per_frame

    def header_word(self) -> bytes:
        return bytes([(-self.code) & 0xFF, self.ticks_per_frame])


def division_for(fps, drop_frame: bool, ticks_per_frame: int = TICKS_PER_FRAME) -> Division:
    """The SMPTE division for a film (see the module's docstring)."""
    nominal = int(round(float(fps)))
    per = 2 if nominal in (48, 50, 60) else 1
    base = nominal // per
    if base not in (24, 25, 30):
        base = min((24, 25, 30), key=lambda r: abs(r - base))
    code = 29 if (drop_frame and base == 30) else base
    return Division(code, ticks_per_frame, per)


def vlq(n: int) -> bytes:
    """A variable-length quantity (SMF delta times and lengths)."""
    if n < 0:
        raise ValueError("negative variable-length quantity")
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def meta(kind: int, data: bytes) -> bytes:
    return bytes([0xFF, kind]) + vlq(len(data)) + data


def smpte_offset(div: Division, label: str, fraction: float) -> bytes:
    """FF 54 for the film label ``label`` ("HH:MM:SS:FF" or ";FF") plus ``fraction`` of a frame."""
    hh, mm, ss, ff = (int(x) for x in label.replace(";", ":").split(":"))
    sub = (ff % div.per_label + max(0.0, min(fraction, 0.999))) / div.per_label
    ff //= div.per_label
    return meta(0x54, bytes([(_RATE_BITS[div.code] << 5) | (hh & 0x1F), mm, ss, ff, min(99, int(sub * 100))]))


def channel_event(data: bytes) -> bytes | None:
    """A message's bytes as an SMF track event (without its delta), or None for one an SMF
    track cannot hold (system common and real-time) or that is malformed."""
    if not data:
        return None
    status = data[0]
    if status == 0xF0:
        body = data[1:] if data[-1] == 0xF7 else data[1:] + b"\xf7"
        return b"\xf0" + vlq(len(body)) + body
    if status < 0x80 or status >= 0xF0:
        return None
    want = 2 if (status & 0xF0) in (0xC0, 0xD0) else 3
    if len(data) != want or any(b >= 0x80 for b in data[1:]):
        return None
    return bytes(data)


@dataclass
class Track:
    """One track's events, encoded as they come (so writing the file is a concatenation)."""
    name: str
    events: bytearray = field(default_factory=bytearray)
    tick: int = 0
    count: int = 0

    def __post_init__(self):
        if self.name:
            self.events += b"\x00" + meta(0x03, self.name.encode("utf-8"))

    def add(self, tick: int, event: bytes) -> None:
        tick = max(self.tick, int(tick))         # out-of-order stamps keep their order of arrival
        self.events += vlq(tick - self.tick) + event
        self.tick = tick
        self.count += 1

    def chunk(self) -> bytes:
        body = bytes(self.events) + b"\x00\xff\x2f\x00"
        return b"MTrk" + len(body).to_bytes(4, "big") + body


class Song:
    """The take's MIDI file as it grows: the conductor track and one track per port."""

    def __init__(self, div: Division, t0: float, name: str, start_label: str | None, start_fraction: float = 0.0):
        self.div, self.t0 = div, t0
        self.conductor = Track(name)
        if start_label is not None:
            self.conductor.events += b"\x00" + smpte_offset(div, start_label, start_fraction)
        self.ports: dict[str, Track] = {}
        self.skipped = 0                      # messages an SMF track cannot hold (kept in the log)

    def tick(self, t: float) -> int:
        return max(0, int(math.floor((t - self.t0) * self.div.ticks_per_second + 0.5)))

    def add(self, t: float, port: str, data: bytes) -> bool:
        ev = channel_event(bytes(data))
        if ev is None:
            self.skipped += 1
            return False
        track = self.ports.get(port)
        if track is None:
            track = self.ports[port] = Track(port or "MIDI in")
        track.add(self.tick(t), ev)
        return True

    def marker(self, t: float, text: str) -> None:
        self.conductor.add(self.tick(t), meta(0x06, text.encode("utf-8")))

    @property
    def events(self) -> int:
        return sum(t.count for t in self.ports.values())

    def to_bytes(self) -> bytes:
        tracks = [self.conductor, *self.ports.values()]
        head = b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big") + len(tracks).to_bytes(2, "big")
        return head + self.div.header_word() + b"".join(t.chunk() for t in tracks)


def log_line(t: float, port: str, data: bytes) -> bytes:
    return (json.dumps({"t": t, "port": port, "data": bytes(data).hex()}, ensure_ascii=False) + "\n").encode("utf-8")


def read_log(blob: bytes) -> tuple[list[tuple[float, str, bytes]], int]:
    """The sidecar's messages, and how many bytes at its end are a torn line (to drop)."""
    out = []
    end = blob.rfind(b"\n") + 1
    for line in blob[:end].splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        out.append((float(d["t"]), str(d.get("port", "")), bytes.fromhex(d["data"])))
    return out, len(blob) - end
