"""A take's audio: one 32-bit float WAV that grows while it is read, and becomes RF64 past 4 GiB.

The layout is fixed, so the header can be rewritten in place at any time (``sync``) and
repaired from the file's size after a crash::

    offset  bytes  chunk
    0       12     "RIFF" <size> "WAVE"          ("RF64" 0xFFFFFFFF "WAVE" past the limit)
    12      36     "JUNK" 28 bytes of zeros        ("ds64": RIFF size, data size, frames, 0)
    48      48     "fmt " WAVE_FORMAT_EXTENSIBLE, IEEE float, 32 bits, no speaker mask
    96      12     "fact" frames                   (0xFFFFFFFF in RF64)
    108     8      "data" <size>                   (0xFFFFFFFF in RF64)
    116     ...    frames, interleaved little-endian float32, exactly as given

This is EBU Tech 3306's way (the one libsndfile and Ardour use, RF64 that is a plain WAV
while it is small): the JUNK chunk keeps the room a ds64 chunk needs, so a WAV that crosses
``limit`` becomes RF64 by rewriting its first 116 bytes, with no data moved. Plain WAV
readers read the file while it is under 4 GiB; RF64 readers (libsndfile, FFmpeg, SoX,
every DAW) read it at any size.

Why not libsndfile for writing: it writes the header only at open and close (and on
SFC_UPDATE_HEADER_NOW), it does not say how many bytes of a frame reached the disk when a
write fails half way (disk full), and its 4 GiB switch cannot be tried without writing
4 GiB. The frames are written with ``os.write`` exactly as given, and libsndfile
(soundfile) and FFmpeg read them back in the tests.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

HEADER_BYTES = 116
DATA_OFFSET = HEADER_BYTES
WAV_LIMIT = 0xFFFFFFFF          # a RIFF chunk's size field is 32 bits: past this the file is RF64
_U32_MAX = 0xFFFFFFFF
_FLOAT_GUID = bytes.fromhex("0300000000001000800000aa00389b71")   # KSDATAFORMAT_SUBTYPE_IEEE_FLOAT
_EXTENSIBLE = 0xFFFE


class WavFormatError(ValueError):
    """A file that is not a WAV or RF64 this module can read or repair."""


def header(channels: int, samplerate: int, frames: int, limit: int = WAV_LIMIT) -> bytes:
    """The 116-byte header for ``frames`` frames: plain WAV while the RIFF size stays within
    ``limit`` (4 GiB - 1; smaller in tests, the same code), RF64 past it."""
    if channels < 1 or samplerate < 1:
        raise ValueError(f"channels and samplerate must be positive, got {channels}, {samplerate}")
    block = 4 * channels
    data = frames * block
    riff = HEADER_BYTES - 8 + data
    fmt = struct.pack("<HHIIHHHHI16s", _EXTENSIBLE, channels, samplerate, samplerate * block, block, 32,
                      22, 32, 0, _FLOAT_GUID)
    if riff <= limit and data <= limit and riff <= _U32_MAX:
        return b"".join([b"RIFF", struct.pack("<I", riff), b"WAVE",
                         b"JUNK", struct.pack("<I", 28), bytes(28),
                         b"fmt ", struct.pack("<I", len(fmt)), fmt,
                         b"fact", struct.pack("<II", 4, min(frames, _U32_MAX)),
                         b"data", struct.pack("<I", data)])
    return b"".join([b"RF64", struct.pack("<I", _U32_MAX), b"WAVE",
                     b"ds64", struct.pack("<IQQQI", 28, riff, data, frames, 0),
                     b"fmt ", struct.pack("<I", len(fmt)), fmt,
                     b"fact", struct.pack("<II", 4, _U32_MAX),
                     b"data", struct.pack("<I", _U32_MAX)])


@dataclass(frozen=True)
class WavInfo:
    """What a take's WAV says and what its file holds."""
    form: str               # "WAV" or "RF64"
    channels: int
    samplerate: int
    header_frames: int      # frames the header claims
    data_offset: int
    file_bytes: int

    @property
    def block(self) -> int:
        return 4 * self.channels

    @property
    def disk_frames(self) -> int:
        """Whole frames on disk after the header."""
        return max(0, self.file_bytes - self.data_offset) // self.block

    @property
    def torn_bytes(self) -> int:
        """Bytes of a frame that was only partly written."""
        return max(0, self.file_bytes - self.data_offset) % self.block


def read_info(path) -> WavInfo:
    """Parse a WAV/RF64 written by this module (or any float32 WAV whose data chunk is last)."""
    with open(path, "rb") as f:
        head = f.read(4096)
        size = os.fstat(f.fileno()).st_size
    if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RF64"):
        raise WavFormatError(f"{path}: not a WAV or RF64 file (starts {head[:12]!r})")
    form = "RF64" if head[:4] == b"RF64" else "WAV"
    pos, ds64_data, ds64_frames, channels, rate, bits, tag = 12, None, None, None, None, None, None
    while pos + 8 <= len(head):
        cid, n = head[pos:pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        body = pos + 8
        if cid == b"ds64":
            _riff, ds64_data, ds64_frames = struct.unpack_from("<QQQ", head, body)
        elif cid == b"fmt ":
            tag, channels, rate, _bps, _align, bits = struct.unpack_from("<HHIIHH", head, body)
            if tag == _EXTENSIBLE and n >= 40 and head[body + 24:body + 40] != _FLOAT_GUID:
                tag = -1
        elif cid == b"data":
            if channels is None:
                raise WavFormatError(f"{path}: data chunk before any fmt chunk")
            if tag not in (3, _EXTENSIBLE) or bits != 32:
                raise WavFormatError(f"{path}: not 32-bit float (format tag {tag}, {bits} bits)")
            data = ds64_data if (form == "RF64" and n == _U32_MAX) else n
            return WavInfo(form, channels, rate, data // (4 * channels), body, size)
        pos = body + n + (n & 1)
    if len(head) < HEADER_BYTES:
        raise WavFormatError(f"{path}: header cut short ({len(head)} bytes)")
    raise WavFormatError(f"{path}: no data chunk in its first 4096 bytes")


def repair(path, channels: int | None = None, samplerate: int | None = None,
           limit: int = WAV_LIMIT) -> list[str]:
    """Make the header say what the file holds: whole frames only (a torn last frame is cut
    off), RF64 when it is past ``limit``. A file cut off inside its header (a crash while the
    take was being opened) gets a new one from ``channels`` and ``samplerate``. Returns what
    it did, in words; nothing when the file was whole."""
    name = os.path.basename(path)
    try:
        info = read_info(path)
    except WavFormatError:
        size = os.path.getsize(path)
        if size > HEADER_BYTES or channels is None or samplerate is None:
            raise
        with open(path, "r+b") as f:
            f.truncate(HEADER_BYTES)
            f.seek(0)
            f.write(header(channels, samplerate, 0, limit))
            f.flush()
            os.fsync(f.fileno())
        return [f"{name}: the header was cut short ({size} bytes); wrote an empty one"]
    if info.data_offset != DATA_OFFSET:
        raise WavFormatError(f"{path}: data at byte {info.data_offset}, not {DATA_OFFSET}: not a take's WAV")
    done = []
    frames = info.disk_frames
    with open(path, "r+b") as f:
        if info.torn_bytes:
            f.truncate(DATA_OFFSET + frames * info.block)
            done.append(f"{name}: cut {info.torn_bytes} bytes of a frame written only in part")
        new = header(info.channels, info.samplerate, frames, limit)
        f.seek(0)
        old = f.read(HEADER_BYTES)
        if old != new:
            f.seek(0)
            f.write(new)
            form = "RF64" if new[:4] == b"RF64" else "WAV"
            became = f", now {form}" if form != info.form else ""
            done.append(f"{name}: the header said {info.header_frames} frames "
                        f"({info.header_frames / info.samplerate:.3f} s); {frames} whole frames "
                        f"({frames / info.samplerate:.3f} s) are on disk; header rewritten{became}")
        if done:
            f.flush()
            os.fsync(f.fileno())
    return done
