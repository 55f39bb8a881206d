"""Finding the cuts: known cuts in clips made here (with flashes that are not cuts), and the
demo film's own; written into a session's cues as hit points."""

import subprocess

import pytest

from stage.film.cuts import detect_cuts
from stage.film.synth import make_scene_clip
from stage.session import load_session

from .conftest import ROOT, stage_cmd

CUTS = [30, 75, 90, 150, 200]
FLASHES = [50, 120, 175]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cuts_are_found_and_flashes_are_not(clip_dir, seed):
    path = make_scene_clip(clip_dir / f"scenes{seed}.mp4", 240, CUTS, FLASHES, seed=seed)
    found, fps = detect_cuts(path)
    hits = set(found) & set(CUTS)
    precision = len(hits) / max(1, len(found))
    recall = len(hits) / len(CUTS)
    assert recall == 1.0 and precision == 1.0, f"found {found}, cuts at {CUTS}"


def test_the_demo_films_cuts_through_rain_and_flicker():
    # make_demo_film.SHOTS: cuts at 6, 11, 16.5, 21 and 25.5 s; the lift's light flickers,
    # the neon blinks, the rain falls: none of those is a cut
    found, fps = detect_cuts(ROOT / "assets" / "demo_film.mp4")
    assert found == [144, 264, 396, 504, 612]


def test_cuts_become_hit_points_in_the_cues_that_hold_them(tmp_path):
    session = tmp_path / "s.toml"
    text = (ROOT / "assets" / "example_session.toml").read_text()
    session.write_text(text.replace('file = "demo_film.mp4"', f'file = "{ROOT / "assets" / "demo_film.mp4"}"'))
    r = subprocess.run(stage_cmd("cuts", ROOT / "assets" / "demo_film.mp4", "--session", session),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "00:00:06:00  frame 144" in r.stdout and "00:00:25:12  frame 612" in r.stdout
    s = load_session(session)                       # still a valid session, comments kept
    assert "# Cues: named loops" in session.read_text()
    hits = {c.name: sorted(str(h.time) for h in c.hits) for c in s.cues}
    assert hits == {"1M1 Lift": ["00:00:06:00", "00:00:09:12"], "1M2 Street": ["00:00:11:00"]}
    r = subprocess.run(stage_cmd("cuts", ROOT / "assets" / "demo_film.mp4", "--session", session),
                       capture_output=True, text=True, timeout=120)
    assert "added 0 hit point(s)" in r.stderr          # run twice: nothing added twice
