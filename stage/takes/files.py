"""``TakeFiles``: every file of one take, written from one writer thread.

The recorder's writer thread opens a ``TakeFiles`` before recording starts, hands it what it
pulls from the capture ring, the analysis feeds, the MIDI inputs and the transport, calls
``sync()`` about once a second and ``close()`` at the end::

    folder = new_take_folder(takes_dir, cue.name)
    take = TakeFiles(folder, {
        "session": str(session.path), "cue": cue.name, "cue_index": 1,
        "devices": {"audio": "system", "midi": ["Nord"]},
        "samplerate": 48000, "channels": 8,
        "players": [{"name": "Trumpet", "channel": 1, "lowest": 52, "highest": 84},
                    {"name": "Rhodes", "midi": "Nord", "midi_channel": 1, "lowest": 28, "highest": 96}],
        "film": {"path": "reel1.mov", "fps": "24000/1001", "drop_frame": False,
                 "first_frame": "01:00:00:00", "loop": ["01:00:06:00", "01:00:11:00"]},
        "start": {"monotonic_raw": t_first_sample, "frame": film_frame_then},   # frame may be fractional
    })
    while recording:
        take.write_audio(block)                  # float32, frames x channels, as captured
        take.write_analysis("Trumpet", rows)     # ANALYSIS_DTYPE rows (records.py)
        take.write_midi(t, msg, port="Nord")     # raw bytes / list of ints / mido.Message
        take.add_marker(t, frame, "bar 17")
        if once_a_second:
            take.sync()
    take.close()

What the caller must do
-----------------------
The writer thread is the only caller. Every write method does one ``write`` of what it is
given and returns; ``sync()`` rewrites the headers in place (one small ``pwrite`` a file)
and hands the rest to the take's flusher thread, which waits for the disk (``fdatasync`` of
every file, the .mid and the manifest written and renamed into place): a disk that takes a
second to flush, as a shared virtual disk does now and then (BENCHMARKS.md), does not hold
up the writer. None of them raises on a disk error. A write to a disk that stalls still
stalls its call for as long as the kernel holds it, so the caller buffers: the capture ring
(and the queues of analysis rows and MIDI) must hold the longest stall to ride out, at
least 2 s and better 4 s (on the shared disk measured, one write was held 466 ms and the
writer's next wake came 828 ms late: BENCHMARKS.md); then nothing is lost (tests/test_takes_faults.py: writes that take 500 ms, a 2 s buffer, every
sample arrives; a 0.2 s buffer loses blocks). Write what has gathered since the last wake
in one call per file (a block of 1024 frames, not four of 256). ``close()`` waits for the
disk (``close(wait=False)`` does not; ``join()`` then waits). ``status`` may be read from any
thread (the HUD): it is one immutable ``TakeStatus``, replaced as a whole at every sync.

A disk error (full disk, quota, file too large, I/O error) stops the take and never raises:
every file is cut back to whole frames and records and its header rewritten, the 8 MiB kept
in ``.reserve`` since the start is given back, so the MIDI file and the manifest can still
be written on the full disk; ``status.state`` says ``"disk_full"`` or ``"error"`` and
``status.error`` says what and when; later calls are counted as dropped. ``close()`` still
finishes the files. Mistakes of the caller (a block of the wrong shape or type, an unknown
player) raise ValueError or TypeError at once: they are bugs to see in tests, not
conditions of the night.

The folder
----------
::

    1M1-3-2026-12-02_14-05-09/
      manifest.json          what the take is and which files hold it (manifest.py)
      1M1-3.wav              every input channel, 32-bit float (wav.py)
      analysis/<player>.npy  each player's analysis at the hop rate (records.py)
      1M1-3.mid              all MIDI received, SMPTE division, at the film's timecode (smf.py)
      midi.jsonl             the MIDI as it arrived: the log the .mid is rebuilt from
      markers.csv            t_capture,take_s,frame,timecode,label
      .lock, .reserve        while it records (a lock the next start respects; room to finish)
"""

from __future__ import annotations

import csv
import errno
import fcntl
import io
import math
import os
import threading
import traceback
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import numpy as np

from .. import clock
from ..worker import Worker
from . import manifest as mf
from . import records, smf, wav
from .folders import TakeError, bytes_per_second, free_bytes, parse_folder_name, safe_name

RESERVE_BYTES = 8 * 1024 * 1024       # given back when the disk fills, to finish the files
MID_REWRITE_S_PER_MB = 1.0            # the .mid is rewritten at sync at most every (its size in MB) s
MARKERS_HEADER = "t_capture,take_s,frame,timecode,label\n"
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class OsIO:
    """The calls ``TakeFiles`` writes with; tests pass one that makes the disk slow or full."""

    def write(self, fd: int, data) -> int:
        return os.write(fd, data)

    def pwrite(self, fd: int, data, offset: int) -> int:
        return os.pwrite(fd, data, offset)

    def fdatasync(self, fd: int) -> None:
        os.fdatasync(fd)


@dataclass(frozen=True)
class TakeStatus:
    """What the HUD shows about a take: one snapshot, replaced as a whole at every sync, on
    a disk error and at close."""
    state: str                    # "recording", "disk_full", "error" (recording stopped), "closed"
    error: str | None             # what stopped it, when something did
    folder: str
    frames: int                   # audio frames written
    seconds: float                # of audio
    bytes_written: int            # all files of the take
    free_bytes: int | None        # on its file system, at the last sync
    seconds_left: float | None    # of audio that fits in that
    dropped_frames: int           # audio frames handed over after recording stopped
    dropped_rows: int
    dropped_midi: int
    worst_sync_s: float           # the longest sync() call (headers, handing over)
    syncs: int
    worst_flush_s: float          # the longest the flusher took to make a sync durable


class _Appender:
    """One file that only grows; ``size`` counts the bytes on disk."""

    def __init__(self, io_, path: Path):
        self.io, self.path = io_, path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        self.size = 0              # bytes on disk
        self.good = 0              # bytes up to the end of the last append that was written whole
        self.synced = -1

    def append(self, data) -> None:
        view = memoryview(data).cast("B")
        done = 0
        try:
            while done < len(view):
                n = self.io.write(self.fd, view[done:])
                if n <= 0:
                    raise OSError(errno.EIO, "write wrote nothing")
                done += n
        finally:
            self.size += done
        self.good = self.size

    def cut(self, size: int) -> None:
        if size < self.size:
            os.ftruncate(self.fd, size)
            self.size = size

    def flush(self) -> None:
        if self.synced != self.size:
            self.io.fdatasync(self.fd)
            self.synced = self.size

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


@dataclass(frozen=True)
class _Job:
    manifest: bytes | None        # the manifest of a sync (None: the final job builds its own)
    mid: bytes | None             # the .mid, when it is to be rewritten
    final: bool


class _StepError(Exception):
    def __init__(self, err: OSError, step: str):
        super().__init__(step)
        self.err, self.step = err, step


class _Flusher(Worker):
    """The take's own thread that waits for the disk: it flushes the files to disk, writes
    the .mid and the manifest after each sync, and finishes the take at close. A job waiting
    when a newer one comes is merged into it (the newer manifest holds everything)."""
    thread_name = "stage-take-flusher"

    def __init__(self, run_job, clock_):
        self._init_worker()
        self._run_job, self._clock = run_job, clock_
        self._cond = threading.Condition()
        self._pending: _Job | None = None
        self._posted = self._done = 0
        self.error: tuple[OSError, str] | None = None      # the first failed sync's error and step
        self.worst = 0.0

    def post(self, job: _Job) -> int:
        with self._cond:
            old = self._pending
            if old is not None:
                job = _Job(job.manifest or old.manifest, job.mid if job.mid is not None else old.mid,
                           job.final or old.final)
            self._pending = job
            self._posted += 1
            self._cond.notify_all()
            return self._posted

    def wait(self, seq: int, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._done >= seq or not self._thread.is_alive(), timeout)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None:
                    if self._stop.is_set():
                        return
                    self._cond.wait()
                job, self._pending, seq = self._pending, None, self._posted
            t = self._clock()
            try:
                self._run_job(job)
            except _StepError as e:
                if self.error is None:
                    self.error = (e.err, e.step)
            except Exception:                    # a bug: say so, and go on flushing
                traceback.print_exc()
            self.worst = max(self.worst, self._clock() - t)
            with self._cond:
                self._done = seq
                self._cond.notify_all()
            if job.final:
                return


def _fps(value) -> Fraction:
    if isinstance(value, str):
        return Fraction(value).limit_denominator(1001)
    return Fraction(value).limit_denominator(1001)


def _timecode_format(folder, film: dict):
    from ..film.timecode import TimecodeError, TimecodeFormat
    try:
        fps = _fps(film["fps"])
        drop = bool(film.get("drop_frame", False))
        fmt = TimecodeFormat(fps, drop)
        return TimecodeFormat(fps, drop, fmt.label_to_count(film.get("first_frame", "00:00:00:00")))
    except (TimecodeError, ValueError, ZeroDivisionError, TypeError) as e:
        raise TakeError(folder, f"manifest key 'film': {e}") from None


class TakeFiles:
    """The files of one take (see the module's docstring). ``manifest`` is what the caller
    knows (keys: samplerate, channels, start.monotonic_raw and film.fps are needed; session,
    cue, cue_index, take, devices, players, film.drop_frame, film.first_frame, film.loop,
    start.frame, start.timecode and start.wall are kept as given); the files, their state
    and counts are added. Raises TakeError when the take cannot be opened.

    ``wav_limit`` (bytes) is where the audio becomes RF64 (4 GiB; smaller in tests, the same
    code), ``reserve_bytes`` the room kept to finish the files on a full disk, ``io`` the
    calls that write (tests), ``clock`` the clock sync times are measured on."""

    def __init__(self, folder, manifest: dict, *, wav_limit: int = wav.WAV_LIMIT,
                 reserve_bytes: int = RESERVE_BYTES, io=None, clock=clock.now):
        self.folder = Path(folder)
        self._io = io or OsIO()
        self._clock = clock
        self._wav_limit = wav_limit
        self._base = self._check(dict(manifest))
        self.samplerate = int(self._base["samplerate"])
        self.channels = int(self._base["channels"])
        self.t0 = float(self._base["start"]["monotonic_raw"])
        self._tc = _timecode_format(self.folder, self._base["film"])
        self._state, self._error = "recording", None
        self._frames = self._rows_dropped = self._frames_dropped = self._midi_dropped = 0
        self._worst_sync, self._syncs, self._free = 0.0, 0, None
        self._markers_list: list[dict] = []
        self._gaps: list[dict] = []
        self._closed = False
        self._unfinished: list[str] = []
        self._mid_written_at = -math.inf
        self._mid_dirty = True
        self._streams: list[_Appender] = []
        self._lock_fd = -1
        self._reserve = self.folder / ".reserve"
        self._mid_path = None
        self._flusher = None
        self._last_post = 0
        self._opened_files = False
        try:
            self._open(reserve_bytes)
        except OSError as e:
            self._abandon()
            why = "the disk is full" if e.errno in _FULL else e.strerror
            where = f" ({Path(e.filename).name})" if e.filename else ""
            raise TakeError(self.folder, f"cannot open the take's files: {why}{where}") from None
        except BaseException:
            self._abandon()
            raise
        self._publish()

    # -- opening
    def _check(self, m: dict) -> dict:
        if (self.folder / mf.NAME).exists():
            raise TakeError(self.folder, f"already holds a take ({mf.NAME})")
        for key in ("samplerate", "channels"):
            v = m.get(key)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise TakeError(self.folder, f"manifest key {key!r} must be a positive whole number, got {v!r}")
        start = m.get("start")
        if not isinstance(start, dict) or not isinstance(start.get("monotonic_raw"), (int, float)):
            raise TakeError(self.folder, "manifest key 'start' must hold 'monotonic_raw': the capture time "
                                         "(CLOCK_MONOTONIC_RAW seconds) of the first frame to be written")
        film = m.get("film")
        if not isinstance(film, dict) or "fps" not in film:
            raise TakeError(self.folder, "manifest key 'film' must hold 'fps' (e.g. \"24000/1001\" or 25)")
        players = m.get("players", [])
        if not isinstance(players, list) or not all(isinstance(p, dict) and "name" in p for p in players):
            raise TakeError(self.folder, "manifest key 'players' must be a list of tables with a 'name'")
        names = [str(p["name"]) for p in players]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise TakeError(self.folder, f"manifest key 'players': two players named {twice[0]!r}")
        return m

    def _open(self, reserve_bytes: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        lock = self.folder / ".lock"
        self._lock_fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TakeError(self.folder, "is being recorded by another process") from None
        self._opened_files = True           # from here on, what is in the folder is this take's
        os.ftruncate(self._lock_fd, 0)
        os.write(self._lock_fd, f"{os.getpid()}\n".encode())
        if reserve_bytes > 0:
            fd = os.open(self._reserve, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            try:
                os.posix_fallocate(fd, 0, reserve_bytes)
            finally:
                os.close(fd)
        p = parse_folder_name(self.folder.name)
        stem = f"{p[0]}-{p[1]}" if p else safe_name(self.folder.name)
        start = dict(self._base["start"])
        if "frame" in start and "timecode" not in start:
            start["timecode"] = self._tc.label(int(math.floor(float(start["frame"]))))
        start.setdefault("wall", datetime.now().astimezone().isoformat(timespec="milliseconds"))
        self._base["start"] = start
        if "take" not in self._base and p:
            self._base["take"] = p[1]
        self._base["film"] = {**self._base["film"], "fps": str(_fps(self._base["film"]["fps"]))}

        self._audio = self._stream(f"{stem}.wav")
        self._audio.append(wav.header(self.channels, self.samplerate, 0, self._wav_limit))
        self._analysis: dict[str, dict] = {}
        used = set()
        if self._base.get("players"):
            (self.folder / "analysis").mkdir(exist_ok=True)
        for pl in self._base.get("players", []):
            name = safe_name(pl["name"])
            base, k = name, 2
            while name.lower() in used:
                name, k = f"{base}-{k}", k + 1
            used.add(name.lower())
            rel = f"analysis/{name}.npy"
            s = self._stream(rel)
            head = records.header(records.ANALYSIS_DTYPE, 0)
            s.append(head)
            self._analysis[pl["name"]] = {"stream": s, "file": rel, "rows": 0, "offset": len(head), "said": 0}
        self._markers = self._stream("markers.csv")
        self._markers.append(MARKERS_HEADER.encode())
        self._midi_log = self._stream("midi.jsonl")
        self._mid_name = f"{stem}.mid"
        self._mid_path = self.folder / self._mid_name
        frame = float(start.get("frame", 0.0))
        div = smf.division_for(self._tc.fps, self._tc.drop_frame)
        label = start.get("timecode") or self._tc.label(int(math.floor(frame)))
        self._song = smf.Song(div, self.t0, f"{stem} {self._base.get('cue', '')}".strip(), label,
                              frame - math.floor(frame) if "frame" in start else 0.0)
        self._files = {"audio": f"{stem}.wav",
                       "analysis": {k: v["file"] for k, v in self._analysis.items()},
                       "midi": self._mid_name, "midi_log": "midi.jsonl", "markers": "markers.csv"}
        self._write_file(self._mid_name, self._song.to_bytes())
        self._mid_dirty = False
        mf.write_blob(self.folder, mf.encode(self._manifest(final=False)))
        mf.sync_dir(self.folder)
        self._flusher = _Flusher(self._flush_job, self._clock).start()

    def _stream(self, rel: str) -> _Appender:
        s = _Appender(self._io, self.folder / rel)
        self._streams.append(s)
        return s

    def _abandon(self) -> None:
        """Opening failed: take back what this take made (nothing was recorded)."""
        for st in self._streams:
            try:
                st.close()
            except OSError:
                pass
        if self._opened_files:
            for p in [st.path for st in self._streams] + [self.folder / mf.NAME, self.folder / (mf.NAME + ".tmp")] \
                    + ([self._mid_path] if self._mid_path else []):
                try:
                    p.unlink()
                except OSError:
                    pass
        self._release()
        for d in (self.folder / "analysis", self.folder):
            try:
                d.rmdir()
            except OSError:
                pass

    def _release(self) -> None:
        if self._opened_files:
            for p in (self._reserve, self.folder / ".lock"):
                try:
                    p.unlink()
                except OSError:
                    pass
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    # -- writing (the writer thread)
    def write_audio(self, frames) -> None:
        """Append ``frames`` (float32, frames x channels; a 1-D array for one channel) to the
        WAV, exactly as given."""
        a = np.asarray(frames)
        if a.ndim == 1 and self.channels == 1:
            a = a[:, None]
        if a.ndim != 2 or a.shape[1] != self.channels:
            raise ValueError(f"audio must be frames x {self.channels} channels, got shape {a.shape}")
        if a.dtype.kind != "f" or a.dtype.itemsize != 4:
            raise TypeError(f"audio must be float32 as captured, got {a.dtype} (converting would change it)")
        if self._state != "recording":
            self._frames_dropped += a.shape[0]
            return
        a = np.ascontiguousarray(a, dtype="<f4")
        block = 4 * self.channels
        try:
            self._audio.append(a)
        except OSError as e:
            got = (self._audio.size - wav.DATA_OFFSET) // block - self._frames
            self._frames += got
            self._frames_dropped += a.shape[0] - got
            self._fail(e, "audio")
            return
        self._frames += a.shape[0]

    def write_analysis(self, player: str, rows) -> None:
        """Append analysis rows for ``player`` (a name from the manifest's players): an array
        of ``records.ANALYSIS_DTYPE`` (``records.analysis_rows(n)``), a structured array with
        its fields, or tuples in its order."""
        entry = self._analysis.get(player)
        if entry is None:
            raise ValueError(f"no player {player!r} in this take (players: {', '.join(self._analysis) or 'none'})")
        r = records.as_rows(rows)
        if self._state != "recording":
            self._rows_dropped += len(r)
            return
        s = entry["stream"]
        try:
            s.append(r)
        except OSError as e:
            entry["rows"] = (s.size - entry["offset"]) // r.dtype.itemsize
            self._fail(e, f"analysis of {player}")
            return
        entry["rows"] += len(r)

    def write_midi(self, t: float, message, port: str = "") -> None:
        """Log a MIDI message received at ``t`` (CLOCK_MONOTONIC_RAW seconds) on input ``port``:
        raw bytes, a list of ints (as rtmidi gives it) or a mido.Message."""
        data = bytes(message.bytes()) if hasattr(message, "bytes") and not isinstance(message, (bytes, bytearray)) \
            else bytes(message)
        if self._state != "recording":
            self._midi_dropped += 1
            return
        line = smf.log_line(float(t), str(port), data)
        try:
            self._midi_log.append(line)
        except OSError as e:
            self._fail(e, "MIDI")
            return
        self._song.add(float(t), str(port), data)
        self._mid_dirty = True

    def add_marker(self, t: float, frame: int, label: str = "") -> None:
        """A marker at capture time ``t`` and film frame ``frame``: a row of markers.csv, an
        entry of the manifest and a marker event in the MIDI file."""
        label = " ".join(str(label).split())
        frame = int(frame)
        tc = self._tc.label(frame)
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([repr(float(t)), f"{t - self.t0:.6f}", frame, tc, label])
        if self._state != "recording":
            return
        try:
            self._markers.append(buf.getvalue().encode("utf-8"))
        except OSError as e:
            self._fail(e, "markers")
            return
        self._markers_list.append({"t_capture": float(t), "take_s": round(t - self.t0, 6), "frame": frame,
                                   "timecode": tc, "label": label})
        self._song.marker(float(t), label or tc)
        self._mid_dirty = True

    def note_gap(self, t_from: float, t_to: float, reason: str) -> None:
        """Note in the manifest that what was captured from ``t_from`` to ``t_to``
        (CLOCK_MONOTONIC_RAW) is missing (an overrun, a lost device), with the audio frame it
        falls at. The caller may also write silence for it, to keep the file on time."""
        self._gaps.append({"t_from": float(t_from), "t_to": float(t_to), "seconds": round(t_to - t_from, 6),
                           "audio_frame": self._frames, "reason": str(reason)})

    def sync(self, wait: bool = False) -> None:
        """Make everything written so far readable by other programs at once (the WAV's and
        the analysis files' headers are rewritten in place) and durable soon after: the take's
        flusher thread flushes every file to disk, rewrites the .mid and replaces the manifest
        (``status.worst_flush_s`` says how long that took at worst). About once a second;
        returns without waiting for the disk, unless ``wait`` (tests, a careful caller)."""
        if self._closed:
            return
        t = self._clock()
        self._check_flusher()
        if self._state == "recording":
            try:
                self._write_headers()
            except OSError as e:
                self._fail(e, "rewriting the headers")
            else:
                self._post(final=False)
        dt = self._clock() - t
        self._syncs += 1
        self._worst_sync = max(self._worst_sync, dt)
        if wait:
            self._flusher.wait(self._last_post)
            self._check_flusher()
        self._publish()

    def close(self, wait: bool = True) -> None:
        """Finish every file and the manifest (which then says ``clean``: true when every file
        was finished, and ``error`` if a disk error stopped the take early). With ``wait``
        (the default) it returns when all is on disk; with ``wait=False`` at once, and the
        flusher finishes (``status.state`` becomes ``"closed"``; ``join()`` waits for it).
        Safe to call twice; nothing may be written after it."""
        if self._closed:
            return
        self._check_flusher()
        self._closed = True
        try:
            self._write_headers()
        except OSError as e:
            self._unfinished.append(f"rewriting the headers: {e.strerror or e}")
        self._post(final=True)
        if wait:
            self.join()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the flusher has finished a closed take."""
        self._flusher.join(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- status
    @property
    def status(self) -> TakeStatus:
        return self._status

    @property
    def state(self) -> str:
        return self._status.state

    @property
    def error(self) -> str | None:
        return self._status.error

    @property
    def frames(self) -> int:
        """Audio frames written so far (the writer thread's own count; ``status`` holds the
        last sync's)."""
        return self._frames

    @property
    def seconds(self) -> float:
        return self._frames / self.samplerate

    @property
    def bytes_written(self) -> int:
        return sum(s.size for s in self._streams)

    def _publish(self) -> None:
        left = None if self._free is None else self._free / bytes_per_second(self.channels, self.samplerate)
        self._status = TakeStatus(self._state, self._error, str(self.folder), self._frames, self.seconds,
                                  self.bytes_written, self._free, left, self._frames_dropped,
                                  self._rows_dropped, self._midi_dropped, self._worst_sync, self._syncs,
                                  self._flusher.worst if self._flusher is not None else 0.0)

    # -- syncing and finishing
    def _write_headers(self) -> None:
        self._io.pwrite(self._audio.fd, wav.header(self.channels, self.samplerate, self._frames, self._wav_limit), 0)
        for e in self._analysis.values():
            if e["said"] != e["rows"]:
                self._io.pwrite(e["stream"].fd, records.header(records.ANALYSIS_DTYPE, e["rows"]), 0)
                e["said"] = e["rows"]

    def _mid_blob(self, force: bool) -> bytes | None:
        """The .mid as of now when it has changed and is due (at most every second per MB)."""
        if not (self._mid_dirty or force):
            return None
        blob = self._song.to_bytes()
        now = self._clock()
        if not force and now - self._mid_written_at < MID_REWRITE_S_PER_MB * len(blob) / 1e6:
            return None
        self._mid_written_at = now
        self._mid_dirty = False
        return blob

    def _post(self, final: bool) -> None:
        """Hand the flusher this moment: the manifest as of now (built here, so it is one
        consistent state of the writer's), the .mid when due; the final job builds its own."""
        manifest = None if final else mf.encode(self._manifest(final=False))
        self._last_post = self._flusher.post(_Job(manifest, self._mid_blob(force=final), final))

    def _flush_job(self, job: "_Job") -> None:
        if job.final:
            self._flush(job, self._unfinished)
        elif self._state != "recording":
            self._flush(job, [])              # after a disk error: what can be done; close() tries again
        else:
            self._flush(job, None)

    def _check_flusher(self) -> None:
        err = self._flusher.error
        if err is not None and self._state == "recording":
            self._fail(*err)

    def _flush(self, job: "_Job", collect: list | None) -> None:
        """Run by the flusher: every file to disk, the .mid, the manifest. A failing step raises
        (a sync: the writer stops the take at its next sync) or, for the final job, is noted
        in ``collect`` and the rest go on."""
        def step(name, fn):
            try:
                fn()
            except OSError as e:
                if collect is None:
                    raise _StepError(e, name) from None
                collect.append(f"{name}: {e.strerror or e}")

        for st in self._streams:
            step(f"flushing {st.path.name}", st.flush)
        if job.mid is not None:
            step("MIDI file", lambda: self._write_file(self._mid_name, job.mid))
        step("free space", self._measure_free)
        if job.final:
            step("manifest", lambda: mf.write_blob(self.folder, mf.encode(self._manifest(final=True))))
            for st in self._streams:
                try:
                    st.close()
                except OSError:
                    pass
            self._release()
            self._state = "closed"
            self._publish()
        else:
            step("manifest", lambda: mf.write_blob(self.folder, job.manifest))

    def _write_file(self, name: str, blob: bytes) -> None:
        """``name`` replaced by ``blob`` (temp + rename, flushed first)."""
        tmp = self.folder / (name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(blob)
            while view:
                view = view[self._io.write(fd, view):]
            self._io.fdatasync(fd)
        except OSError:
            os.close(fd)
            try:
                tmp.unlink()
            except OSError:
                pass
            raise
        os.close(fd)
        os.replace(tmp, self.folder / name)

    def _measure_free(self) -> None:
        self._free = free_bytes(self.folder)

    def _manifest(self, final: bool) -> dict:
        m = dict(self._base)
        m.update({
            "format": mf.FORMAT, "version": mf.VERSION, "folder": self.folder.name,
            "files": self._files,
            "state": "closed" if final else self._state,
            "clean": bool(final and not self._unfinished),
            "error": self._error,
            "frames": self._frames, "seconds": round(self.seconds, 6),
            "analysis_rows": {k: v["rows"] for k, v in self._analysis.items()},
            "midi_events": self._song.events, "midi_not_in_smf": self._song.skipped,
            "markers": self._markers_list, "gaps": self._gaps,
            "dropped": {"audio_frames": self._frames_dropped, "analysis_rows": self._rows_dropped,
                        "midi": self._midi_dropped},
            "updated": datetime.now().astimezone().isoformat(timespec="milliseconds"),
        })
        if final:
            m["unfinished"] = list(self._unfinished)
        return m

    def _fail(self, e: OSError, what: str) -> None:
        """A disk error: stop, give back the reserve, cut every file to whole frames and
        records, rewrite the headers, hand the rest to the flusher. Never raises."""
        if self._state != "recording":
            return
        self._state = "disk_full" if e.errno in _FULL else "error"
        why = "the disk is full" if e.errno in (errno.ENOSPC, errno.EDQUOT) else (e.strerror or str(e))
        self._error = (f"{what}: {why}, at {self.seconds:.1f} s of audio; recording stopped, "
                       f"everything written until then is kept")
        try:
            self._reserve.unlink()
        except OSError:
            pass
        self._cut()
        try:
            self._write_headers()
        except OSError as err:
            self._unfinished.append(f"rewriting the headers: {err.strerror or err}")
        self._post(final=False)
        self._publish()

    def _cut(self) -> None:
        """Every file back to whole units, after a write that stopped half way."""
        block = 4 * self.channels
        try:
            self._audio.cut(wav.DATA_OFFSET + self._frames * block)
            for e in self._analysis.values():
                e["stream"].cut(e["offset"] + e["rows"] * records.ANALYSIS_DTYPE.itemsize)
            self._markers.cut(self._markers.good)
            self._midi_log.cut(self._midi_log.good)
        except OSError as err:
            self._unfinished.append(f"cutting the files back to whole records: {err.strerror}")
