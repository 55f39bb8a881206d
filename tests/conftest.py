"""Fixtures that start real servers: a JACK dummy server and Xvfb, each with its own name.

Skipped with a reason only where the tool is not installed on a dev laptop; under CI
(CI=true) a missing tool is a failure.
"""

from __future__ import annotations

import os
import shutil
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


@pytest.fixture(scope="session")
def jack_server():
    """A JACK dummy server (48 kHz, period 256, 8 in / 8 out). Yields its name. Uses the one
    scripts/test.sh started (STAGE_TEST_JACK) if there is one, else starts its own."""
    need_tool("jackd")
    from stage_testing import rig
    given = os.environ.get("STAGE_TEST_JACK")
    if given:
        rig.wait_for_jack(given)
        yield given
        return
    name, proc = rig.start_jack(name=f"stage-test-{uuid.uuid4().hex[:8]}")
    try:
        yield name
    finally:
        rig.stop(proc)


@pytest.fixture(scope="session")
def xvfb_display():
    """An Xvfb server. Yields the DISPLAY string. Uses the one scripts/test.sh started
    (STAGE_TEST_DISPLAY) if there is one, else starts its own."""
    need_tool("Xvfb")
    given = os.environ.get("STAGE_TEST_DISPLAY")
    if given:
        yield given
        return
    from stage_testing import rig
    disp, proc = rig.start_xvfb((1280, 720))
    try:
        yield disp
    finally:
        rig.stop(proc)


from stage_testing import stage_cmd  # noqa: E402  (the tests' one way to start the command)


@pytest.fixture
def clip_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("clips")
