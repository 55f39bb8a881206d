"""``stage report``: one picture of a pass (matplotlib, no window: the Agg backend).

Along the film's timecode (the cue's loop, from its in point to its out point):

- a strip of film thumbnails (PyAV, from the take's film), one every loop/8 or so;
- the chord symbols of the cue's harmony, each at the bar it starts;
- for every player, its pitch contour on a note grid (every semitone a faint line, every C
  labelled; an audio player's line fades where the tracker was unsure) with the notes
  transcribed from it as pale bars, and under it the player's level in dBFS; a MIDI player's
  notes as bars, their shade the velocity;
- the cue's hit points (a line through every row, named at the top) and the take's markers
  (dashed, named).

A take of several passes draws each over the same film time, the earlier ones fainter.
``compare``: a second take of the same cue, its rows under the first's, on the same time
axis. Sized for a laptop's screen (16 x 9 in at 120 dpi: 1920 x 1080) and for print (a .pdf
or .svg is vector; line widths and type stay readable on A4 landscape).
"""

from __future__ import annotations

import math

import numpy as np

from ..music import hz_to_midi, note_name

THUMBS = 8


def _rgb(c):
    return tuple(v / 255.0 for v in c[:3])


def _ink(c):
    """A player's colour made dark enough to read on white paper (the stage's are for a dark screen)."""
    r, g, b = _rgb(c)
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    k = min(1.0, 0.45 / lum) if lum > 0 else 1.0
    return (r * k, g * k, b * k)


def thumbnails(take, n: int = THUMBS, height: int = 90):
    """[(film seconds from the loop's in point, RGB array)] across the loop; [] when the film
    cannot be read."""
    import av
    from pathlib import Path
    path = Path(take.manifest["film"].get("path", ""))
    fps = float(take.fps)
    a, b = take.loop
    want = [a + int(round(k * (b - a) / n)) for k in range(n)]
    out = []
    try:
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            t0 = s.start_time or 0
            for idx in want:
                c.seek(int(idx / fps / float(s.time_base)) + t0, stream=s, backward=True, any_frame=False)
                for fr in c.decode(s):
                    i = int(math.floor(float((fr.pts - t0) * s.time_base) * fps + 0.5)) if fr.pts is not None else idx
                    if i >= idx:
                        w = max(2, int(round(height * fr.width / fr.height / 2)) * 2)
                        out.append(((idx - a) / fps, fr.reformat(width=w, height=height, format="rgb24").to_ndarray()))
                        break
    except (av.FFmpegError, OSError, StopIteration):
        return []
    return out


def _tc_formatter(take):
    from matplotlib.ticker import FuncFormatter
    fps = float(take.fps)

    def fmt(x, _pos):
        return take.tc.label(take.loop[0] + max(0, int(math.floor(x * fps + 1e-6))))
    return FuncFormatter(fmt)


def _film_x(take, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Capture times to (seconds from the loop's in point, pass)."""
    c = take.clock
    q = np.array([c.seq_at(float(x)) for x in t]) if len(t) else np.zeros(0)
    passes = np.floor(q / c.length + 1e-9).astype(int) + 1
    return (q - (passes - 1) * c.length) / c.fps, passes


def _contour(ax, x, y, colour, alpha, conf=None):
    """A line broken where there is no pitch or the film jumped (a wrap)."""
    y = np.where(np.isfinite(y), y, np.nan)
    jump = np.concatenate(([False], np.diff(x) < 0))
    y = np.where(jump, np.nan, y)
    ax.plot(x, y, color=colour, lw=1.8, alpha=alpha, solid_capstyle="butt", zorder=2)
    if conf is not None:                            # unsure readings (confidence under 0.8): thin grey over the line
        unsure = np.where(np.isfinite(y) & (conf < 0.8), y, np.nan)
        ax.plot(x, unsure, color="0.5", lw=0.8, alpha=alpha, zorder=3)


def _note_grid(ax, lo: int, hi: int):
    for m in range(lo, hi + 1):
        ax.axhline(m, color="0.85" if m % 12 else "0.55", lw=0.4 if m % 12 else 0.8, zorder=0)
    cs = [m for m in range(lo, hi + 1) if m % 12 == 0]
    ax.set_yticks(cs)
    ax.set_yticklabels([note_name(m) for m in cs], fontsize=8)
    ax.set_ylim(lo - 0.5, hi + 0.5)


def _player_rows(take, p):
    from .transcribe import player_rows
    rows, _how = player_rows(take, p, "analysis")
    return rows


def _draw_take(fig, axes, take, label: str, hits, draw_notes: bool = True):
    from .notes import notes_from_rows
    out = []
    k = 0
    for p in take.players:
        ax, axl = axes[k], axes[k + 1]
        k += 2
        col = _ink(p.colour)
        ax.set_ylabel(f"{label}{p.name}", fontsize=10, color="black")
        if p.is_midi:
            msgs = take.player_messages(p)
            on = {}
            notes = []
            for t, d in msgs:
                kind = d[0] & 0xF0
                if kind == 0x90 and len(d) > 2 and d[2] > 0:
                    on[d[1]] = (t, d[2])
                elif (kind == 0x80 or kind == 0x90) and len(d) > 1 and d[1] in on:
                    s, v = on.pop(d[1])
                    notes.append((s, t, d[1], v))
            lo, hi = p.lowest, p.highest
            if notes:
                lo, hi = min(lo, min(n[2] for n in notes)), max(hi, max(n[2] for n in notes))
            _note_grid(ax, lo, hi)
            for s, e, m, v in notes:
                (xs,), (ps,) = _film_x(take, np.array([s]))
                ax.add_patch(_bar(xs, m, e - s, col, 0.35 + 0.65 * v / 127))
                axl.bar(xs, 20 * math.log10(max(1, v) / 127), width=e - s, bottom=0, align="edge", color=col, alpha=0.7)
            axl.set_ylim(-60, 0)
            out.append(f"{p.name}: {len(notes)} MIDI notes")
        else:
            rows = _player_rows(take, p)
            x, passes = _film_x(take, rows.t)
            with np.errstate(divide="ignore", invalid="ignore"):
                m = np.where(rows.f0 > 0, 69 + 12 * np.log2(np.where(rows.f0 > 0, rows.f0, 1) / 440.0), np.nan)
            _note_grid(ax, p.lowest, p.highest)
            last = passes.max() if len(passes) else 1
            for pn in np.unique(passes):
                sel = passes == pn
                a = 1.0 if pn == last else 0.35
                _contour(ax, x[sel], m[sel], col, a, rows.conf[sel])
                axl.plot(x[sel], rows.level[sel], color=col, lw=0.8, alpha=a)
            if draw_notes:
                for n in notes_from_rows(rows):
                    (xs,), _ = _film_x(take, np.array([n.start]))
                    ax.add_patch(_bar(xs, n.midi, n.duration, col, 0.15))
            axl.axhline(getattr(p, "noise_floor", -50.0), color="0.6", lw=0.6, ls=":")
            axl.set_ylim(-60, 0)
            out.append(f"{p.name}: {len(rows)} analysis rows, {len(np.unique(passes))} pass(es)")
        axl.set_yticks([-60, -30, 0])
        axl.tick_params(labelsize=7)
        axl.set_ylabel("dBFS", fontsize=7)
        for ax_ in (ax, axl):
            for h in hits:
                ax_.axvline(h[0], color=h[2], lw=1.4, alpha=0.9, zorder=4)
            for mk in take.markers:
                (xm,), _ = _film_x(take, np.array([mk["t_capture"]]))
                ax_.axvline(xm, color="black", lw=1.0, ls="--", zorder=4)
        for mk in take.markers:
            (xm,), _ = _film_x(take, np.array([mk["t_capture"]]))
            ax.annotate(mk.get("label") or f"marker {mk.get('timecode', '')}", (xm, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(3, -10), textcoords="offset points", fontsize=8, zorder=5)
    return out


def _bar(x, m, w, col, alpha):
    from matplotlib.patches import Rectangle
    return Rectangle((x, m - 0.4), w, 0.8, color=col, alpha=alpha, lw=0, zorder=1)


def draw_report(take, out, other=None, dpi: int = 120) -> list[str]:
    """Draw the picture to ``out``; returns lines saying what it drew and what it could not."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    said = []
    takes = [take] + ([other] if other is not None else [])
    if other is not None:
        if other.manifest.get("cue") != take.manifest.get("cue") or other.loop != take.loop:
            raise ValueError(f"{other.folder.name} is of cue {other.manifest.get('cue')!r} "
                             f"({other.tc.label(other.loop[0])}-{other.tc.label(other.loop[1])}), "
                             f"{take.folder.name} of cue {take.manifest.get('cue')!r}: compare passes of the same cue")
    fps = float(take.fps)
    loop_s = (take.loop[1] - take.loop[0]) / fps
    cue = take.cue
    hits = []
    if cue is not None:
        from ..session.kinds import COLOURS  # noqa: F401  (colours are RGB tuples already)
        hits = [((h.frame - take.loop[0]) / fps, h.label or take.tc.label(h.frame), _rgb(h.colour)) for h in cue.hits]
        said.append(f"hit points: {len(hits)}, from the session {take.session.path}")
    else:
        said.append(f"hit points and harmony: not drawn ({take.session_error or take.film_error})")
    harmony = getattr(cue, "harmony", None) if cue is not None else None
    thumbs = thumbnails(take)
    if not thumbs:
        said.append(f"film thumbnails: the film {take.manifest['film'].get('path')} cannot be read")
    n_rows = sum(2 * len(t.players) for t in takes)
    ratios = [1.4, 0.35] + [r for t in takes for _p in t.players for r in (2.2, 0.7)]
    fig = plt.figure(figsize=(16, 9), dpi=dpi)
    gs = fig.add_gridspec(len(ratios), 1, height_ratios=ratios, hspace=0.12, left=0.07, right=0.985, top=0.9,
                          bottom=0.07)
    axes = [fig.add_subplot(gs[0])]
    for i in range(1, len(ratios)):
        axes.append(fig.add_subplot(gs[i], sharex=axes[0]))
    ax_film, ax_chords = axes[0], axes[1]
    for x, img in thumbs:
        w = loop_s / THUMBS
        ax_film.imshow(img, extent=(x, x + w * 0.98, 0, 1), aspect="auto")
    ax_film.set_ylim(0, 1)
    ax_film.set_yticks([])
    ax_film.set_ylabel("film", fontsize=10)
    for h in hits:
        ax_film.axvline(h[0], color=h[2], lw=2)
        ax_film.annotate(h[1], (h[0], 1.0), xycoords=("data", "axes fraction"), xytext=(3, 3),
                         textcoords="offset points", fontsize=9, color=h[2], weight="bold")
    ax_chords.set_yticks([])
    ax_chords.set_ylabel("chords", fontsize=9)
    if harmony:
        for sp in harmony:
            ax_chords.axvline(sp.start, color="0.5", lw=0.8)
            ax_chords.text(sp.start + 0.02, 0.5, sp.chord.name, va="center", fontsize=11, weight="bold")
        said.append(f"harmony: {len(harmony)} chords")
    else:
        ax_chords.text(0.01, 0.5, "no harmony" if cue is not None else "no harmony (session not loaded)",
                       transform=ax_chords.transAxes, va="center", fontsize=9, color="0.4")
    k = 2
    for i, t in enumerate(takes):
        label = f"{t.name}\n" if other is not None else ""
        said += _draw_take(fig, axes[k:k + 2 * len(t.players)], t, label, hits)
        k += 2 * len(t.players)
    for ax in axes:
        ax.set_xlim(0, loop_s)
        ax.tick_params(axis="x", labelbottom=False)
    axes[-1].tick_params(axis="x", labelbottom=True, labelsize=9)
    axes[-1].xaxis.set_major_formatter(_tc_formatter(take))
    axes[-1].set_xlabel(f"film timecode ({float(take.fps):g} fps{', drop-frame' if take.tc.drop_frame else ''})")
    m = take.manifest
    title = (f"{m.get('cue', '')}  take {m.get('take', '')}   start {m['start'].get('timecode', '')}   "
             f"{m.get('seconds', 0):.1f} s   {m['start'].get('wall', '')[:19].replace('T', ' ')}")
    if other is not None:
        title += f"   against take {other.manifest.get('take', '')} ({other.manifest['start'].get('wall', '')[:19]})"
    fig.suptitle(title, fontsize=14, x=0.07, ha="left")
    fig.text(0.07, 0.925, "; ".join(said[:2]), fontsize=8, color="0.35")
    fig.savefig(str(out), dpi=dpi)
    plt.close(fig)
    return said
