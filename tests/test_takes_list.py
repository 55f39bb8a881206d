"""``list_takes`` and ``stage takes``: what a folder of takes holds, clean, unfinished,
repaired or broken, as a table and as JSON."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime

import pytest

from stage.takes import TakeFiles, list_takes, new_take_folder, repair_take

from .conftest import ROOT, stage_cmd
from .test_takes_files import SR, dies_after, known_block, take_manifest


def _night(takes):
    a = new_take_folder(takes, "1M1", datetime(2026, 12, 2, 20, 1, 0))
    with TakeFiles(a, {**take_manifest(1.0, players=("Trumpet", "Bass")), "start": {
            "monotonic_raw": 1.0, "frame": 144, "wall": "2026-12-02T20:01:00.000+00:00"}}) as take:
        for k in range(2 * SR // 256):
            take.write_audio(known_block(k))
    b = new_take_folder(takes, "1M1", datetime(2026, 12, 2, 20, 5, 0))

    def record():
        take = TakeFiles(b, {**take_manifest(2.0, players=("Trumpet",)), "start": {
            "monotonic_raw": 2.0, "frame": 240, "wall": "2026-12-02T20:05:00.000+00:00"}})
        for k in range(SR // 256):
            take.write_audio(known_block(k))
        take.sync()
        for k in range(SR // 256, 3 * SR // 256):
            take.write_audio(known_block(k))
    dies_after(record)                                    # killed: 3 s on disk, 1 s in the header
    c = new_take_folder(takes, "2M1", datetime(2026, 12, 2, 20, 9, 0))
    (c / "manifest.json").write_text('{"format": "stage-take",\n "cue": ')
    (takes / "notes.txt").write_text("not a take")
    (takes / "scratch").mkdir()
    return a, b, c


@pytest.mark.timeout(60)
def test_list_takes_says_what_each_take_is(tmp_path):
    takes = tmp_path / "takes"
    a, b, c = _night(takes)
    rows = list_takes(takes)
    assert [r["folder"] for r in rows] == [c.name, a.name, b.name]      # broken (no start) first, then by start
    broken, clean, unfinished = rows
    assert clean["status"] == "clean" and clean["cue"] == "1M1" and clean["take"] == 1
    assert clean["start_timecode"] == "01:00:06:00" and clean["duration_s"] == pytest.approx(2 * SR // 256 * 256 / SR)
    assert clean["players"] == ["Trumpet", "Bass"] and clean["size_bytes"] > 2 * SR * 32
    assert unfinished["status"] == "unfinished" and unfinished["take"] == 2 and unfinished["start_timecode"] == "01:00:10:00"
    assert unfinished["duration_s"] == pytest.approx(3 * SR // 256 * 256 / SR)   # what is on disk, not the stale header
    assert broken["status"] == "broken" and "manifest.json line 2" in broken["error"] and broken["cue"] == "2M1"
    repair_take(b)
    assert list_takes(takes)[2]["status"] == "repaired"


@pytest.mark.timeout(60)
def test_stage_takes_prints_a_table_or_json(tmp_path):
    takes = tmp_path / "takes"
    a, b, _c = _night(takes)
    r = subprocess.run(stage_cmd("takes", takes, "--json"), capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [(x["cue"], x["take"], x["status"]) for x in rows] == [("2M1", 1, "broken"), ("1M1", 1, "clean"),
                                                                   ("1M1", 2, "unfinished")]
    r = subprocess.run(stage_cmd("takes", takes), capture_output=True, text=True, timeout=60, cwd=ROOT,
                       env={"COLUMNS": "160", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    row = next(line for line in lines if "clean" in line)
    for cell in ("1M1", "01:00:06:00", "0:02.0", "Trumpet, Bass", "clean"):
        assert cell in row
    assert any("unfinished" in line and "0:03.0" in line for line in lines)
    assert "3 take(s)" in r.stdout
    r = subprocess.run(stage_cmd("takes", a, "--json"), capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert [x["folder"] for x in json.loads(r.stdout)] == [a.name]            # one take's folder
    r = subprocess.run(stage_cmd("takes", "--repair", takes, "--json"), capture_output=True, text=True, timeout=60,
                       cwd=ROOT)
    assert r.returncode == 0 and list(json.loads(r.stdout)) == [str(b)]
    r = subprocess.run(stage_cmd("takes", tmp_path / "none"), capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 2 and r.stderr.strip() == f"stage: {tmp_path / 'none'}: no such folder"
