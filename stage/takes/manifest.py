"""``manifest.json``: what a take is and which files hold it, always whole on disk.

Written to ``manifest.json.tmp``, flushed to disk and renamed over ``manifest.json`` (then
the folder is flushed), so a reader, or a crash, finds the old manifest or the new one,
never half of one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .folders import TakeError

NAME = "manifest.json"
FORMAT = "stage-take"
VERSION = 1


def encode(manifest: dict) -> bytes:
    return (json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def write(folder, manifest: dict, durable: bool = True) -> None:
    """Write ``manifest`` atomically (temp + rename); with ``durable``, flushed to disk."""
    write_blob(folder, encode(manifest), durable)


def write_blob(folder, blob: bytes, durable: bool = True) -> None:
    """Write an encoded manifest atomically (temp + rename); with ``durable``, flushed to disk."""
    folder = Path(folder)
    tmp = folder / (NAME + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(blob)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fdatasync(fd)
    except BaseException:
        os.close(fd)
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    os.close(fd)
    os.replace(tmp, folder / NAME)
    if durable:
        sync_dir(folder)


def sync_dir(folder) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read(folder) -> dict:
    """The take's manifest; TakeError (naming the file, and the line of a JSON error) when it
    is missing or cannot be read."""
    path = Path(folder) / NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TakeError(folder, f"no {NAME}: not a take folder") from None
    except OSError as e:
        raise TakeError(folder, f"cannot read {NAME}: {e.strerror}") from None
    try:
        m = json.loads(text)
    except json.JSONDecodeError as e:
        raise TakeError(folder, f"{NAME} line {e.lineno} column {e.colno}: {e.msg}") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise TakeError(folder, f"{NAME}: key 'format' is not {FORMAT!r}: not a stage take")
    return m
