"""Takes, recorded as a user records them: `stage run --record` on a real JACK server, a second
JACK client playing known samples into the inputs (every sample says which it is), MIDI
from a JACK MIDI port; the take read back with outside readers (ffmpeg, mido). Killed with
SIGKILL mid-take and repaired, the take still holds every sample up to the last second."""

import json
import os
import signal
import subprocess
import time
from fractions import Fraction

import numpy as np
import pytest

from stage.film.synth import make_numbered_clip
from stage_testing import StageRun
from stage_testing.rig import counted_index

from .conftest import need_tool, stage_cmd

SESSION = """
[film]
file = "{film}"

[[cues]]
name = "1M1"
in = "00:00:01:00"
out = "00:00:04:00"

[audio]
input = "system"
samplerate = 48000
blocksize = 256

[takes]
folder = "{takes}"
keep_free_minutes = 1

[[players]]
name = "Horn"
channel = 1
lowest = "E3"
highest = "C6"

[[players]]
name = "Bass"
channel = 2
lowest = "E1"
highest = "G3"

"""
KEYS = """
[[players]]
name = "Keys"
midi = "stage-rec-keys"
"""


def session(tmp_path, keys=False):
    film = make_numbered_clip(tmp_path / "f.mp4", 120, size=(160, 90), fps=Fraction(24))
    takes = tmp_path / "takes"
    s = tmp_path / "s.toml"
    s.write_text(SESSION.format(film=film, takes=takes) + (KEYS if keys else ""))
    return s, takes


def read_wav_with_ffmpeg(path, channels):
    """The WAV as another program reads it: ffmpeg, to raw float32."""
    ffmpeg = need_tool("ffmpeg")
    raw = subprocess.run([ffmpeg, "-v", "error", "-i", str(path), "-f", "f32le", "-acodec", "pcm_f32le", "-"],
                         capture_output=True, check=True, timeout=60).stdout
    return np.frombuffer(raw, "<f4").reshape(-1, channels)


def played_run(audio):
    """Check the take's audio is one unbroken run of the known samples, the same on every
    channel (after the silence before the client began); returns its first and last index."""
    begun = np.nonzero(np.any(audio != 0, axis=1))[0]
    assert len(begun), "nothing was recorded but silence"
    assert begun[0] < 2 * 48000                                    # the client began within the take's first 2 s
    audio = audio[begun[0]:]
    idx = [counted_index(audio[:, c], c) for c in range(audio.shape[1])]
    assert all((i >= 0).all() for i in idx), "a sample that is not one the client played"
    assert all((i == idx[0]).all() for i in idx[1:]), "the channels are not in step"
    steps = np.diff(idx[0])
    assert (steps == 1).all(), f"samples lost or doubled at {np.nonzero(steps != 1)[0][:5]}: {steps[steps != 1][:5]}"
    return int(idx[0][0]), int(idx[0][-1])


def the_take(takes):
    folders = [p for p in takes.iterdir() if p.is_dir()]
    assert len(folders) == 1, folders
    return folders[0], json.loads((folders[0] / "manifest.json").read_text())


def test_a_take_holds_every_sample_played_the_analysis_and_the_midi(jack_server, tmp_path, monkeypatch):
    import mido
    import rtmidi
    monkeypatch.setenv("JACK_DEFAULT_SERVER", jack_server)
    s, takes = session(tmp_path, keys=True)
    keys = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="stage-rec-keys")
    keys.open_virtual_port("out")
    try:
        with StageRun(s, 4, jack=jack_server, inject=2, extra=["--record"],
                      midi_ports=["stage-rec-keys:out"]) as run:
            run.injector.play_counter()
            time.sleep(1.0)
            for note in (60, 64, 67):
                keys.send_message([0x90, note, 100])
                time.sleep(0.2)
                keys.send_message([0x80, note, 0])
            played = run.injector.counted
    finally:
        keys.delete()
    assert run.ok, run.stderr
    folder, m = the_take(takes)
    assert folder.name.startswith("1M1-1-") and m["cue"] == "1M1" and m["samplerate"] == 48000 and m["channels"] == 2
    assert m["start"]["timecode"] == "00:00:01:00"                 # the take starts where the cue does
    audio = read_wav_with_ffmpeg(folder / m["files"]["audio"], 2)
    first, last = played_run(audio)
    assert first < 480 and last >= played - 1                      # from when it began to the take's end
    assert len(audio) > 3 * 48000
    # the analysis of every audio player, at the hop rate, with where the film was
    for name in ("Horn", "Bass"):
        a = np.load(folder / m["files"]["analysis"][name])
        assert abs(len(a) - len(audio) / 256) < 200
        assert np.all(np.diff(a["t_capture"]) > 0)
        assert set(a["loop_pass"]) <= {1, 2} and a["frame"].min() >= 24 and a["frame"].max() < 96
        assert a["timecode"][0] == b"00:00:01:00"
    # all MIDI received, as a standard MIDI file with SMPTE division, read by mido
    mid = mido.MidiFile(folder / m["files"]["midi"])
    notes = [msg.note for tr in mid.tracks for msg in tr if msg.type == "note_on" and msg.velocity > 0]
    assert notes == [60, 64, 67]
    # and `stage takes` lists it
    r = subprocess.run(stage_cmd("takes", takes, "--json"), capture_output=True, text=True, timeout=60)
    listed = json.loads(r.stdout)
    assert [t["cue"] for t in listed] == ["1M1"] and listed[0]["status"] == "clean"


def test_a_take_killed_with_sigkill_is_repaired_with_every_sample_to_the_last_second(jack_server, tmp_path):
    s, takes = session(tmp_path)
    with StageRun(s, 30, jack=jack_server, inject=2, extra=["--record"]) as run:
        run.injector.play_counter()
        time.sleep(3.5)
        played = run.injector.counted
        run.proc.send_signal(signal.SIGKILL)
        run.wait()
    assert run.returncode == -signal.SIGKILL
    folder, m = the_take(takes)
    assert m.get("closed") is not True
    r = subprocess.run(stage_cmd("takes", "--repair", folder), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()                                       # it says what it did
    m = json.loads((folder / "manifest.json").read_text())
    audio = read_wav_with_ffmpeg(folder / m["files"]["audio"], 2)
    first, last = played_run(audio)                               # bit-exact, nothing lost or doubled
    assert first < 480
    assert last >= played - 48000, (last, played)                 # at most the last second is lost
    for name in ("Horn", "Bass"):
        a = np.load(folder / m["files"]["analysis"][name])
        assert len(a) >= (len(audio) - 48000) / 256 - 10


def test_a_slow_disk_and_a_stalled_draw_loop_lose_nothing(jack_server, tmp_path):
    s, takes = session(tmp_path)
    with StageRun(s, 5, jack=jack_server, inject=2, extra=["--record"],
                  env={"STAGE_FAULTS": "slow_disk=0.3,stall_draw=1.5:0.5"}) as run:
        run.injector.play_counter()
        played0 = time.monotonic()
    assert run.ok, run.stderr
    t = np.array([f["t_present"] for f in run.frames])
    assert np.diff(t).max() > 0.45                                # (the draw loop did stall)
    folder, m = the_take(takes)
    audio = read_wav_with_ffmpeg(folder / m["files"]["audio"], 2)
    played_run(audio)                                             # every sample, in order
    assert len(audio) > 4 * 48000 and not m.get("gaps") and run.stats["recording_lost_s"] == 0
    assert played0


def test_a_folder_that_cannot_be_written_is_refused_before_anything_starts(jack_server, tmp_path):
    s, _ = session(tmp_path)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the takes folder would go")
    s.write_text(s.read_text().replace(f'folder = "{tmp_path / "takes"}"', f'folder = "{blocker / "takes"}"'))
    r = subprocess.run(stage_cmd("run", s, "--headless", "--seconds", 2, "--record"), capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, SDL_VIDEODRIVER="dummy", JACK_DEFAULT_SERVER=jack_server))
    assert r.returncode == 2
    assert "takes.folder" in r.stderr and str(blocker) in r.stderr, r.stderr
