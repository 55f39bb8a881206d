#!/usr/bin/env python3
"""Screenshots of the studio and performance views for the README: the demo, headless,
10 s in, at 1280x720 (JPEG, to keep them small)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    out = ROOT / "docs"
    out.mkdir(exist_ok=True)
    env = dict(os.environ, SDL_VIDEODRIVER="dummy")
    for mode, extra in (("studio", ["--hud"]), ("performance", [])):
        shot = out / f"{mode}.jpg"
        subprocess.run([sys.executable, "-m", "stage.cli", "demo", "--headless", "--silent", "--seconds", "10",
                        "--size", "1280x720", "--mode", mode, "--snapshot", str(shot), *extra],
                       env=env, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        print(f"wrote {shot} ({shot.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
