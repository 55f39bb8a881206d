"""Fixtures that start real servers: a JACK dummy server and Xvfb, each with its own name.

Skipped with a reason only where the tool is not installed on a dev laptop; under CI
(CI=true) a missing tool is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("JACK_NO_START_SERVER", "1")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is not installed, and CI must have it (.ci/run installs it)")
        pytest.skip(f"{name} is not installed on this machine")
    return path


def _wait_for_jack(name: str, proc, timeout: float = 10.0):
    import jack
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"jackd {name} exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            c = jack.Client("stage-test-probe", servername=name, no_start_server=True)
            c.close()
            return
        except jack.JackError:
            time.sleep(0.1)
    raise RuntimeError(f"jackd {name} did not come up in {timeout} s")


@pytest.fixture(scope="session")
def jack_server():
    """A JACK dummy server (48 kHz, period 256, 8 in / 8 out). Yields its name. Uses the one
    scripts/test.sh started (STAGE_TEST_JACK) if there is one, else starts its own."""
    jackd = need_tool("jackd")
    given = os.environ.get("STAGE_TEST_JACK")
    if given:
        _wait_for_jack(given, None)
        yield given
        return
    name = f"stage-test-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen([jackd, "--no-realtime", "-n", name, "-d", "dummy", "-r", "48000", "-p", "256",
                             "-C", "8", "-P", "8"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for_jack(name, proc)
        yield name
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def xvfb_display():
    """An Xvfb server. Yields the DISPLAY string. Uses the one scripts/test.sh started
    (STAGE_TEST_DISPLAY) if there is one, else starts its own."""
    xvfb = need_tool("Xvfb")
    given = os.environ.get("STAGE_TEST_DISPLAY")
    if given:
        yield given
        return
    for n in range(150, 200):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            break
    disp = f":{n}"
    proc = subprocess.Popen([xvfb, disp, "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t_end = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{n}").exists():
        if proc.poll() is not None or time.monotonic() > t_end:
            proc.kill()
            raise RuntimeError("Xvfb did not start")
        time.sleep(0.05)
    try:
        yield disp
    finally:
        proc.terminate()
        proc.wait(5)


def stage_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "stage.cli", *map(str, args)]


@pytest.fixture
def clip_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("clips")
