"""Finding the cuts in a film: frame differences and histograms on small grey frames.

A cut is a frame that differs from the one before it far more than its neighbours differ from
theirs: the score of each frame (mean absolute difference of 64x36 grey images, and the L1
distance of their 32-bin histograms) is compared with the median score around it, so rain,
flicker and camera moves do not count, but a change of shot does.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

W, H = 64, 36


def _features(frame):
    img = frame.reformat(width=W, height=H, format="gray").to_ndarray().astype(np.float32)
    # normalised for brightness and contrast: a flickering lamp or a fade changes neither
    norm = (img - img.mean()) / (img.std() + 2.0)
    hist = np.histogram(norm, bins=32, range=(-3, 3))[0].astype(np.float32) / norm.size
    return norm, hist


def _distance(a, b) -> float:
    (na, ha), (nb, hb) = a, b
    return 0.5 * float(np.mean(np.abs(na - nb))) / 1.2 + 0.5 * float(np.abs(ha - hb).sum()) / 2.0


FLASH_S = 0.25    # a picture that comes back within this long was a flash or a flicker, not a cut


def frame_scores(path, progress=None) -> tuple[np.ndarray, float]:
    """D[i, k]: how much frame i differs from frame i-k, for k = 1..K (K frames make FLASH_S),
    on small grey frames normalised for brightness; 0 where there is no such frame. And the
    frame rate."""
    rows = []
    recent: list = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        fps = float(s.average_rate or s.guessed_rate or 24)
        k_max = max(3, int(round(FLASH_S * fps)))
        total = s.frames or 0
        for i, frame in enumerate(c.decode(s)):
            f = _features(frame)
            row = np.zeros(k_max + 1, np.float32)
            for k in range(1, min(k_max, len(recent)) + 1):
                row[k] = _distance(recent[-k], f)
            rows.append(row)
            recent = (recent + [f])[-k_max:]
            if progress is not None:
                progress(i + 1, total)
    return np.array(rows, np.float32).reshape(-1, k_max + 1), fps


def find_cuts(d: np.ndarray, fps: float, ratio: float = 5.0, floor: float = 0.15,
              min_shot: float = 0.4) -> list[int]:
    """Frames that start a new shot: a change from the frame before above ``floor`` and
    ``ratio`` times the median change in the second around it, lasting (below), and the
    largest such within ``min_shot`` seconds. Lasting: the new picture differs from every frame of the
    FLASH_S before it, and the old picture from every frame of the FLASH_S after it (a
    flash or a flicker, at its start or at its end, does not)."""
    n, kk = d.shape
    k_max = kk - 1
    s1 = d[:, 1]
    half = max(3, int(fps / 2))
    gap = max(1, int(min_shot * fps))
    candidates: list[int] = []
    for i in range(1, n):
        s = s1[i]
        if s < floor:
            continue
        lo, hi = max(1, i - half), min(n, i + half + 1)
        around = np.concatenate([s1[lo:i], s1[i + 1:hi]])
        if len(around) and s < ratio * max(float(np.median(around)), 0.01):
            continue
        back = d[i, 1:min(k_max, i) + 1]                           # frame i against i-1 .. i-K
        fwd = [d[i - 1 + m, m] for m in range(2, k_max + 1) if i - 1 + m < n]   # frame i-1 against i+1 ..
        if back.min() < 0.6 * s or (fwd and min(fwd) < 0.6 * s):
            continue
        candidates.append(i)
    cuts: list[int] = []
    for i in sorted(candidates, key=lambda i: -s1[i]):                # the strongest first
        if all(abs(i - c) >= gap for c in cuts):
            cuts.append(i)
    return sorted(cuts)


def detect_cuts(path, progress=None) -> tuple[list[int], float]:
    d, fps = frame_scores(Path(path), progress)
    return find_cuts(d, fps), fps


def write_hits(session_path, cuts_by_cue: dict[int, list[str]], label: str = "cut") -> int:
    """Add cut timecodes as hit points to cues of a session file (tomlkit: its comments and
    layout stay as they were). Hits already at that time are not added twice. Returns how
    many were added."""
    import tomlkit
    path = Path(session_path)
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    cues = doc["cues"]
    added = 0
    for i, times in cuts_by_cue.items():
        cue = cues[i]
        if "hits" not in cue:
            cue["hits"] = tomlkit.aot()
        have = {str(h.get("time")) for h in cue["hits"]}
        for t in times:
            if t in have:
                continue
            h = tomlkit.table()
            h["time"] = t
            h["label"] = label
            cue["hits"].append(h)
            added += 1
    path.write_text(tomlkit.dumps(doc), encoding="utf-8")
    return added
