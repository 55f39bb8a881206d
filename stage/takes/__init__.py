"""Takes: every pass recorded, readable by any program, kept through a crash.

The storage the recorder hands its data to. One folder per take, one writer thread:

- ``new_take_folder(takes_dir, cue_name) -> Path`` makes ``<cue>-<take>-<YYYY-MM-DD_HH-MM-SS>``
  (folders.py); ``default_takes_dir(session_path)`` is ``takes/`` beside the session file.
- ``check_can_record(takes_dir, channels, samplerate, minutes) -> None`` raises ``TakeError``
  (``.folder``, ``.reason``) when the folder cannot be created or written, or holds less free
  space than the take needs (saying how much is needed and free, in GB and minutes).
- ``TakeFiles(folder, manifest)`` (files.py): ``write_audio(frames)``, ``write_analysis(player,
  rows)``, ``write_midi(t, message, port="")``, ``add_marker(t, frame, label)``,
  ``note_gap(t_from, t_to, reason)``, ``sync()`` (about once a second), ``close()``; its
  ``status`` (a ``TakeStatus``: state, error, frames, seconds, bytes_written, free_bytes,
  seconds_left, dropped counts, worst_sync_s) for the HUD. A disk error stops the take and
  never raises into the caller's loop.
- ``repair_take(folder) -> list[str]`` and ``find_unfinished(takes_dir) -> list[Path]``
  (repair.py): what a crash left, made whole; idempotent.
- ``list_takes(takes_dir) -> list[dict]`` (listing.py): cue, take, start timecode, duration,
  players, size, status; ``load_analysis(folder) -> {player: rows}`` for the ghost.

The files, each readable without stage (the README says how): a 32-bit float WAV that
becomes RF64 past 4 GiB (wav.py), one ``.npy`` of analysis records per player (records.py),
a Standard MIDI File with SMPTE division and its append-only log (smf.py), ``markers.csv``,
and ``manifest.json`` (manifest.py).
"""

from .files import RESERVE_BYTES, OsIO, TakeFiles, TakeStatus
from .folders import (TakeError, check_can_record, default_takes_dir, free_bytes, new_take_folder,
                      parse_folder_name, safe_name)
from .listing import describe, list_takes, load_analysis
from .records import ANALYSIS_DTYPE, analysis_rows
from .repair import find_unfinished, repair_all, repair_take
from .wav import WAV_LIMIT

__all__ = ["ANALYSIS_DTYPE", "RESERVE_BYTES", "WAV_LIMIT", "OsIO", "TakeError", "TakeFiles", "TakeStatus",
           "analysis_rows", "check_can_record", "default_takes_dir", "describe", "find_unfinished", "free_bytes",
           "list_takes", "load_analysis", "new_take_folder", "parse_folder_name", "repair_all", "repair_take", "safe_name"]
