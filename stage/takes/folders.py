"""Take folders: their names, their numbers, and whether a take can be recorded at all."""

from __future__ import annotations

import errno
import os
import re
import unicodedata
from datetime import datetime
from pathlib import Path

AUDIO_BYTES_PER_SAMPLE = 4                 # 32-bit float
OVERHEAD = 0.05                            # analysis, MIDI, markers: well under 5% of the audio
MARGIN_BYTES = 64 * 1024 * 1024            # and room to finish the files
DATE_FORMAT = "%Y-%m-%d_%H-%M-%S"
_FOLDER_RE = re.compile(r"^(?P<cue>.+)-(?P<take>\d+)-(?P<when>\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2})$")
_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
GB = 1e9


class TakeError(Exception):
    """A take that cannot be recorded, read or repaired: ``folder`` and ``reason`` say which
    and why."""

    def __init__(self, folder, reason: str):
        self.folder = Path(folder)
        self.reason = reason
        super().__init__(f"{self.folder}: {reason}")


def safe_name(text: str, limit: int = 80) -> str:
    """A cue or player name as a file name every file system takes: no separators, control
    or reserved characters, spaces as underscores, at most ``limit`` bytes of UTF-8."""
    s = unicodedata.normalize("NFC", str(text)).strip()
    s = _UNSAFE.sub("_", s)
    s = re.sub(r"\s+", "_", s).strip(". ")
    while len(s.encode("utf-8")) > limit:
        s = s[:-1]
    s = s.rstrip(". ") or "take"
    if s.split(".")[0].upper() in _RESERVED:
        s = "_" + s
    return s


def parse_folder_name(name: str) -> tuple[str, int, datetime] | None:
    """(safe cue name, take number, start) from ``<cue>-<take>-<date>_<time>``, or None."""
    m = _FOLDER_RE.match(name)
    if not m:
        return None
    try:
        when = datetime.strptime(m["when"], DATE_FORMAT)
    except ValueError:
        return None
    return m["cue"], int(m["take"]), when


def next_take_number(takes_dir, cue_name: str) -> int:
    """One more than the highest take of this cue in ``takes_dir`` (1 for the first)."""
    cue = safe_name(cue_name)
    best = 0
    try:
        entries = list(os.scandir(takes_dir))
    except FileNotFoundError:
        return 1
    for e in entries:
        p = parse_folder_name(e.name)
        if p is not None and p[0] == cue:
            best = max(best, p[1])
    return best + 1


def new_take_folder(takes_dir, cue_name: str, when: datetime | None = None) -> Path:
    """Create and return the folder for the next take of ``cue_name`` in ``takes_dir``:
    ``<cue>-<take number>-<YYYY-MM-DD_HH-MM-SS>`` (local time), e.g.
    ``1M1-3-2026-12-02_14-05-09``. Take numbers count per cue, one past the highest there;
    two takes started at once get different numbers (the folder is made with O_EXCL
    semantics). Raises TakeError when it cannot be made."""
    takes_dir = Path(takes_dir)
    when = when or datetime.now()
    cue = safe_name(cue_name)
    try:
        takes_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TakeError(takes_dir, f"cannot create the takes folder: {e.strerror}") from None
    n = next_take_number(takes_dir, cue_name)
    for _ in range(1000):
        folder = takes_dir / f"{cue}-{n}-{when.strftime(DATE_FORMAT)}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            n += 1
        except OSError as e:
            raise TakeError(folder, f"cannot create the take's folder: {e.strerror}") from None
    raise TakeError(takes_dir, f"no free take number for cue {cue_name!r}")


def default_takes_dir(session_path) -> Path:
    """``takes/`` beside the session file."""
    return Path(session_path).resolve().parent / "takes"


def bytes_per_second(channels: int, samplerate: int) -> float:
    """Disk a second of take needs: the audio and the rest (analysis, MIDI) on top."""
    return channels * samplerate * AUDIO_BYTES_PER_SAMPLE * (1 + OVERHEAD)


def free_bytes(path) -> int:
    """Bytes an unprivileged writer may still use on the file system holding ``path``."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def check_can_record(takes_dir, channels: int, samplerate: int, minutes: float) -> None:
    """Refuse, before recording starts, a take that cannot be written: raises TakeError when
    ``takes_dir`` cannot be created or written, or when its file system has less free space
    than ``minutes`` of ``channels`` channels at ``samplerate`` need (saying how much is
    needed and free, in GB and in minutes of audio at that channel count). Returns None when
    the take can go ahead."""
    takes_dir = Path(takes_dir)
    try:
        takes_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TakeError(takes_dir, f"cannot create the takes folder: {e.strerror}") from None
    probe = takes_dir / f".stage-write-test-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, bytes(4096))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        why = "the disk is full" if e.errno in (errno.ENOSPC, errno.EDQUOT) else e.strerror
        raise TakeError(takes_dir, f"cannot write to the takes folder: {why}") from None
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
    per_s = bytes_per_second(channels, samplerate)
    need = per_s * minutes * 60 + MARGIN_BYTES
    free = free_bytes(takes_dir)
    if free < need:
        can = max(0.0, (free - MARGIN_BYTES) / per_s / 60)
        raise TakeError(takes_dir, f"too little free space: a {minutes:g}-minute take of {channels} channels at "
                                   f"{samplerate} Hz needs {need / GB:.2f} GB, and {free / GB:.2f} GB are free "
                                   f"({can:.1f} minutes of {channels} channels)")
