"""Repair a take left unfinished (stage killed, the machine lost power, a disk that filled).

What a crash leaves: the WAV's and the analysis files' headers as of the last sync (at most
a second old) with more whole frames and rows after them, perhaps a frame or a row written
only in part at the end, a MIDI log with perhaps a torn last line, a ``.mid`` as of the last
sync, and a manifest that says ``"state": "recording"``. ``repair_take`` makes each file say
what is on disk (whole frames and rows only), rebuilds the ``.mid`` from the log, and marks
the manifest ``"state": "repaired"`` with what it did. It is idempotent: a second run finds
nothing to do and changes nothing. A take still being recorded (its ``.lock`` held by a live
process) is refused.
"""

from __future__ import annotations

import errno
import fcntl
import math
import os
from datetime import datetime
from pathlib import Path

from . import manifest as mf
from . import records, smf, wav
from .folders import TakeError


def _locked(folder: Path) -> bool:
    """Whether a live process records this take (holds its .lock)."""
    try:
        fd = os.open(folder / ".lock", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def needs_repair(m: dict) -> bool:
    return not m.get("clean") and m.get("state") != "repaired"


def find_unfinished(takes_dir) -> list[Path]:
    """Take folders in ``takes_dir`` left unfinished and not yet repaired (and not being
    recorded now), oldest first: for the next start to repair."""
    takes_dir = Path(takes_dir)
    out = []
    try:
        entries = sorted(os.scandir(takes_dir), key=lambda e: e.name)
    except FileNotFoundError:
        return []
    for e in entries:
        if not e.is_dir() or not os.path.exists(os.path.join(e.path, mf.NAME)):
            continue
        try:
            m = mf.read(e.path)
        except TakeError:
            continue
        if needs_repair(m) and not _locked(Path(e.path)):
            out.append(Path(e.path))
    return out


def _rebuild_mid(folder: Path, m: dict, done: list[str]) -> None:
    from .files import _timecode_format
    files = m.get("files", {})
    mid, log = files.get("midi"), files.get("midi_log")
    if not mid or not log:
        return
    log_path = folder / log
    blob = log_path.read_bytes() if log_path.exists() else b""
    try:
        events, torn = smf.read_log(blob)
    except (ValueError, KeyError) as e:
        raise TakeError(folder, f"{log}: cannot be read: {e}") from None
    if torn:
        with open(log_path, "r+b") as f:
            f.truncate(len(blob) - torn)
            os.fsync(f.fileno())
        done.append(f"{log}: dropped a torn last line ({torn} bytes)")
    tc = _timecode_format(folder, m["film"])
    start = m.get("start", {})
    frame = float(start.get("frame", 0.0))
    label = start.get("timecode") or tc.label(int(math.floor(frame)))
    name = f"{Path(mid).stem} {m.get('cue', '')}".strip()
    song = smf.Song(smf.division_for(tc.fps, tc.drop_frame), float(start["monotonic_raw"]), name, label,
                    frame - math.floor(frame) if "frame" in start else 0.0)
    for t, port, data in events:
        song.add(t, port, data)
    for mk in _markers(folder, m, done):
        song.marker(mk["t_capture"], mk["label"] or mk["timecode"])
    new = song.to_bytes()
    path = folder / mid
    old = path.read_bytes() if path.exists() else None
    if old != new:
        tmp = folder / (mid + ".tmp")
        with open(tmp, "wb") as f:
            f.write(new)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        done.append(f"{mid}: rebuilt from {log} ({song.events} events"
                    f"{', was missing' if old is None else ''})")
    m["midi_events"] = song.events


def _markers(folder: Path, m: dict, done: list[str]) -> list[dict]:
    import csv
    rel = m.get("files", {}).get("markers")
    if not rel or not (folder / rel).exists():
        return []
    path = folder / rel
    blob = path.read_bytes()
    end = blob.rfind(b"\n") + 1
    if end < len(blob):
        with open(path, "r+b") as f:
            f.truncate(end)
            os.fsync(f.fileno())
        done.append(f"{rel}: dropped a torn last line ({len(blob) - end} bytes)")
    rows = list(csv.DictReader(blob[:end].decode("utf-8").splitlines()))
    out = [{"t_capture": float(r["t_capture"]), "take_s": float(r["take_s"]), "frame": int(r["frame"]),
            "timecode": r["timecode"], "label": r["label"]} for r in rows]
    m["markers"] = out
    return out


def repair_take(folder) -> list[str]:
    """Repair one take folder; returns what it did, in words (empty when it was whole).
    Raises TakeError when it is not a take, is being recorded, or a file cannot be fixed."""
    folder = Path(folder)
    m = mf.read(folder)
    if _locked(folder):
        raise TakeError(folder, "is being recorded now (a running stage holds its .lock); not touched")
    done: list[str] = []
    try:
        for leftover in sorted(folder.glob("*.tmp")):
            leftover.unlink()
            done.append(f"{leftover.name}: removed (a file half written when it stopped)")
        files = m.get("files", {})
        audio = files.get("audio")
        if audio:
            path = folder / audio
            if not path.exists():
                raise TakeError(folder, f"the audio file {audio} is missing")
            try:
                done += wav.repair(path, m.get("channels"), m.get("samplerate"))
                info = wav.read_info(path)
            except wav.WavFormatError as e:
                raise TakeError(folder, str(e)) from None
            m["frames"] = info.header_frames
            m["seconds"] = round(info.header_frames / info.samplerate, 6)
        rows = {}
        for player, rel in files.get("analysis", {}).items():
            path = folder / rel
            if not path.exists():
                done.append(f"{rel}: missing (no analysis of {player})")
                continue
            try:
                done += records.repair(path)
                rows[player] = records.read_info(path)[1]
            except records.RecordFormatError as e:
                raise TakeError(folder, str(e)) from None
        m["analysis_rows"] = rows
        _rebuild_mid(folder, m, done)
        reserve = folder / ".reserve"
        if reserve.exists():
            reserve.unlink()
            done.append(".reserve: removed (the room kept to finish the files)")
        if needs_repair(m):
            if not done:
                done.append("every file was whole (it stopped just after a sync)")
            was = m.get("state")
            m["state"] = "repaired"
            m["repaired"] = {"at": datetime.now().astimezone().isoformat(timespec="milliseconds"),
                             "was": was, "actions": list(done)}
            mf.write(folder, m)
            lock = folder / ".lock"
            if lock.exists():
                lock.unlink()
        elif done:
            m.setdefault("repaired_again", []).append(
                {"at": datetime.now().astimezone().isoformat(timespec="milliseconds"), "actions": list(done)})
            mf.write(folder, m)
    except OSError as e:
        why = "the disk is full" if e.errno in (errno.ENOSPC, errno.EDQUOT) else e.strerror
        raise TakeError(folder, f"cannot repair: {why} ({Path(e.filename).name if e.filename else 'writing'})") from None
    return done


def repair_all(takes_dir) -> dict[Path, list[str]]:
    """Repair every unfinished take in ``takes_dir`` (what the next start does)."""
    return {f: repair_take(f) for f in find_unfinished(takes_dir)}
