"""Takes after a crash: a writer killed with SIGKILL in the middle of a take, then repaired,
holds every sample it handed over, bit-exact, as libsndfile and FFmpeg read it; torn last
records are dropped; repair is idempotent; a take being recorded is never touched.

``python -m tests.test_takes_crash writer FOLDER PROGRESS`` is the writer: 8 channels of a
known signal at 48 kHz in real time, in blocks of 256, with the analysis of two players, MIDI
and markers, synced once a second, as the recorder's writer thread will write them. After
each call returns it counts what it handed over in PROGRESS (four int64: audio frames,
analysis rows, MIDI messages, markers)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from stage import clock
from stage.takes import TakeError, TakeFiles, find_unfinished, list_takes, new_take_folder, repair_take
from stage.takes import wav

from .conftest import ROOT, stage_cmd
from .test_takes_files import (SR, bits, dies_after, ffmpeg_raw, ffprobe_frames, known, known_block, known_rows,
                               mido_seconds, take_manifest, the_wav)

BLOCK = 256


def _writer(folder: str, progress: str) -> None:
    counts = np.memmap(progress, dtype=np.int64, mode="r+", shape=(4,))
    t0 = clock.now()
    take = TakeFiles(folder, take_manifest(t0, players=("Trumpet", "Bass")))
    print("ready", flush=True)
    per_second = SR // BLOCK
    k = 0
    while True:
        clock.sleep_until(t0 + (k + 1) * BLOCK / SR)
        take.write_audio(known_block(k))
        counts[0] = (k + 1) * BLOCK
        take.write_analysis("Trumpet", known_rows(k, 1, t0))
        counts[1] = k + 1
        if k % 10 == 0:
            take.write_midi(t0 + k * BLOCK / SR, [0x90, 36 + k % 48, 100], port="Nord")
            counts[2] += 1
        if k % per_second == per_second // 2:
            take.add_marker(t0 + k * BLOCK / SR, 144 + k // 8, f"mark {counts[3]}")
            counts[3] += 1
        if (k + 1) % per_second == 0:
            take.sync()
        k += 1


def _start_writer(tmp_path):
    folder = new_take_folder(tmp_path / "takes", "1M1")
    progress = tmp_path / "progress"
    progress.write_bytes(bytes(32))
    proc = subprocess.Popen([sys.executable, "-m", "tests.test_takes_crash", "writer", str(folder), str(progress)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return folder, progress, proc


def _counts(progress) -> list[int]:
    return [int(x) for x in np.fromfile(progress, dtype=np.int64, count=4)]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kill_after", [1.35, 2.8, 4.1])
def test_sigkill_mid_take_then_repair_keeps_every_sample_handed_over(tmp_path, kill_after):
    folder, progress, proc = _start_writer(tmp_path)
    deadline = time.monotonic() + kill_after + 10
    while _counts(progress)[0] < kill_after * SR:         # kill at this much audio: between two syncs
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.001)
    time.sleep(0.002 * (kill_after % 1))
    before = _counts(progress)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    after = _counts(progress)
    assert after[0] >= before[0] >= kill_after * SR

    path = the_wav(folder)
    info = wav.read_info(path)
    said = info.header_frames
    # as it was left: the header is the last sync's (at most a second old), the frames after it are there
    assert after[0] - 1.1 * SR <= said < info.disk_frames
    assert ffprobe_frames(path) == said                            # an outside reader reads the synced part
    assert find_unfinished(tmp_path / "takes") == [folder]
    assert list_takes(tmp_path / "takes")[0]["status"] == "unfinished"

    done = repair_take(folder)
    assert any("header rewritten" in s for s in done), done
    n = wav.read_info(path).header_frames
    assert after[0] <= n <= after[0] + BLOCK                       # every frame handed over, and no more
    expect = known(n)
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    assert sr == SR and data.shape == (n, 8) and np.array_equal(bits(data), bits(expect))
    assert ffmpeg_raw(path) == expect.tobytes()
    assert ffprobe_frames(path) == n

    rows = np.load(folder / "analysis" / "Trumpet.npy")
    assert after[1] <= len(rows) <= after[1] + 1
    t0 = json.loads((folder / "manifest.json").read_text())["start"]["monotonic_raw"]
    assert np.array_equal(rows, np.concatenate([known_rows(k, 1, t0) for k in range(len(rows))]))
    notes = mido_seconds(mido.MidiFile(str(next(folder.glob("*.mid")))))
    assert after[2] <= len(notes) <= after[2] + 1
    for i, (t, msg) in enumerate(notes):
        assert msg.note == 36 + (i * 10) % 48 and abs(t - i * 10 * BLOCK / SR) <= 1 / 4800 + 1e-9
    mid = mido.MidiFile(str(next(folder.glob("*.mid"))))
    assert after[3] <= len([m for m in mid.tracks[0] if m.type == "marker"]) <= after[3] + 1

    m = json.loads((folder / "manifest.json").read_text())
    assert m["state"] == "repaired" and m["clean"] is False and m["repaired"]["actions"] == done
    assert m["frames"] == n and m["repaired"]["was"] == "recording"
    assert find_unfinished(tmp_path / "takes") == []
    assert not (folder / ".reserve").exists()

    snapshot = {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert repair_take(folder) == []                               # idempotent: nothing to do, nothing changed
    assert {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == snapshot
    assert list_takes(tmp_path / "takes")[0]["status"] == "repaired"


@pytest.mark.timeout(60)
def test_torn_last_records_are_dropped_and_said(tmp_path):
    folder = tmp_path / "torn"

    def record():
        take = TakeFiles(folder, take_manifest(10.0, players=("Trumpet",)))
        for k in range(40):
            take.write_audio(known_block(k))
            take.write_analysis("Trumpet", known_rows(k, 1, 10.0))
        take.write_midi(10.01, [0x90, 60, 100], port="Nord")
        take.add_marker(10.2, 150, "one")
        take.sync()
        for k in range(40, 45):                                     # after the sync
            take.write_audio(known_block(k))
            take.write_analysis("Trumpet", known_rows(k, 1, 10.0))
        take.write_midi(10.3, [0x80, 60, 0], port="Nord")
        # and a crash in the middle of writing each file: two frames and part of one, part of a row, of a line
        with open(next(folder.glob("*.wav")), "ab") as f:
            f.write(known_block(45).tobytes()[:2 * 32 + 13])
        with open(folder / "analysis" / "Trumpet.npy", "ab") as f:
            f.write(known_rows(45, 1, 10.0).tobytes()[:20])
        with open(folder / "midi.jsonl", "ab") as f:
            f.write(b'{"t": 10.4, "port": "Nord", "da')
        with open(folder / "markers.csv", "ab") as f:
            f.write(b"10.5,0.5,15")
        (folder / "manifest.json.tmp").write_text('{"half a man')
    dies_after(record)

    assert wav.read_info(next(folder.glob("*.wav"))).header_frames == 40 * 256
    with pytest.raises(Exception):
        mido_seconds(mido.MidiFile(str(next(folder.glob("*.mid")))))[1]   # the .mid is the sync's: one note
    done = repair_take(folder)
    text = "\n".join(done)
    assert "cut 13 bytes of a frame" in text
    assert "dropped a torn last record (20 of 52 bytes)" in text
    assert "midi.jsonl: dropped a torn last line" in text and "markers.csv: dropped a torn last line" in text
    assert "manifest.json.tmp: removed" in text
    assert "the header said 10240 frames (0.213 s); 11522 whole frames (0.240 s) are on disk" in text
    data, _ = sf.read(str(next(folder.glob("*.wav"))), dtype="float32")
    assert np.array_equal(bits(data), bits(np.concatenate([known(45 * 256), known_block(45)[:2]])))
    assert np.array_equal(np.load(folder / "analysis" / "Trumpet.npy"),
                          np.concatenate([known_rows(k, 1, 10.0) for k in range(45)]))
    notes = mido_seconds(mido.MidiFile(str(next(folder.glob("*.mid")))))
    assert [(round(t, 3), m.type) for t, m in notes] == [(0.01, "note_on"), (0.3, "note_off")]
    lines = (folder / "markers.csv").read_text().splitlines()
    assert len(lines) == 2 and lines[1].endswith(",150,01:00:06:06,one")
    assert repair_take(folder) == []


@pytest.mark.timeout(60)
def test_a_take_being_recorded_is_not_repaired_or_listed_as_unfinished(tmp_path):
    take = TakeFiles(tmp_path / "takes" / "1M1-1-2026-12-02_14-05-09", take_manifest(1.0))
    take.write_audio(known(4096))
    take.sync()
    assert find_unfinished(tmp_path / "takes") == []
    with pytest.raises(TakeError, match="being recorded now"):
        repair_take(take.folder)
    assert list_takes(tmp_path / "takes")[0]["status"] == "recording"
    take.close()
    assert list_takes(tmp_path / "takes")[0]["status"] == "clean"
    with pytest.raises(TakeError, match="no manifest.json"):
        repair_take(tmp_path)


@pytest.mark.timeout(90)
def test_stage_takes_repair_says_what_it_did(tmp_path):
    takes = tmp_path / "takes"
    folder = new_take_folder(takes, "2M3")

    def record():
        take = TakeFiles(folder, take_manifest(3.0))
        for k in range(300):
            take.write_audio(known_block(k))
            if k == 200:
                take.sync()
    dies_after(record)
    r = subprocess.run(stage_cmd("takes", "--repair", takes), capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert folder.name in r.stdout and "header rewritten" in r.stdout
    assert sf.info(str(the_wav(folder))).frames == 300 * 256
    r = subprocess.run(stage_cmd("takes", "--repair", folder), capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0 and "nothing to repair" in r.stdout


if __name__ == "__main__" and sys.argv[1:2] == ["writer"]:
    _writer(sys.argv[2], sys.argv[3])
