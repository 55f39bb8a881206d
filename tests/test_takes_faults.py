"""Takes when the disk misbehaves: writes that take 500 ms (nothing lost when the caller
buffers as files.py says), a disk that fills in the middle of a take (a real tmpfs in a
private mount namespace, and a write that stops half way through a frame), a folder that
cannot be written, too little space.

``python -m tests.test_takes_faults MODE MOUNT ...`` runs inside the namespace the tests
make (``unshare -m``, a tmpfs mounted at MOUNT), so the mount is gone when it ends."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from stage import clock
from stage.takes import OsIO, TakeError, TakeFiles, check_can_record, new_take_folder, repair_take
from stage.takes import wav

from .conftest import ROOT, need_tool
from .test_takes_files import (SR, bits, ffmpeg_raw, ffprobe_frames, known, known_block, known_rows, mido_seconds,
                               take_manifest, the_wav)

NOBODY = 65534


# ---------------------------------------------------------------- a disk made slow on purpose
class SlowIO(OsIO):
    """Every ``every``-th write takes ``stall`` seconds longer (a disk that stops now and then)."""

    def __init__(self, every: int, stall: float):
        self.every, self.stall, self.calls, self.stalled = every, stall, 0, 0

    def write(self, fd, data):
        self.calls += 1
        if self.calls % self.every == 0:
            time.sleep(self.stall)
            self.stalled += 1
        return os.write(fd, data)


def _record_through_a_buffer(folder, buffer_s: float, seconds: float = 4.0):
    """The pattern files.py asks of the caller: a capture side that never waits (blocks go
    into a bounded buffer; a full buffer loses the block and counts it) and a writer thread
    that drains everything pending into one write, syncing once a second."""
    io_ = SlowIO(every=60, stall=0.5)
    t0 = clock.now()
    take = TakeFiles(folder, take_manifest(t0, players=("Trumpet",)), io=io_)
    capacity = int(buffer_s * SR / 256)
    buf: deque = deque()
    lost, late, done = [0], [0.0], threading.Event()
    n = int(seconds * SR / 256)

    def capture():                                   # stands in for the callback and its ring
        for k in range(n):
            due = t0 + (k + 1) * 256 / SR
            clock.sleep_until(due)
            late[0] = max(late[0], clock.now() - due)
            if len(buf) >= capacity:
                lost[0] += 1
                continue
            buf.append((k, known_block(k), known_rows(k, 1, t0)))
        done.set()

    worst_call = [0.0]

    def writer():
        next_sync = SR
        while not (done.is_set() and not buf):
            pending = []
            while buf:
                pending.append(buf.popleft())
            if not pending:
                time.sleep(0.005)
                continue
            t = clock.now()
            take.write_audio(np.concatenate([p[1] for p in pending]))
            take.write_analysis("Trumpet", np.concatenate([p[2] for p in pending]))
            worst_call[0] = max(worst_call[0], clock.now() - t)
            if take.frames >= next_sync:
                take.sync()
                next_sync += SR
        take.close()

    threads = [threading.Thread(target=capture), threading.Thread(target=writer)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=seconds + 30)
    return take, io_, lost[0], late[0], worst_call[0], n


@pytest.mark.timeout(60)
def test_writes_that_take_500_ms_lose_nothing_when_the_caller_buffers(tmp_path):
    take, io_, lost, late, worst, n = _record_through_a_buffer(tmp_path / "slow", buffer_s=2.0)
    assert io_.stalled >= 3 and worst >= 0.5                       # the disk did stall, for 500 ms at a time
    assert lost == 0 and late < 0.1                                # the capture side never waited for it
    path = the_wav(tmp_path / "slow")
    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    assert data.shape[0] == n * 256 and np.array_equal(bits(data), bits(known(n * 256)))
    assert len(np.load(tmp_path / "slow" / "analysis" / "Trumpet.npy")) == n
    assert take.status.state == "closed" and take.status.error is None


@pytest.mark.timeout(60)
def test_a_buffer_shorter_than_the_stall_loses_blocks(tmp_path):
    """The control of the test above: the same stalls with a 0.2 s buffer lose blocks, and
    the file is short by exactly those."""
    take, io_, lost, _late, _worst, n = _record_through_a_buffer(tmp_path / "short", buffer_s=0.2)
    assert io_.stalled >= 3 and lost > 0
    assert sf.info(str(the_wav(tmp_path / "short"))).frames == (n - lost) * 256


# ---------------------------------------------------------------- a disk that fills
class FullIO(OsIO):
    """A disk with ``budget`` bytes left once armed: the write that crosses it is written in
    part (as the kernel does), the next fails with ENOSPC (or ``err``). Deleting the take's
    ``.reserve`` gives its bytes back, as on a real file system."""

    def __init__(self, reserve: Path | None = None):
        self.budget, self.err, self.reserve = None, errno.ENOSPC, reserve

    def write(self, fd, data):
        if self.budget is None:
            return os.write(fd, data)
        if self.budget <= 0 and self.reserve is not None and not self.reserve.exists():
            self.budget, self.reserve = 8 * 1024 * 1024, None
        if self.budget <= 0:
            raise OSError(self.err, os.strerror(self.err))
        n = os.write(fd, memoryview(data)[:self.budget])
        self.budget -= n
        return n


@pytest.mark.timeout(60)
def test_a_disk_that_fills_half_way_through_a_frame_keeps_the_whole_frames_and_never_raises(tmp_path):
    io_ = FullIO(tmp_path / "full" / ".reserve")
    take = TakeFiles(tmp_path / "full", take_manifest(5.0, players=("Trumpet",)), io=io_)
    for k in range(10):
        take.write_audio(known_block(k))
    take.sync()
    io_.budget = 8192 + 56 * 32 + 29                  # one more block, 56 frames and 29 bytes of the next
    for k in range(10, 13):
        take.write_audio(known_block(k))
    for k in range(13, 20):                            # the show goes on: no exception reaches this loop
        take.write_audio(known_block(k))
        take.write_analysis("Trumpet", known_rows(k, 1, 5.0))
        take.write_midi(5.0 + k * 0.005, [0x90, 60, 1], port="Nord")
        take.add_marker(5.0 + k * 0.005, 150, "x")
        take.sync()
    take.sync(wait=True)
    s = take.status
    assert s.state == "disk_full" and "audio: the disk is full, at 0.1 s of audio" in s.error
    assert s.frames == 11 * 256 + 56 and s.dropped_frames == 9 * 256 - 56 and s.dropped_rows == 7
    path = the_wav(tmp_path / "full")
    assert os.path.getsize(path) == wav.DATA_OFFSET + s.frames * 32          # the torn frame was cut off
    assert wav.read_info(path).header_frames == s.frames                     # and the header says so, already
    assert not (tmp_path / "full" / ".reserve").exists()                     # given back to finish the files
    m = json.loads((tmp_path / "full" / "manifest.json").read_text())
    assert m["state"] == "disk_full" and m["error"] == s.error and m["frames"] == s.frames
    take.close()
    m = json.loads((tmp_path / "full" / "manifest.json").read_text())
    assert m["state"] == "closed" and m["clean"] is True and "disk is full" in m["error"]
    expect = known(s.frames)
    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    assert np.array_equal(bits(data), bits(expect)) and ffmpeg_raw(path) == expect.tobytes()
    assert len(np.load(tmp_path / "full" / "analysis" / "Trumpet.npy")) == 0
    assert repair_take(tmp_path / "full") == []


@pytest.mark.timeout(60)
def test_an_io_error_stops_the_take_as_error_not_disk_full(tmp_path):
    io_ = FullIO()
    io_.err = errno.EIO
    take = TakeFiles(tmp_path / "eio", take_manifest(5.0, players=()), io=io_)
    take.write_audio(known_block(0))
    io_.budget = 0
    take.write_midi(5.1, [0x90, 60, 1])
    take.write_audio(known_block(1))
    assert take.status.state == "error" and take.status.error.startswith("MIDI: Input/output error")
    take.close()
    assert sf.info(str(the_wav(tmp_path / "eio"))).frames == 256


def _in_tmpfs(tmp_path, size: str, mode: str, *args, ro: bool = False) -> dict:
    """Run ``mode`` of this file in a private mount namespace with a tmpfs of ``size`` at
    tmp_path/mnt (real ENOSPC, real EROFS); returns the JSON it prints."""
    need_tool("unshare")
    mnt = tmp_path / "mnt"
    mnt.mkdir(exist_ok=True)
    opts = f"size={size}" + (",ro" if ro else "")
    ns = ["-m"] if os.geteuid() == 0 else ["-r", "-m"]      # not root: a user namespace of its own
    r = subprocess.run(["unshare", *ns, "--propagation", "private", "sh", "-c",
                        f'mount -t tmpfs -o {opts} tmpfs "$0" && exec "$@"', str(mnt),
                        sys.executable, "-m", "tests.test_takes_faults", mode, str(mnt), *map(str, args)],
                       capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, (f"a tmpfs in a private mount namespace is needed for a real full disk "
                               f"(root, or unprivileged user namespaces): {r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _fill(mnt: str, out: str, reserve: str) -> None:
    folder = new_take_folder(Path(mnt) / "takes", "5M2")
    t0 = 100.0
    take = TakeFiles(folder, take_manifest(t0, players=("Trumpet", "Bass")), reserve_bytes=int(reserve))
    k = 0
    while take.status.state == "recording" and k < 100000:
        take.write_audio(known_block(k))
        take.write_analysis("Trumpet", known_rows(k, 1, t0))
        if k % 10 == 0:
            take.write_midi(t0 + k * 256 / SR, [0x90, 40 + k % 40, 80], port="Nord")
        k += 1
        if k % 50 == 0:
            take.sync()
    stopped = take.status
    for j in range(100):                                    # the show goes on after it
        take.write_audio(known_block(k + j))
        take.write_midi(t0, [0x80, 40, 0])
    take.sync()
    after = take.status
    take.close()
    refused = None
    try:
        TakeFiles(new_take_folder(Path(mnt) / "takes", "5M2"), take_manifest(t0))
    except TakeError as e:
        refused = str(e)
    shutil.copytree(folder, Path(out) / folder.name)
    print(json.dumps({"folder": folder.name, "blocks": k, "stopped": stopped.__dict__, "after": after.__dict__,
                      "closed": take.status.__dict__, "refused": refused,
                      "left": sorted(p.name for p in (Path(mnt) / "takes").iterdir())}))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("reserve", [512 * 1024, 0])
def test_a_real_disk_that_fills_mid_take(tmp_path, reserve):
    """A 6 MiB tmpfs fills during the take: the files keep every whole frame and record,
    the take says so, and never raises. With a reserve the MIDI file and the manifest are
    finished on the full disk; without one, repair finishes them later."""
    out = tmp_path / "out"
    out.mkdir()
    r = _in_tmpfs(tmp_path, "6m", "fill", out, reserve)
    stopped, closed = r["stopped"], r["closed"]
    assert stopped["state"] == "disk_full" and "the disk is full" in stopped["error"]
    assert r["after"]["dropped_frames"] >= 100 * 256 and r["after"]["frames"] == stopped["frames"]
    assert closed["state"] == "closed" and stopped["frames"] > 10000
    assert r["refused"] and "the disk is full" in r["refused"]          # a new take on a full disk: refused
    assert r["left"] == [r["folder"]]                                   # and it left nothing behind
    folder = out / r["folder"]
    path = the_wav(folder)
    n = stopped["frames"]
    assert wav.read_info(path).header_frames == n == wav.read_info(path).disk_frames
    expect = known(n)
    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    assert np.array_equal(bits(data), bits(expect)) and ffmpeg_raw(path) == expect.tobytes()
    assert ffprobe_frames(path) == n
    rows = np.load(folder / "analysis" / "Trumpet.npy")
    assert np.array_equal(rows, np.concatenate([known_rows(i, 1, 100.0) for i in range(len(rows))]))
    m = json.loads((folder / "manifest.json").read_text())
    if reserve:
        assert m["state"] == "closed" and m["clean"] is True and "disk is full" in m["error"]
        notes = mido_seconds(mido.MidiFile(str(next(folder.glob("*.mid")))))
        assert len(notes) == m["midi_events"] > 0
        assert repair_take(folder) == []
    else:
        assert m["clean"] is False
        done = repair_take(folder)
        assert any(".mid: rebuilt" in s for s in done)
        m = json.loads((folder / "manifest.json").read_text())
        assert m["state"] == "repaired" and m["frames"] == n
        assert len(mido_seconds(mido.MidiFile(str(next(folder.glob("*.mid")))))) == m["midi_events"] > 0


# ---------------------------------------------------------------- refused before recording starts
def _space(mnt: str) -> None:
    out = {}
    try:
        check_can_record(Path(mnt) / "takes", 8, SR, 60)
    except TakeError as e:
        out["hour"] = str(e)
    check_can_record(Path(mnt) / "takes", 8, SR, 1)
    out["minute"] = "ok"
    print(json.dumps(out))


def _readonly(mnt: str) -> None:
    try:
        check_can_record(Path(mnt) / "takes", 8, SR, 1)
        print(json.dumps({"error": None}))
    except TakeError as e:
        print(json.dumps({"error": str(e)}))


@pytest.mark.timeout(60)
def test_too_little_space_is_refused_saying_how_much_in_gb_and_minutes(tmp_path):
    r = _in_tmpfs(tmp_path, "256m", "space")
    assert r["minute"] == "ok"                                         # the control: a minute fits
    assert r["hour"] == (f"{tmp_path / 'mnt' / 'takes'}: too little free space: a 60-minute take of 8 channels at "
                         f"48000 Hz needs 5.87 GB, and 0.27 GB are free (2.1 minutes of 8 channels)")


@pytest.mark.timeout(60)
def test_a_read_only_file_system_is_refused(tmp_path):
    r = _in_tmpfs(tmp_path, "1m", "readonly", ro=True)
    assert r["error"] == f"{tmp_path / 'mnt' / 'takes'}: cannot create the takes folder: Read-only file system"


def _as_nobody(fn) -> str:
    """``fn()`` in a forked child that has given up root (so permissions apply; run as another
    user already, in the child as it is); what it raised."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        msg = "returned"
        try:
            if os.geteuid() == 0:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            fn()
        except TakeError as e:
            msg = f"TakeError: {e}"
        except BaseException as e:          # noqa: BLE001 - reported to the parent
            msg = f"other: {e!r}"
        os.write(w, msg.encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        msg = f.read()
    os.waitpid(pid, 0)
    return msg


@pytest.mark.timeout(60)
def test_a_folder_that_cannot_be_written_is_refused(tmp_path):
    base = Path(tempfile.mkdtemp(prefix="stage-takes-", dir="/tmp"))
    mode = 0o755 if os.geteuid() == 0 else 0o555               # writable by root only / by no one
    try:
        (base / "takes").mkdir()
        os.chmod(base / "takes", mode)
        os.chmod(base, mode)
        assert _as_nobody(lambda: check_can_record(base / "takes", 8, SR, 1)) == \
            f"TakeError: {base / 'takes'}: cannot write to the takes folder: Permission denied"
        assert _as_nobody(lambda: check_can_record(base / "new", 8, SR, 1)) == \
            f"TakeError: {base / 'new'}: cannot create the takes folder: Permission denied"
        os.chmod(base / "takes", 0o777)                      # the control: the same user, a folder it may write
        assert _as_nobody(lambda: check_can_record(base / "takes", 8, SR, 1)) == "returned"
        assert _as_nobody(lambda: TakeFiles(base / "new" / "x", take_manifest(1.0))).startswith(
            f"TakeError: {base / 'new' / 'x'}: cannot open the take's files: Permission denied")
    finally:
        os.chmod(base, 0o755)
        shutil.rmtree(base)
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(TakeError, match="cannot create the takes folder: Not a directory"):
        check_can_record(tmp_path / "file" / "takes", 8, SR, 1)


if __name__ == "__main__":
    {"fill": _fill, "space": _space, "readonly": _readonly}[sys.argv[1]](*sys.argv[2:])
