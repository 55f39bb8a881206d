"""The audio server goes away and comes back: the JACK server stage captures from is stopped, and a
new one started under the same name. The picture keeps running, the players show NO INPUT,
stage reconnects by name within 3 s of the server's return, the gap is counted, and a take
being recorded goes on in the same take, with the gap written in its manifest."""

import json
import subprocess
import sys
import time

import numpy as np

from stage_testing import StageRun, rig

from .conftest import need_tool
from .test_record import SESSION, read_wav_with_ffmpeg


def injector(name):
    """A second JACK client in a process of its own (libjack serves one server per process),
    playing 440 and 196 Hz into stage's inputs."""
    p = subprocess.Popen([sys.executable, "-m", "stage_testing.rig", "inject", name, "440", "196"],
                         stdout=subprocess.PIPE, text=True, env={**__import__("os").environ, "JACK_NO_START_SERVER": "1"})
    assert p.stdout.readline().strip() == "playing"
    return p


def test_the_server_dies_and_comes_back_and_stage_reconnects_and_the_take_goes_on(tmp_path):
    need_tool("jackd")
    from stage.film.synth import make_numbered_clip
    from fractions import Fraction
    name, jackd = rig.start_jack(channels=2)
    film = make_numbered_clip(tmp_path / "f.mp4", 120, size=(160, 90), fps=Fraction(24))
    takes = tmp_path / "takes"
    session = tmp_path / "s.toml"
    session.write_text(SESSION.format(film=film, takes=takes))
    inj = [None, None]
    try:
        with StageRun(session, 11, jack=name, extra=["--record"], silent=False) as run:
            inj[0] = injector(name)
            time.sleep(2.5)
            t_down = time.clock_gettime(time.CLOCK_MONOTONIC_RAW)
            rig.stop(jackd)                                   # the engineer stops the server ...
            inj[0].kill()
            time.sleep(2.0)
            name, jackd = rig.start_jack(channels=2, name=name)   # ... and starts it again
            t_back = time.clock_gettime(time.CLOCK_MONOTONIC_RAW)
            inj[1] = injector(name)
    finally:
        for p in inj:
            if p is not None and p.poll() is None:
                p.kill()
        rig.stop(jackd)
    assert run.ok, run.stderr
    frames = run.frames
    t = np.array([f["t_present"] for f in frames])
    assert t[-1] - t[0] > 10 and np.diff(t).max() < 0.5                 # the picture never stopped
    horn = [(f["t_present"], f["players"]["Horn"]) for f in frames]
    during = [h["status"] for tp, h in horn if t_down + 0.7 < tp < t_back]
    assert during and all(s == "no input" for s in during)              # NO INPUT while it was gone
    back = [tp for tp, h in horn if tp > t_back and h["status"] == "pitch"]
    assert back and back[0] - t_back < 3.0, (back[:1], t_back)          # reconnected within 3 s
    stats = run.stats
    assert stats["input_reconnects"] >= 1 and stats["input_gaps_s"] > 1.5
    # one take, the same folder, the gap in its manifest, and the WAV on time across it
    folders = [p for p in takes.iterdir() if p.is_dir()]
    assert len(folders) == 1
    m = json.loads((folders[0] / "manifest.json").read_text())
    gaps = m.get("gaps", [])
    assert gaps and any(g["seconds"] > 1.5 for g in gaps), gaps
    audio = read_wav_with_ffmpeg(folders[0] / m["files"]["audio"], 2)
    seconds = len(audio) / 48000
    assert abs(seconds - (m["frames"] / 48000 if "frames" in m else seconds)) < 0.01
    assert seconds > 9.0                                                # the gap kept as silence, on time
    assert run.stats["players"]["Horn"]["status"] == "pitch"


MIDI_SESSION = """
[film]
file = "{film}"

[sync]
mtc_out = "stage-restart-mtc"

[[players]]
name = "Keys"
midi = "stage-restart-keys"
"""

KEYS = """
import rtmidi, sys, time
o = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="stage-restart-keys")
o.open_virtual_port("out")
print("open", flush=True)
for line in sys.stdin:
    o.send_message([0x90, int(line), 100])
"""


def test_midi_ports_in_and_out_come_back_with_the_server(tmp_path):
    need_tool("jackd")
    dump_tool = need_tool("jack_midi_dump")
    from stage.film.synth import make_numbered_clip
    from stage.music import midi_to_hz
    name, jackd = rig.start_jack(channels=2)
    film = make_numbered_clip(tmp_path / "f.mp4", 240, size=(160, 90))
    session = tmp_path / "s.toml"
    session.write_text(MIDI_SESSION.format(film=film))
    env = {**__import__("os").environ, "JACK_DEFAULT_SERVER": name, "JACK_NO_START_SERVER": "1"}

    def keyboard():
        p = subprocess.Popen([sys.executable, "-c", KEYS], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env=env)
        assert p.stdout.readline().strip() == "open"
        return p
    procs = []
    try:
        procs.append(keyboard())
        with StageRun(session, 12, jack=name, midi_ports=["stage-restart-keys:out"]) as run:
            procs[0].stdin.write("60\n")
            procs[0].stdin.flush()
            time.sleep(1.5)
            rig.stop(jackd)                                   # the server goes ...
            procs[0].kill()
            time.sleep(1.5)
            name, jackd = rig.start_jack(channels=2, name=name)   # ... and comes back
            t_back = time.clock_gettime(time.CLOCK_MONOTONIC_RAW)
            procs.append(keyboard())
            dump = subprocess.Popen(["stdbuf", "-oL", dump_tool, "-a", "stage-restart-dump"], stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, text=True, env=env)
            procs.append(dump)
            t_end = time.monotonic() + 8                      # stage's MTC port is back: connect it, as an engineer would
            connected = False
            while time.monotonic() < t_end and not connected:
                ports = subprocess.run(["jack_lsp"], capture_output=True, text=True, env=env).stdout.split()
                src = [p for p in ports if p.endswith("stage-restart-mtc")]
                if src and "stage-restart-dump:input" in ports:
                    connected = subprocess.run(["jack_connect", src[0], "stage-restart-dump:input"],
                                               env=env).returncode == 0
                time.sleep(0.1)
            assert connected, f"stage's MTC port did not come back: {ports}"
            time.sleep(2.5)                                   # the keys port found again, then a note
            procs[1].stdin.write("67\n")
            procs[1].stdin.flush()
            time.sleep(1.0)
            dump.terminate()
            heard = dump.communicate(timeout=10)[0]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        rig.stop(jackd)
    assert run.ok, run.stderr
    keys = [(f["t_present"], f["players"]["Keys"]) for f in run.frames]
    assert any(abs(k["f0_hz"] - midi_to_hz(60)) < 0.01 for _, k in keys)                    # before
    assert any(k["status"] == "no input" for t, k in keys if t < t_back)                   # while gone
    after = [k for t, k in keys if t > t_back and abs(k["f0_hz"] - midi_to_hz(67)) < 0.01]
    assert after, "the keyboard's port was not found again"
    assert heard.count(" f1 ") > 20                                                         # MTC, again
