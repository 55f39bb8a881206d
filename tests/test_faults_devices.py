"""Devices that refuse a sample rate, a channel count or a block size: `stage check` and
`stage run` say so against the session key at fault, with what the device will do, on a real
JACK dummy server (48 kHz, 8 in); and a session asking what the device does runs."""

import os
import re
import subprocess

import pytest

from stage_testing import StageRun

from .conftest import stage_cmd

SESSION = """\
[film]
file = "{film}"

[audio]
input = "system"
{audio}

[[players]]
name = "Low"
channel = 1

[[players]]
name = "High"
channel = {channel}
"""


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    from stage.film.synth import make_numbered_clip
    return make_numbered_clip(tmp_path_factory.mktemp("film") / "f.mp4", 240, size=(160, 90))


def session(tmp_path, film, audio="", channel=2):
    path = tmp_path / "s.toml"
    path.write_text(SESSION.format(film=film, audio=audio, channel=channel))
    return path


def stage(jack, *args, env=None):
    e = dict(os.environ, JACK_DEFAULT_SERVER=jack, JACK_NO_START_SERVER="1", SDL_VIDEODRIVER="dummy",
             SDL_AUDIODRIVER="dummy", **(env or {}))
    return subprocess.run(stage_cmd(*args), capture_output=True, text=True, timeout=60, env=e)


def run_briefly(jack, path, env=None):
    return stage(jack, "run", path, "--headless", "--silent", "--seconds", "1", env=env)


def refusal(r) -> str:
    """The one line stage printed for a refusal (no traceback)."""
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("stage: ")]
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_a_session_asking_what_the_device_does_checks_and_runs(jack_server, tmp_path, film):
    """The positive control: the same session at the server's rate, on its last channel, runs."""
    path = session(tmp_path, film, "samplerate = 48000\nblocksize = 256", channel=8)
    r = stage(jack_server, "check", path)
    assert r.returncode == 0, r.stderr
    assert "audio    the input accepts 48000 Hz, up to 8 input channels; JACK's period is 256 frames" in r.stdout
    with StageRun(path, 1.5, jack=jack_server) as run:
        pass
    assert run.ok, run.stderr
    assert run.stats["audio_blocks"] > 100, run.stats


@pytest.mark.parametrize("command,capture", [("check", ""), ("run", "process"), ("run", "thread")])
def test_a_rate_the_server_does_not_run_at_is_refused_with_the_rate_it_does(jack_server, tmp_path, film, command,
                                                                            capture):
    """`run` opens the input in its capture process, or (STAGE_CAPTURE=thread) in its own."""
    path = session(tmp_path, film, "samplerate = 44100")
    args = ("check", path) if command == "check" else ("run", path, "--headless", "--silent", "--seconds", "1")
    line = refusal(stage(jack_server, *args, env={"STAGE_CAPTURE": capture}))
    assert line == (f"stage: {path}:6: audio.samplerate: audio.input 'system': 44100 Hz refused; this device runs "
                    "at 48000 Hz (under JACK the server's rate): set audio.samplerate = 48000 or leave it out "
                    "(the device's own rate)")


@pytest.mark.parametrize("command", ["check", "run"])
def test_more_channels_than_the_device_has_are_refused_against_the_player(jack_server, tmp_path, film, command):
    path = session(tmp_path, film, channel=16)
    args = ("check", path) if command == "check" else ("run", path, "--headless", "--silent", "--seconds", "1")
    line = refusal(stage(jack_server, *args))
    # the second player's channel is the one past the device's last: its line, its key
    assert line == (f"stage: {path}:14: players[1].channel: audio.input 'system': 16 channels refused; this device "
                    "has at most 8 input channels (players' channels 1-8) (under JACK: the server's -C count)")


@pytest.mark.parametrize("block", [4096, 100, 0])
def test_a_silly_block_size_is_refused_with_the_ones_allowed(jack_server, tmp_path, film, block):
    path = session(tmp_path, film, f"blocksize = {block}")
    line = refusal(run_briefly(jack_server, path))
    assert line == (f"stage: {path}:6: audio.blocksize: {block} frames is not allowed; valid: 64, 128, 256, 512, "
                    "1024, 2048")


def test_the_capture_process_names_what_was_refused(jack_server, monkeypatch):
    """In-process, below the command: the capture process's own refusal comes back as a
    DeviceError whose setting names the session key's kind."""
    monkeypatch.setenv("JACK_DEFAULT_SERVER", jack_server)
    from stage.audio import devices
    from stage.audio.capture import CaptureInput
    devices.ensure()
    src = CaptureInput("system", 44100, 256, 2)
    try:
        with pytest.raises(devices.DeviceError) as e:
            src.start()
        assert e.value.setting == "samplerate"
        assert re.search(r"44100 Hz refused; this device runs at 48000 Hz", str(e.value))
    finally:
        src.close()
    src = CaptureInput("system", 48000, 256, 2)     # and the rate it does: it opens
    try:
        src.start()
        assert src.status.state == "running"
    finally:
        src.close()
    with pytest.raises(devices.DeviceError) as e:
        CaptureInput("system", 48000, 256, 9)
    assert e.value.setting == "channels" and "at most 8 input channels" in str(e.value)


def test_stage_devices_lists_what_each_input_accepts(jack_server):
    r = stage(jack_server, "devices")
    assert r.returncode == 0, r.stderr
    assert re.search(r"\[ ?\d+\] system  \(JACK Audio Connection Kit; in 8, out 8; 48000 Hz\)\n"
                     r" +input rates 48000 Hz; up to 8 channels; JACK period 256 frames", r.stdout), r.stdout
