"""What takes a folder holds: ``list_takes`` (and ``stage takes``)."""

from __future__ import annotations

import os
from pathlib import Path

from . import manifest as mf
from . import wav
from .folders import TakeError, parse_folder_name
from .repair import _locked


def _size(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for f in files:
            if f == ".reserve":
                continue
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def describe(folder) -> dict:
    """One take: folder, path, cue, take, start_timecode, started (wall clock), duration_s
    (the whole frames on disk, so right for an unfinished take too), frames, samplerate,
    channels, players, size_bytes, status ("clean", "repaired", "unfinished", "recording",
    "broken") and error (what stopped it early, or why it cannot be read)."""
    folder = Path(folder)
    row = {"folder": folder.name, "path": str(folder), "cue": None, "take": None, "start_timecode": None,
           "started": None, "duration_s": None, "frames": None, "samplerate": None, "channels": None,
           "players": [], "size_bytes": _size(folder), "status": "broken", "error": None}
    parsed = parse_folder_name(folder.name)
    if parsed:
        row["cue"], row["take"] = parsed[0], parsed[1]
    try:
        m = mf.read(folder)
    except TakeError as e:
        row["error"] = e.reason
        return row
    start = m.get("start", {})
    row.update(cue=m.get("cue", row["cue"]), take=m.get("take", row["take"]), start_timecode=start.get("timecode"),
               started=start.get("wall"), samplerate=m.get("samplerate"), channels=m.get("channels"),
               players=[p.get("name") for p in m.get("players", [])], error=m.get("error"))
    audio = m.get("files", {}).get("audio")
    try:
        info = wav.read_info(folder / audio)
        row["frames"] = info.disk_frames
        row["duration_s"] = info.disk_frames / info.samplerate
    except (OSError, TypeError, wav.WavFormatError) as e:
        row["error"] = row["error"] or f"audio: {e}"
    if _locked(folder):
        row["status"] = "recording"
    elif m.get("state") == "repaired":
        row["status"] = "repaired"
    elif m.get("clean"):
        row["status"] = "clean"
    else:
        row["status"] = "unfinished"
    return row


def load_analysis(folder, mmap: bool = False) -> dict:
    """Every player's analysis in a take (``{name: structured array}``, ANALYSIS_DTYPE), as far
    as it is on disk: a take being recorded reads up to its last sync (the ghost of the last
    pass, ``--ghost TAKE``). ``mmap`` maps the files instead of reading them."""
    import numpy as np
    folder = Path(folder)
    m = mf.read(folder)
    out = {}
    for player, rel in m.get("files", {}).get("analysis", {}).items():
        try:
            out[player] = np.load(folder / rel, mmap_mode="r" if mmap else None)
        except (OSError, ValueError) as e:
            raise TakeError(folder, f"{rel}: cannot be read: {e}") from None
    return out


def is_take(folder) -> bool:
    return (Path(folder) / mf.NAME).is_file()


def list_takes(takes_dir) -> list[dict]:
    """Every take in ``takes_dir`` (see ``describe`` for the keys), in the order they were
    started. Folders that look like takes but whose manifest cannot be read are listed as
    "broken" with the reason; other folders and files are left out."""
    takes_dir = Path(takes_dir)
    try:
        entries = [e for e in os.scandir(takes_dir) if e.is_dir()]
    except FileNotFoundError:
        raise TakeError(takes_dir, "no such folder") from None
    except NotADirectoryError:
        raise TakeError(takes_dir, "not a folder") from None
    rows = [describe(e.path) for e in entries if is_take(e.path) or parse_folder_name(e.name)]
    rows.sort(key=lambda r: (r["started"] or "", r["folder"]))
    return rows
