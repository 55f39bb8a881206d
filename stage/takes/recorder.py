"""Recording a take while the show runs: nothing waits on the disk, and the disk waits on nothing.

Two threads. The **gatherer** wakes every few milliseconds and takes what has arrived since
it last looked: the captured audio from the input's ring (every channel, exactly as captured),
each audio player's analysis from its feed (with where the film was when that sound was
captured, from the transport as it was then), every MIDI message received, the markers
tapped. It only copies, into a buffer that holds up to ``BUFFER_S`` of the take, so a disk
that is slow for a while, or a draw loop that stalls, costs nothing. The **writer** hands the
buffer to the take's files (stage.takes.files) and makes them durable about once a second; a
disk that fails or fills stops the take and is reported (``state``, ``error``), the show
goes on.

A take belongs to one cue: when the cue changes the take ends at the switch and the next
begins, in the same recording. The gatherer also keeps the analysis of every pass in memory
(``passes``), which the ghost draws.
"""

from __future__ import annotations

import collections
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from .. import clock as _clock
from ..worker import Worker
from .files import TakeFiles
from .folders import TakeError, check_can_record, default_takes_dir, new_take_folder
from .records import analysis_rows

BUFFER_S = 120.0          # what the gatherer may hold for a writer that is behind, in seconds of audio
GATHER_EVERY = 0.01
SYNC_EVERY = 1.0
MAX_WRITE_FRAMES = 1 << 17     # what one write of audio may join (2.7 s at 48 kHz)


class _Take:
    """One take in the making: its cue, its first frame's capture time, and (the writer's) files."""

    def __init__(self, cue: int, t0: float, first_frame: int):
        self.cue, self.t0, self.first_frame = cue, t0, first_frame
        self.files: TakeFiles | None = None
        self.folder: Path | None = None
        self.frames = 0
        self.error: str | None = None


class Recorder:
    """Records takes from a running show. ``start()``/``stop()`` make or end the recording
    (any thread; they return at once); ``toggle()`` for the R key."""

    def __init__(self, session, source, players, feeds, transport, film, midi_log=None, view=lambda: None,
                 ghost=None, takes_dir=None, clock=_clock.now, devices=None):
        self.session, self.source, self.players, self.feeds = session, source, list(players), list(feeds)
        self.transport, self.film, self.midi_log, self.view, self.clock = transport, film, midi_log, view, clock
        self.ghost = ghost
        cfg = getattr(session, "takes", None)
        self.takes_dir = Path(takes_dir or (cfg.folder if cfg and cfg.folder else default_takes_dir(session.path)))
        self.keep_free_minutes = cfg.keep_free_minutes if cfg else 10.0
        self.devices = devices or {}
        self.ring = source.ring if source is not None else None
        self.audio = [(p, f) for p, f in zip(self.players, self.feeds) if not p.is_midi]
        self.state = "off"                      # off | recording | stopped: ... | error: ...
        self.error: str | None = None
        self.takes: list[Path] = []             # folders written this run
        self.current: _Take | None = None
        self._want = None                       # "start" / "stop", for the gatherer
        self._queue: collections.deque = collections.deque()
        self._queued_frames = 0
        self.lost_frames = 0                    # audio the buffer could not hold (a disk far too slow)
        self._gather = _Gatherer(self)
        self._writer = _Writer(self)

    # -- control (any thread)
    def start(self, at: float | None = None) -> None:
        """Record from clock time ``at`` (what was captured since is in the ring; default: now)."""
        self._start_at = at
        self._want = "start"

    _start_at = None

    def stop(self) -> None:
        self._want = "stop"

    def toggle(self) -> None:
        self._want = "stop" if self.recording else "start"

    @property
    def recording(self) -> bool:
        return self.state == "recording" or self._want == "start"

    def check(self) -> None:
        """Refuse, before anything is recorded, a folder that cannot be written or has too little
        room (TakeError says which and why)."""
        ch = self.ring.channels if self.ring is not None else 1
        sr = self.ring.samplerate if self.ring is not None else 48000
        check_can_record(self.takes_dir, ch, sr, self.keep_free_minutes)

    # -- lifecycle
    def run(self) -> "Recorder":
        self._writer.start()
        self._gather.start()
        return self

    def close(self, timeout: float = 60.0) -> None:
        """End the take and the threads: everything gathered is written first (on a slow disk,
        that may take a while: up to ``timeout``; what is still buffered then is lost, and said)."""
        self._want = "stop"
        t_end = time.monotonic() + timeout
        while self.state == "recording" and time.monotonic() < t_end and self._gather.alive:
            time.sleep(0.01)
        self._gather.stop()
        self._queue.append(("end",))
        self._writer.wake_up()
        self._writer.join_until(t_end)

    @property
    def buffered_s(self) -> float:
        return self._queued_frames / max(1, self.ring.samplerate) if self.ring is not None else 0.0

    # -- what the HUD says
    @property
    def in_trouble(self) -> bool:
        """The take is not being kept whole: refused, failed, full, or the buffer overflowed."""
        take = self.current
        files_bad = take is not None and take.files is not None and take.files.status.state != "recording" \
            and self.state == "recording"
        return self.error is not None or self.lost_frames > 0 or files_bad

    def hud(self) -> str:
        take = self.current
        if self.state == "off":
            return ""
        if take is None or take.files is None:
            return f"REC {self.state}" if self.state != "recording" else "REC starting"
        st = take.files.status
        left = st.seconds_left
        room = f"{left / 60:.0f} min left" if left is not None and left == left else "room unknown"
        buf = self._queued_frames / max(1, self.ring.samplerate) if self.ring is not None else 0.0
        state = "" if st.state == "recording" else f"  {st.state.upper()}: {st.error or ''}"
        lost = f"  lost {self.lost_frames / max(1, self.ring.samplerate):.1f} s" if self.lost_frames else ""
        return (f"REC {take.folder.name if take.folder else ''}  {st.seconds:6.1f} s  {room}"
                f"{'  buffered %.1f s' % buf if buf > 1 else ''}{lost}{state}")

    # -- the take's manifest
    def _manifest(self, take: _Take) -> dict:
        s, film = self.session, self.film
        tc = film.tc
        pos = self.transport.at_past(take.t0)
        cue = film.cues[take.cue]
        ring = self.ring
        players = []
        for p in self.players:
            d = {"name": p.name, "lowest": p.lowest, "highest": p.highest}
            if p.is_midi:
                d["midi"] = p.midi
            else:
                d["channel"] = p.channel
            players.append(d)
        return {
            "session": str(s.path), "cue": cue.name, "cue_index": take.cue,
            "samplerate": int(ring.samplerate) if ring is not None else 48000,
            "channels": int(ring.channels) if ring is not None else 1,
            "devices": dict(self.devices), "players": players,
            "film": {"path": str(film.info.path), "fps": str(film.info.fps), "drop_frame": bool(tc.drop_frame),
                     "first_frame": tc.label(0), "loop": [tc.label(cue.loop[0]), tc.label(cue.loop[1])]},
            "start": {"monotonic_raw": float(take.t0), "wall": datetime.now().astimezone().isoformat(),
                      "frame": int(pos.frame), "timecode": tc.label(pos.frame), "pass": int(pos.pass_no)},
        }


class _Gatherer(Worker):
    """Copies what arrived into the recorder's buffer; never touches the disk."""
    thread_name = "stage-recorder"

    def __init__(self, rec: Recorder):
        self.rec = rec
        self.alive = False
        self._labels: dict[int, bytes] = {}
        self._init_worker()

    def _run(self):
        rec = self.rec
        self.alive = True
        ring = rec.ring
        cursor = ring.written if ring is not None else 0
        seen = [f.count for _, f in rec.audio]
        midi_seen = rec.midi_log.count if rec.midi_log is not None else 0
        markers_seen = len(getattr(rec.view(), "markers", ()) or ())
        try:
            while not self._stop.wait(GATHER_EVERY):
                want, rec._want = rec._want, None
                now = rec.clock()
                if want == "start" and rec.state != "recording":
                    try:
                        rec.check()
                    except TakeError as e:
                        rec.state, rec.error = f"refused: {e.reason}", str(e)
                        continue
                    cursor = self._frame_at(rec._start_at) if ring is not None else 0
                    t0 = ring.time_of(cursor + 1) if ring is not None and ring.blocks else now
                    seen = [f.count for _, f in rec.audio]
                    midi_seen = rec.midi_log.count if rec.midi_log is not None else 0
                    self._open(rec.transport.at_past(t0).cue, t0, cursor)
                    rec.state, rec.error = "recording", None
                elif want == "stop" and rec.state == "recording":
                    cursor, seen, midi_seen, markers_seen = self._gather(cursor, seen, midi_seen, markers_seen)
                    rec._queue.append(("close",))
                    rec._writer.wake_up()
                    rec.state = "off"
                    continue
                if rec.state != "recording":
                    if ring is not None:
                        cursor = ring.written
                    continue
                cursor, seen, midi_seen, markers_seen = self._gather(cursor, seen, midi_seen, markers_seen)
            if rec.state == "recording":                       # stopped with the show: close the take
                cursor, seen, midi_seen, markers_seen = self._gather(cursor, seen, midi_seen, markers_seen)
                rec._queue.append(("close",))
                rec.state = "off"
        finally:
            self.alive = False
            rec._writer.wake_up()

    def _open(self, cue: int, t0: float, first_frame: int) -> None:
        take = _Take(cue, t0, first_frame)
        self.rec.current = take
        self.rec._queue.append(("open", take))
        self.rec._writer.wake_up()

    def _gather(self, cursor, seen, midi_seen, markers_seen):
        rec, ring = self.rec, self.rec.ring
        if ring is not None:
            end = ring.written
            n = end - cursor
            if n > ring.capacity - ring.samplerate // 10:    # the ring lapped us (we were stopped that long)
                lost = n - (ring.capacity - ring.samplerate // 10)
                t_from = ring.time_of(cursor + 1)
                cursor += lost
                rec._queue.append(("gap", t_from, ring.time_of(cursor), "the recorder fell behind the capture"))
                n = end - cursor
            if n > 0:
                again = self._started_again(cursor, end)
                if again is None:
                    self._push_range(cursor, end)
                else:                                  # a new capture began at frame `again`
                    if again > cursor:
                        self._push_range(cursor, again)
                    self._silence_for_gap(again)
                    self._push_range(again, end)
                cursor = end
        # each audio player's analysis since last time, with where the film was
        for i, (p, f) in enumerate(rec.audio):
            rows = list(f.since(seen[i]))
            seen[i] = f.count
            if not rows:
                continue
            out = analysis_rows(len(rows))
            cues = np.zeros(len(rows), np.int32)
            visits = np.zeros(len(rows), np.float64)   # when the cue began: a visit of the cue
            labels = self._labels
            for j, k in enumerate(rows):
                t, f0, conf, level, onset = f.at(k)
                pos = rec.transport.at_past(t)
                frame = pos.frame
                label = labels.get(frame)
                if label is None:                      # (a frame's label is asked for by every hop in it)
                    if len(labels) > 4096:
                        labels.clear()
                    label = labels[frame] = rec.film.tc.label(frame).encode()
                out[j] = (t, frame / pos.fps, frame, label, pos.pass_no, f0, conf, level, onset)
                cues[j] = pos.cue
                visits[j] = pos.cue_since
            rec._queue.append(("analysis", p.name, out))
            if rec.ghost is not None:                  # what the ghost of this pass will be drawn from
                for c, v in sorted(set(zip(cues.tolist(), visits.tolist())), key=lambda cv: cv[1]):
                    sel = (cues == c) & (visits == v)
                    rec.ghost.add(p.name, out[sel], int(c), rec.film.cues[c].loop[0] / float(rec.film.info.fps),
                                  visit=v)
        if rec.midi_log is not None:
            msgs, midi_seen = rec.midi_log.since(midi_seen)
            if msgs:
                rec._queue.append(("midi", msgs))
        markers = getattr(rec.view(), "markers", ()) or ()
        if len(markers) > markers_seen:
            for frame, t in markers[markers_seen:]:
                rec._queue.append(("marker", t, frame))
            markers_seen = len(markers)
        rec._writer.wake_up()
        return cursor, seen, midi_seen, markers_seen

    def _push_range(self, start: int, end: int) -> None:
        """Frames [start, end) of the ring into the take; a cue switch inside them ends the take
        at the switch, and the next begins."""
        rec, ring = self.rec, self.rec.ring
        block = ring.read(start, end - start)
        t_first = ring.time_of(start + 1)
        cue_then = rec.transport.at_past(ring.time_of(end)).cue
        take = rec.current
        if take is not None and cue_then != take.cue:
            split = self._switch_index(start, end, take.cue)
            if split > 0:
                self._push_audio(block[:split], t_first)
            rec._queue.append(("close",))
            t_split = ring.time_of(start + split + 1)
            self._open(cue_then, t_split, start + split)
            self._push_audio(block[split:], t_split)
        else:
            self._push_audio(block, t_first)

    _starts_seen = None              # capture processes started, as last seen

    def _started_again(self, start: int, end: int) -> int | None:
        """The frame in [start, end) at which a new capture process began writing (the device,
        or its whole sound server, went away and came back), or None."""
        from ..audio.ring import START_FRAME, STARTS
        count = self.rec.ring.count
        starts = int(count[STARTS])
        if self._starts_seen is None:
            self._starts_seen = starts
        if starts == self._starts_seen:
            return None
        at = int(count[START_FRAME])
        if at >= end:
            return None                  # its first block is not here yet: next time round
        self._starts_seen = starts
        return at if start <= at and at > 0 else None

    def _silence_for_gap(self, at: int) -> None:
        """What was never heard between the old capture's last frame and the new one's first:
        the take says so, and keeps its timeline with that long a silence in its place."""
        rec, ring = self.rec, self.rec.ring
        t_last, t_first = ring.time_of(at), ring.time_of(at + 1)
        missing = int(round((t_first - t_last) * ring.samplerate)) - 1
        if missing <= 0:
            return
        rec._queue.append(("gap", t_last, t_first, "the audio input went away and came back"))
        while missing > 0:
            n = min(missing, ring.samplerate * 10)
            self._push_audio(np.zeros((n, ring.channels), np.float32), t_last)
            missing -= n

    def _frame_at(self, t: float | None) -> int:
        """The first frame still in the ring captured at or after ``t`` (None: the newest)."""
        ring = self.rec.ring
        end = ring.written
        if t is None or not ring.blocks:
            return end
        lo, hi = max(0, end - ring.capacity + ring.samplerate // 10), end
        while lo < hi:
            mid = (lo + hi) // 2
            if ring.time_of(mid + 1) < t:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _switch_index(self, start: int, end: int, cue: int) -> int:
        """The first frame in [start, end) captured after the cue changed from ``cue``."""
        rec, ring = self.rec, self.rec.ring
        lo, hi = 0, end - start
        while lo < hi:
            mid = (lo + hi) // 2
            if rec.transport.at_past(ring.time_of(start + mid + 1)).cue == cue:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _push_audio(self, block: np.ndarray, t_first: float) -> None:
        rec = self.rec
        sr = rec.ring.samplerate
        if rec._queued_frames + len(block) > BUFFER_S * sr:        # the writer is hopelessly behind
            rec.lost_frames += len(block)
            rec._queue.append(("gap", t_first, t_first + len(block) / sr, "the disk could not keep up"))
            return
        rec._queued_frames += len(block)
        rec._queue.append(("audio", block))


class _Writer(Worker):
    """Hands the buffer to the take's files; the only thread that writes them."""
    thread_name = "stage-take-writer"

    def __init__(self, rec: Recorder):
        self.rec = rec
        self._bell = threading.Event()
        self._init_worker()

    def wake_up(self) -> None:
        self._bell.set()

    def join_until(self, t_end: float) -> None:
        """Wait for the writer to write what is queued and end (it ends on the "end" it finds)."""
        self._bell.set()
        if self._thread.is_alive():
            self._thread.join(timeout=max(0.1, t_end - time.monotonic()))

    def _wake(self):
        self._bell.set()

    def _run(self):
        rec = self.rec
        take: _Take | None = None
        last_sync = 0.0
        while True:
            self._bell.wait(0.1)
            self._bell.clear()
            while rec._queue:
                # what came while the last was written, as one batch: each file gets one write
                # (a slow disk is asked fewer, larger writes); open, close and end are barriers
                audio, rows, midi, marks, gaps, barrier = [], {}, [], [], [], None
                n = 0
                while rec._queue and n < MAX_WRITE_FRAMES:
                    item = rec._queue.popleft()
                    kind = item[0]
                    if kind in ("open", "close", "end"):
                        barrier = item
                        break
                    if kind == "audio":
                        audio.append(item[1])
                        n += len(item[1])
                    elif kind == "analysis":
                        rows.setdefault(item[1], []).append(item[2])
                    elif kind == "midi":
                        midi += item[1]
                    elif kind == "marker":
                        marks.append(item[1:])
                    elif kind == "gap":
                        gaps.append(item[1:])
                self._write(take, audio, n, rows, midi, marks, gaps)
                if barrier is not None:
                    kind = barrier[0]
                    self._close(take)
                    take = None
                    if kind == "end":
                        return
                    if kind == "open":
                        take = barrier[1]
                        self._open(take)
                        last_sync = time.monotonic()
            if take is not None and take.files is not None and time.monotonic() - last_sync >= SYNC_EVERY:
                take.files.sync()
                last_sync = time.monotonic()
            if self._stop.is_set() and not rec._queue and not rec._gather.alive:
                self._close(take)
                return

    def _write(self, take, audio, n, rows, midi, marks, gaps) -> None:
        self.rec._queued_frames -= n
        files = take.files if take is not None else None
        if files is None:
            return
        if audio:
            files.write_audio(audio[0] if len(audio) == 1 else np.concatenate(audio))
            take.frames += n
        for name, parts in rows.items():
            files.write_analysis(name, parts[0] if len(parts) == 1 else np.concatenate(parts))
        for t, port, data in midi:
            if t >= take.t0:
                files.write_midi(t, data, port)
        for t, frame in marks:
            files.add_marker(t, frame)
        for t_from, t_to, why in gaps:
            files.note_gap(t_from, t_to, why)

    def _open(self, take: _Take) -> None:
        rec = self.rec
        try:
            take.folder = new_take_folder(rec.takes_dir, rec.film.cues[take.cue].name)
            from .. import faults
            slow = faults.seconds("slow_disk")
            take.files = TakeFiles(take.folder, rec._manifest(take), **({"io": faults.slow_io(slow)} if slow else {}))
            rec.takes.append(take.folder)
        except (TakeError, OSError) as e:
            take.files, take.error = None, str(e)
            rec.state, rec.error = f"error: {e}", str(e)

    def _close(self, take: _Take | None) -> None:
        if take is not None and take.files is not None:
            take.files.close()
