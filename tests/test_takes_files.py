"""Takes: the folder, and every file read back by programs that are not stage (libsndfile
through soundfile, FFmpeg's ffmpeg and ffprobe, NumPy, mido, midicsv), during the take and
after it, across the RF64 switch and past 4 GiB."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from datetime import datetime
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from stage import clock
from stage.takes import (TakeError, TakeFiles, analysis_rows, check_can_record, list_takes, load_analysis,
                         new_take_folder, parse_folder_name, repair_take, safe_name)
from stage.takes import records, smf, wav

from .conftest import need_tool

SR = 48000


# ---------------------------------------------------------------- helpers the other takes tests use
def take_manifest(t0: float, channels: int = 8, samplerate: int = SR, players=("Trumpet", "Bass"),
                  fps="24000/1001", first="01:00:00:00", frame: float = 144.5, drop: bool = False) -> dict:
    return {"session": "/studio/night.toml", "cue": "1M1", "cue_index": 1,
            "devices": {"audio": "system", "midi": ["Nord"]},
            "samplerate": samplerate, "channels": channels,
            "players": [{"name": p, "channel": i + 1, "lowest": 40, "highest": 84} for i, p in enumerate(players)],
            "film": {"path": "reel1.mov", "fps": fps, "drop_frame": drop, "first_frame": first,
                     "loop": ["01:00:06:00", "01:00:11:00"]},
            "start": {"monotonic_raw": t0, "frame": frame}}


def known_block(k: int, n: int = 256, channels: int = 8) -> np.ndarray:
    """Block ``k`` of a known signal: random float32 bit patterns, and in block 0 the values a
    careless writer changes (-0.0, a subnormal, values past full scale)."""
    a = np.random.default_rng([7, k]).random((n, channels), dtype=np.float32) * 2 - 1
    if k == 0:
        a[0, :] = np.array([-0.0, 1e-45, 3.5, -1e30, 1.0, -1.0, 0.0, 2.0 ** -126][:channels], np.float32)
    return a


def known(frames: int, channels: int = 8, block: int = 256) -> np.ndarray:
    k = -(-frames // block)
    return np.concatenate([known_block(i, block, channels) for i in range(k)])[:frames]


def known_rows(k: int, n: int, t0: float, frame0: int = 144) -> np.ndarray:
    r = analysis_rows(n)
    i = np.arange(k * n, (k + 1) * n)
    r["t_capture"] = t0 + (i + 1) * 256 / SR
    r["film_s"] = (frame0 + i * 256 / SR * 24000 / 1001) / (24000 / 1001)
    r["frame"] = frame0 + (i * 256 / SR * 24000 / 1001).astype(int)
    r["timecode"] = b"01:00:06:00"
    r["loop_pass"] = 1
    r["f0_hz"] = 440 + (i % 7)
    r["confidence"] = 0.9
    r["level_db"] = -20 - (i % 3)
    r["onset"] = (i % 50 == 0)
    return r


def bits(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def ffmpeg_raw(path, start_s: float | None = None) -> bytes:
    """The samples as FFmpeg decodes them: raw interleaved float32."""
    cmd = [need_tool("ffmpeg"), "-v", "error", "-nostdin"]
    if start_s is not None:
        cmd += ["-ss", f"{start_s:.6f}"]
    cmd += ["-i", str(path), "-map", "0:a", "-c:a", "pcm_f32le", "-f", "f32le", "-"]
    r = subprocess.run(cmd, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


def ffprobe(path) -> dict:
    r = subprocess.run([need_tool("ffprobe"), "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def ffprobe_frames(path) -> int:
    s = ffprobe(path)["streams"][0]
    assert s["codec_name"] == "pcm_f32le"
    return int(s["duration_ts"])


def midicsv(path) -> list[list[str]]:
    r = subprocess.run([need_tool("midicsv"), str(path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return [[c.strip() for c in line.split(",")] for line in r.stdout.splitlines()]


def mido_seconds(mid: mido.MidiFile) -> list[tuple[float, mido.Message]]:
    """Channel messages with their time from the file's start, computed from the SMPTE
    division mido reads (mido keeps it as the signed header word)."""
    word = mid.ticks_per_beat & 0xFFFF
    rate = 256 - (word >> 8)
    per_s = (30000 / 1001 if rate == 29 else rate) * (word & 0xFF)
    out = []
    for tr in mid.tracks:
        tick = 0
        for msg in tr:
            tick += msg.time
            if not msg.is_meta:
                out.append((tick / per_s, msg))
    return sorted(out, key=lambda x: x[0])


def dies_after(fn) -> None:
    """Run ``fn`` in a forked child that then ends at once, closing nothing (as after kill -9:
    what it wrote is in the page cache, its locks go with it)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            fn()
            code = 0
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def the_wav(folder) -> Path:
    return Path(folder) / json.loads((Path(folder) / "manifest.json").read_text())["files"]["audio"]


# ---------------------------------------------------------------- the folder
@pytest.mark.timeout(30)
def test_take_folders_are_numbered_per_cue_and_named_safely(tmp_path):
    when = datetime(2026, 12, 2, 14, 5, 9)
    a = new_take_folder(tmp_path, "1M1", when)
    b = new_take_folder(tmp_path, "1M1", when)            # the same second: another number, not a clash
    c = new_take_folder(tmp_path, "1M2", when)
    assert [a.name, b.name, c.name] == ["1M1-1-2026-12-02_14-05-09", "1M1-2-2026-12-02_14-05-09",
                                        "1M2-1-2026-12-02_14-05-09"]
    (tmp_path / "1M1-7-2026-11-30_20-00-00").mkdir()      # takes of an earlier night: go on after the highest
    assert new_take_folder(tmp_path, "1M1", when).name.startswith("1M1-8-")
    odd = new_take_folder(tmp_path, 'Reel 2: "lift" / take*?', when)
    assert "/" not in odd.name and ":" not in odd.name and "*" not in odd.name and " " not in odd.name
    assert odd.parent == tmp_path and odd.is_dir()
    assert parse_folder_name(odd.name)[:2] == (safe_name('Reel 2: "lift" / take*?'), 1)
    assert new_take_folder(tmp_path, 'Reel 2: "lift" / take*?', when).name.startswith(odd.name.split("-2026")[0][:-1] + "2-")
    hyph = new_take_folder(tmp_path, "4M1-alt", when)      # a hyphen in the cue's name is kept and parsed back
    assert parse_folder_name(hyph.name) == ("4M1-alt", 1, when)
    assert safe_name("..") == "take" and safe_name("CON") == "_CON" and safe_name("Ascenseur à l'échafaud") == \
        "Ascenseur_à_l'échafaud"
    assert sorted([new_take_folder(tmp_path, "9", datetime(2026, 12, 2, h, 0, 0)).name for h in (9, 10, 23)]) == \
        [f"9-{n}-2026-12-02_{h:02d}-00-00" for n, h in ((1, 9), (2, 10), (3, 23))]   # sortable by time


@pytest.mark.timeout(30)
def test_bad_calls_are_refused_with_the_key_or_the_shape(tmp_path):
    t0 = clock.now()
    m = take_manifest(t0)
    del m["samplerate"]
    with pytest.raises(TakeError, match="'samplerate'"):
        TakeFiles(tmp_path / "a", m)
    with pytest.raises(TakeError, match="'start' must hold 'monotonic_raw'"):
        TakeFiles(tmp_path / "b", {**take_manifest(t0), "start": {}})
    with pytest.raises(TakeError, match="'film'"):
        TakeFiles(tmp_path / "c", {**take_manifest(t0), "film": {"fps": 24, "first_frame": "25:99:00:00"}})
    take = TakeFiles(tmp_path / "d", take_manifest(t0))
    with pytest.raises(ValueError, match="8 channels"):
        take.write_audio(np.zeros((256, 2), np.float32))
    with pytest.raises(TypeError, match="float32"):
        take.write_audio(np.zeros((256, 8), np.float64))
    with pytest.raises(ValueError, match="no player 'Tuba'"):
        take.write_analysis("Tuba", analysis_rows(1))
    with pytest.raises(TakeError, match="two players named 'Bass'"):
        TakeFiles(tmp_path / "e", take_manifest(t0, players=("Bass", "Tuba", "Bass")))
    take.write_audio(known(512))                       # the refusals left the take as it was
    take.close()
    assert take.status.frames == 512 and take.status.state == "closed"
    with pytest.raises(TakeError, match="already holds a take"):
        TakeFiles(tmp_path / "d", take_manifest(t0))
    assert not (tmp_path / "a").exists()               # a refused take leaves nothing behind


# ---------------------------------------------------------------- the files, read back by others
def write_take(folder, seconds: float = 3.0, channels: int = 8, **kw) -> tuple[TakeFiles, dict]:
    """A take of known audio, analysis, MIDI and markers, synced each second, closed."""
    t0 = 1000.0
    take = TakeFiles(folder, take_manifest(t0, channels=channels, **kw))
    n = int(seconds * SR) // 256
    sent = {"midi": [], "rows": []}
    for k in range(n):
        take.write_audio(known_block(k, channels=channels))
        rows = known_rows(k, 1, t0)
        take.write_analysis("Trumpet", rows)
        sent["rows"].append(rows)
        if k % 20 == 0:
            t = t0 + k * 256 / SR
            note = 60 + k % 12
            take.write_midi(t, [0x90, note, 100], port="Nord")
            take.write_midi(t + 0.01, mido.Message("note_off", note=note), port="Nord")
            take.write_midi(t + 0.005, [0xB1, 64, 127], port="FCB1010")
            take.write_midi(t + 0.006, [0xF8], port="Nord")           # clock: in the log, not in the .mid
            sent["midi"] += [(t, [0x90, note, 100], "Nord"), (t + 0.005, [0xB1, 64, 127], "FCB1010"),
                             (t + 0.01, [0x80, note, 64], "Nord")]
        if k == 37:
            sysex = [0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7]
            take.write_midi(t0 + k * 256 / SR, sysex, port="Nord")
            sent["midi"].append((t0 + k * 256 / SR, sysex, "Nord"))
        if k == n // 2:
            take.add_marker(t0 + k * 256 / SR, 200, "bar 17, the lift")
        if k == 100:
            take.note_gap(t0 + 0.5, t0 + 0.5107, "capture overrun")
        if (k + 1) % (SR // 256) == 0:
            take.sync()
    take.close()
    sent["frames"] = n * 256
    sent["rows"] = np.concatenate(sent["rows"])
    return take, sent


@pytest.mark.timeout(90)
def test_a_closed_take_is_read_exactly_by_soundfile_ffmpeg_numpy_mido_and_midicsv(tmp_path):
    folder = new_take_folder(tmp_path, "1M1", datetime(2026, 12, 2, 14, 5, 9))
    take, sent = write_take(folder)
    m = json.loads((folder / "manifest.json").read_text())
    assert m["state"] == "closed" and m["clean"] is True and m["error"] is None
    assert m["files"]["audio"] == "1M1-1.wav" and m["take"] == 1 and m["cue"] == "1M1"
    assert m["start"]["timecode"] == "01:00:06:00" and m["start"]["monotonic_raw"] == 1000.0
    assert m["frames"] == sent["frames"] and m["samplerate"] == SR and m["channels"] == 8
    for rel in [m["files"]["audio"], m["files"]["midi"], m["files"]["midi_log"], m["files"]["markers"],
                *m["files"]["analysis"].values()]:
        assert not os.path.isabs(rel) and (folder / rel).is_file(), rel
    assert not (folder / ".reserve").exists() and not (folder / ".lock").exists()
    expect = known(sent["frames"])

    path = folder / m["files"]["audio"]
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)          # libsndfile
    assert sr == SR and data.shape == expect.shape
    assert np.array_equal(bits(data), bits(expect))                          # bit for bit, -0.0 and subnormals too
    assert ffmpeg_raw(path) == expect.tobytes()                              # FFmpeg
    probe = ffprobe(path)["streams"][0]
    assert (probe["channels"], probe["sample_rate"], int(probe["duration_ts"])) == (8, "48000", sent["frames"])
    assert sf.info(str(path)).format == "WAVEX"          # WAVE_FORMAT_EXTENSIBLE, float

    rows = np.load(folder / m["files"]["analysis"]["Trumpet"])              # NumPy, no stage
    assert set(load_analysis(folder)) == {"Trumpet", "Bass"} and np.array_equal(load_analysis(folder)["Trumpet"], rows)
    assert len(records.header(records.ANALYSIS_DTYPE, 0)) == len(records.header(records.ANALYSIS_DTYPE, 10 ** 18))
    assert rows.dtype.names[:3] == ("t_capture", "film_s", "frame") and np.array_equal(rows, sent["rows"])
    assert len(np.load(folder / m["files"]["analysis"]["Bass"])) == 0
    assert m["analysis_rows"] == {"Trumpet": len(sent["rows"]), "Bass": 0}

    mid = mido.MidiFile(str(folder / m["files"]["midi"]))                   # mido
    assert mid.type == 1 and len(mid.tracks) == 3
    assert (mid.ticks_per_beat & 0xFFFF) == ((256 - 24) << 8 | 100)        # SMPTE: 24 frames, 100 ticks a frame
    offset = [msg for msg in mid.tracks[0] if msg.type == "smpte_offset"][0]
    assert (offset.frame_rate, offset.hours, offset.minutes, offset.seconds, offset.frames, offset.sub_frames) == \
        (24, 1, 0, 6, 0, 50)                                                  # frame 144.5 of a 01:00:00:00 reel
    assert [msg.text for msg in mid.tracks[0] if msg.type == "marker"] == ["bar 17, the lift"]
    assert [msg.name for msg in (mid.tracks[1][0], mid.tracks[2][0])] == ["Nord", "FCB1010"]
    got = mido_seconds(mid)
    want = sorted(((t - 1000.0, bytes(b)) for t, b, _port in sent["midi"]), key=lambda x: x[0])
    assert len(got) == len(want)
    for (gt, gm), (wt, wb) in zip(got, want):
        assert abs(gt - wt) <= 0.5 / 2400 + 1e-9 and bytes(gm.bytes()) == wb
    rows_csv = midicsv(folder / m["files"]["midi"])                         # midicsv, another reader
    assert rows_csv[0] == ["0", "0", "Header", "1", "3", str(((256 - 24) << 8 | 100) - 65536)]
    assert ["1", "0", "SMPTE_offset", "1", "0", "6", "0", "50"] in rows_csv
    assert sum(r[2] == "Note_on_c" for r in rows_csv) == sum(b[0] == 0x90 for _t, b, _p in sent["midi"])
    first_on = next(r for r in rows_csv if r[2] == "Note_on_c")
    assert first_on[1] == "0" and first_on[3:] == ["0", "60", "100"]

    log = [json.loads(line) for line in (folder / m["files"]["midi_log"]).read_text().splitlines()]
    assert sum(e["data"] == "f8" for e in log) == m["midi_not_in_smf"] > 0    # every message is in the log
    markers = list(csv.DictReader(open(folder / m["files"]["markers"])))
    assert markers == [{"t_capture": markers[0]["t_capture"], "take_s": markers[0]["take_s"], "frame": "200",
                        "timecode": "01:00:08:08", "label": "bar 17, the lift"}]
    assert m["markers"][0]["label"] == "bar 17, the lift"
    assert m["gaps"] == [{"t_from": 1000.5, "t_to": 1000.5107, "seconds": 0.0107, "audio_frame": 101 * 256,
                          "reason": "capture overrun"}]
    assert repair_take(folder) == []                                        # a clean take: nothing to do


@pytest.mark.timeout(90)
def test_the_files_are_read_during_the_take_up_to_the_last_sync(tmp_path):
    take = TakeFiles(tmp_path / "live", take_manifest(500.0))
    path = the_wav(tmp_path / "live")
    seen, row_blocks, notes_sent = [], [], 0
    k = 0
    for second in range(3):
        for _ in range(SR // 256):
            take.write_audio(known_block(k))
            take.write_analysis("Bass", known_rows(k, 2, 500.0))
            row_blocks.append(k)
            if k % 40 == 0:
                take.write_midi(500.0 + k * 256 / SR, [0x90, 40, 90], port="Nord")
                notes_sent += 1
            k += 1
        take.sync(wait=True)                                 # the manifest too is on disk when it returns
        synced = take.status.frames
        for j in range(30):                                  # written after the sync: not yet in the header
            take.write_audio(known_block(k + j))
        d, _ = sf.read(str(path), dtype="float32", always_2d=True)
        assert d.shape[0] == synced and np.array_equal(bits(d), bits(known(synced)))
        assert ffprobe_frames(path) == synced
        assert ffmpeg_raw(path) == known(synced).tobytes()
        rows = np.load(tmp_path / "live" / "analysis" / "Bass.npy")
        assert np.array_equal(rows, np.concatenate([known_rows(i, 2, 500.0) for i in row_blocks]))
        notes = mido_seconds(mido.MidiFile(str(next((tmp_path / "live").glob("*.mid")))))
        assert len(notes) == notes_sent
        m = json.loads((tmp_path / "live" / "manifest.json").read_text())
        assert m["state"] == "recording" and m["clean"] is False and m["frames"] == synced
        seen.append(synced)
        k += 30
    take.close()
    assert seen[0] > 0 and seen[0] < seen[1] < seen[2]          # the readers saw the take grow
    assert ffprobe_frames(path) == k * 256


@pytest.mark.timeout(90)
def test_past_the_wav_limit_the_same_file_goes_on_as_rf64(tmp_path):
    """The 4 GiB switch with a limit of 200 kB: the same code, read by libsndfile and FFmpeg
    as RF64, bit-exact across the switch; and a torn RF64 repaired."""
    limit = 200_000
    take = TakeFiles(tmp_path / "rf", take_manifest(9.0, channels=2), wav_limit=limit)
    path = the_wav(tmp_path / "rf")
    forms = []
    for k in range(4 * SR // 256):                               # 4 s of 2 channels: 1.5 MB, far past the limit
        take.write_audio(known_block(k, channels=2))
        if (k + 1) % (SR // 256 // 2) == 0:
            take.sync()
            forms.append(path.read_bytes()[:4])
            d, _ = sf.read(str(path), dtype="float32", always_2d=True)
            assert d.shape[0] == take.status.frames and np.array_equal(bits(d), bits(known(d.shape[0], 2)))
    take.close()
    assert forms[0] == b"RIFF" and forms[-1] == b"RF64" and forms.index(b"RF64") == 1   # it switched at 200 kB
    frames = 4 * SR // 256 * 256
    assert sf.info(str(path)).format == "RF64" and sf.info(str(path)).frames == frames
    assert ffprobe_frames(path) == frames and ffmpeg_raw(path) == known(frames, 2).tobytes()
    info = wav.read_info(path)
    assert (info.form, info.header_frames, info.disk_frames) == ("RF64", frames, frames)

    with open(path, "ab") as f:                                   # a crash: 11 more frames and part of one
        f.write(known(frames + 12, 2)[frames:].tobytes()[:11 * 8 + 5])
    said = repair_take(tmp_path / "rf")
    assert any("cut 5 bytes" in s for s in said) and any("header rewritten" in s for s in said)
    assert sf.info(str(path)).frames == frames + 11 == ffprobe_frames(path)
    assert ffmpeg_raw(path) == known(frames + 12, 2)[:frames + 11].tobytes()


@pytest.mark.timeout(120)
def test_a_take_past_4_gib_is_repaired_to_rf64_and_read_at_its_end(tmp_path):
    """A real file over 4 GiB, made sparse (only its header and its last frames take disk):
    repair makes it RF64 from its size, and libsndfile and FFmpeg read its last frames
    bit-exact. (Writing 4 GiB for real: scripts/check_takes_4gib.py.)"""
    folder = tmp_path / "long"

    def record():
        take = TakeFiles(folder, take_manifest(1.0, channels=8))
        take.write_audio(known(1024))
        take.sync()
    dies_after(record)                                            # a crash: never closed
    path = the_wav(folder)
    frames = (2 ** 32 + 2 ** 20) // 32                            # 4 GiB + 1 MiB of 8-channel frames
    tail = known_block(99, 64)
    end = wav.DATA_OFFSET + frames * 32
    fd = os.open(path, os.O_WRONLY)
    os.pwrite(fd, tail.tobytes() + b"\x01\x02\x03", end - tail.nbytes)      # the last 64 frames, and a torn one
    os.close(fd)
    if os.stat(path).st_blocks * 512 > 64 * 2 ** 20:
        pytest.fail("this file system does not keep files sparse; the test would write 4 GiB")
    assert wav.read_info(path).form == "WAV" and wav.read_info(path).header_frames == 1024
    said = repair_take(folder)
    assert any("now RF64" in s for s in said) and any("cut 3 bytes" in s for s in said), said
    info = wav.read_info(path)
    assert (info.form, info.header_frames, info.file_bytes) == ("RF64", frames, end)
    assert sf.info(str(path)).frames == frames and ffprobe_frames(path) == frames
    with sf.SoundFile(str(path)) as f:
        f.seek(frames - 64)
        assert np.array_equal(bits(f.read(64, dtype="float32")), bits(tail))
    at = (frames - 64) / SR
    got = ffmpeg_raw(path, start_s=at - 0.01)
    assert got.endswith(tail.tobytes()) and len(got) >= tail.nbytes
    m = json.loads((folder / "manifest.json").read_text())
    assert m["state"] == "repaired" and m["frames"] == frames
    row = list_takes(tmp_path)[0]
    assert row["status"] == "repaired" and abs(row["duration_s"] - frames / SR) < 1e-6
    assert repair_take(folder) == []


@pytest.mark.timeout(30)
def test_smpte_division_follows_the_film(tmp_path):
    cases = {("24000/1001", False): (24, 1), ("24", False): (24, 1), ("25", False): (25, 1),
             ("30000/1001", True): (29, 1), ("30000/1001", False): (30, 1), ("30", False): (30, 1),
             ("50", False): (25, 2), ("60000/1001", True): (29, 2), ("60", False): (30, 2)}
    for (fps, drop), (code, per) in cases.items():
        d = smf.division_for(float(eval(fps)), drop)
        assert (d.code, d.per_label) == (code, per), fps
    d = smf.division_for(60000 / 1001, True)           # 59.94 drop: 01:00:00;45 is frame 22 and a half at 29.97
    ev = smf.smpte_offset(d, "01:00:00;45", 0.0)
    assert ev[:3] == b"\xff\x54\x05" and ev[3] == (2 << 5 | 1) and tuple(ev[4:]) == (0, 0, 22, 50)
    t0 = 77.0
    take = TakeFiles(tmp_path / "df", take_manifest(t0, channels=1, players=(), fps="30000/1001", drop=True,
                                                    first="00:00:59;00", frame=60.25))
    take.write_midi(t0 + 10.0, [0x90, 64, 1])
    take.close()
    mid = mido.MidiFile(str(next((tmp_path / "df").glob("*.mid"))))
    off = [m for m in mid.tracks[0] if m.type == "smpte_offset"][0]
    assert (off.frame_rate, off.hours, off.minutes, off.seconds, off.frames, off.sub_frames) == \
        (29.97, 0, 1, 1, 2, 25)                                      # 00:01:01;02: 00:01:00;00 and ;01 do not exist
    (t, msg), = mido_seconds(mid)
    assert abs(t - 10.0) < 1 / 3000 and msg.type == "note_on"        # ticks are real time at 29.97


@pytest.mark.timeout(30)
def test_check_can_record_passes_where_a_take_fits(tmp_path):
    check_can_record(tmp_path / "takes", 8, SR, 1)                  # the positive control of the refusals
    assert (tmp_path / "takes").is_dir() and list((tmp_path / "takes").iterdir()) == []
