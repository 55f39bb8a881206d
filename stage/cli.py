"""The `stage` command: demo, run, devices, check, analyze, cuts, takes, transcribe, report, render."""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import sys
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"
DEMO_SESSION = ASSETS / "demo_session.toml"


def _size(text):
    try:
        w, h = text.lower().split("x")
        return int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1920x1080, got {text!r}") from None


def _view_args(p):
    p.add_argument("--windowed", action="store_true", help="a window instead of full-screen")
    p.add_argument("--headless", action="store_true", help="no window (SDL dummy driver); prints run statistics")
    p.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--snapshot", type=Path, default=None, help="write the last frame to this PNG")
    p.add_argument("--trace", type=Path, default=None, help="one JSON line per presented frame to this file")
    p.add_argument("--size", type=_size, default=None, help="picture size, e.g. 1920x1080")
    p.add_argument("--hud", action="store_true", help="start with the studio HUD shown (toggle with H)")
    p.add_argument("--silent", action="store_true", help="do not play a recorded performance out loud")
    p.add_argument("--mode", choices=("studio", "performance"), default=None,
                   help="start in the studio view (default) or the performance view (toggle with V)")
    p.add_argument("--monitor", action="store_true",
                   help="also open the operator's monitor: a second window with the studio view and HUD")
    p.add_argument("--monitor-snapshot", type=Path, default=None, help="write the monitor's last frame to this PNG")
    p.add_argument("--record", action="store_true", help="record takes from the start (toggle with R)")
    p.add_argument("--ghost", type=Path, default=None, metavar="TAKE",
                   help="draw this take's pass as the ghost in the lanes (default: the last pass; G toggles)")
    p.add_argument("--takes", type=Path, default=None, metavar="FOLDER",
                   help="record takes into this folder (default: [takes] folder, or takes/ beside the session)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="stage", description="The film loop on the projector with every "
                                 "player's live pitch and intensity over it.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("demo", help="play the bundled film loop and recorded performance")
    _view_args(p)
    p = sub.add_parser("run", help="run a session file")
    p.add_argument("session", type=Path)
    _view_args(p)
    sub.add_parser("devices", help="list audio inputs and outputs and MIDI ports")
    p = sub.add_parser("check", help="validate a session and print what it will use")
    p.add_argument("session", type=Path)
    p = sub.add_parser("analyze", help="run the live analysis on a sound file, write CSV")
    p.add_argument("file", type=Path)
    p.add_argument("--channel", type=int, default=1, help="1-based channel (default 1)")
    p.add_argument("--out", type=Path, default=None, help="CSV file (default: standard output)")
    p.add_argument("--lowest", default="E1", help="lowest note of the instrument (default E1)")
    p.add_argument("--highest", default="C8", help="highest note of the instrument (default C8)")
    p.add_argument("--hop", type=int, default=256)
    p.add_argument("--gain-db", type=float, default=0.0, help="input gain before the analysis (default 0)")
    p.add_argument("--noise-floor", type=float, default=None,
                   help="dBFS below which nothing is pitched (default -50)")
    p = sub.add_parser("cuts", help="find the scene cuts in a film; print them or add them to a session's cues")
    p.add_argument("film", type=Path)
    p.add_argument("--session", type=Path, default=None,
                   help="add the cuts as hit points to the cues whose loops hold them (and use its timecode)")
    p.add_argument("--cue", type=int, default=None, help="only into this cue (from 1)")
    p = sub.add_parser("takes", help="list the recorded takes in a folder, or repair those a crash left unfinished")
    p.add_argument("folder", type=Path, nargs="?", default=Path("takes"),
                   help="a takes folder, or one take's folder (default: ./takes)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--repair", action="store_true",
                   help="repair the unfinished takes in FOLDER (or the take FOLDER) and say what was done")
    p = sub.add_parser("transcribe", help="a monophonic line (a sound file) or a take's players to a MIDI file")
    p.add_argument("source", type=Path, help="a sound file, or a take's folder")
    p.add_argument("--channel", type=int, default=1, help="a sound file's channel, from 1 (default 1)")
    p.add_argument("--lowest", default=None, help="a sound file's lowest note, e.g. E2 (needed for a sound file)")
    p.add_argument("--highest", default=None, help="a sound file's highest note, e.g. C6 (needed for a sound file)")
    p.add_argument("--out", type=Path, default=None,
                   help="the MIDI file (default: FILE.mid beside a sound file; TAKE-FOLDER-NAME.mid here for a take)")
    p.add_argument("--from", dest="source_kind", choices=("audio", "analysis"), default="audio",
                   help="a take's audio players from its audio, re-analysed (default), or from the analysis "
                        "recorded live")
    p.add_argument("--pass", dest="pass_no", type=int, default=None, metavar="N",
                   help="only the take's N-th pass, placed at the loop's in point (default: the whole take "
                        "from its start)")
    p = sub.add_parser("report", help="one picture of a take: pitch, level, hit points, markers, film, harmony")
    p.add_argument("take", type=Path)
    p.add_argument("--out", type=Path, default=None, help="the picture (.png, .pdf or .svg; default TAKE-FOLDER-NAME.png here)")
    p.add_argument("--compare", type=Path, default=None, metavar="TAKE2",
                   help="another pass of the same cue, drawn under it aligned by film time")
    p = sub.add_parser("render", help="a take rendered to video as the stage drew it, with its sound")
    p.add_argument("take", type=Path)
    p.add_argument("--out", type=Path, required=True, help="the video file (.mp4: H.264 and AAC)")
    p.add_argument("--size", type=_size, default=(1280, 720), help="picture size (default 1280x720)")
    p.add_argument("--view", choices=("studio", "performance"), default="studio")
    p.add_argument("--fps", type=int, default=None, help="frames a second (default: the session's display rate, "
                                                           "at most 60)")
    args = ap.parse_args(argv)
    try:
        return {"demo": cmd_demo, "run": cmd_run, "devices": cmd_devices, "check": cmd_check,
                "analyze": cmd_analyze, "cuts": cmd_cuts, "takes": cmd_takes, "transcribe": cmd_transcribe,
                "report": cmd_report, "render": cmd_render}[args.cmd](args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:           # `stage check ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:
        from .audio.devices import DeviceError
        from .film.decoder import FilmError
        from .session import SessionError
        if isinstance(e, (SessionError, FilmError, DeviceError)):
            print(f"stage: {e}", file=sys.stderr)
            return 2
        raise


def _load(path):
    from .session import load_session
    return load_session(path)


def _options(session, args):
    from .render.scene import ViewOptions
    d = session.display
    return ViewOptions(size=args.size or d.size, fullscreen=d.fullscreen and not args.windowed,
                       screen=d.screen, fps=d.fps, vsync=d.vsync, headless=args.headless, hud=args.hud,
                       timecode=d.timecode, timecode_size=d.timecode_size, feet_frames=d.feet_frames,
                       latency_ms=d.latency_ms, analysis_offset_ms=d.analysis_offset_ms,
                       a4=d.a4, mode=args.mode or "studio", monitor=d.monitor or bool(getattr(args, "monitor", False)),
                       monitor_screen=d.monitor_screen, monitor_size=d.monitor_size,
                       monitor_snapshot=getattr(args, "monitor_snapshot", None))


def _perform(session, args) -> int:
    if args.headless:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
    import pygame

    from .show import Show
    show = Show(session, _options(session, args), play_out=not args.silent, trace_path=args.trace,
                record=args.record, ghost_take=args.ghost, takes_dir=args.takes)
    try:
        with _stop_on_signals(show):
            stats = show.run(args.seconds, args.snapshot)
    except pygame.error as e:
        print(f"stage: cannot open the screen ({e}); on a machine with no display, run with "
              f"--headless [--seconds N --snapshot OUT.png]", file=sys.stderr)
        return 2
    if args.headless or args.seconds is not None:
        print(json.dumps(stats), flush=True)
    code = 130 if show.stop_asked == "SIGINT" else 0      # Ctrl-C: as shells expect; the rest: a clean end
    from .audio import devices
    from .midi import inputs
    if devices.WEDGED or inputs.DEAD:   # PortAudio hangs, and libjack crashes, tidying up after a
        sys.stdout.flush()              # JACK server that died under them: leave without that
        sys.stderr.flush()
        os._exit(code)
    return code


STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


@contextlib.contextmanager
def _stop_on_signals(show):
    """Ctrl-C, SIGTERM (a service stopped, a shutdown) and SIGHUP (the terminal closed) end the
    show cleanly at the next frame, as closing the window does: the handler only asks. A second
    one, while the show is stopping, does what the signal does by default (stop at once)."""
    import signal
    before = {}

    def ask(signum, frame):
        name = signal.Signals(signum).name
        if show.stop_asked is None:
            print(f"stage: {name}: stopping (again to stop at once)", file=sys.stderr, flush=True)
        for n, old in before.items():            # the next one is not ours
            signal.signal(getattr(signal, n), old)
        show.request_stop(name)

    for n in STOP_SIGNALS:
        before[n] = signal.signal(getattr(signal, n), ask)
    try:
        yield
    finally:
        for n, old in before.items():
            signal.signal(getattr(signal, n), old)


def cmd_demo(args) -> int:
    return _perform(_load(DEMO_SESSION), args)


def cmd_run(args) -> int:
    return _perform(_load(args.session), args)


def cmd_devices(args) -> int:
    from .audio.devices import list_audio, period, rates
    from .midi.ports import list_ports
    print("Audio (PortAudio):")
    devs = list_audio()
    if not devs:
        print("  none found (no sound card here, and no JACK server running)")
    for d in devs:
        print(f"  [{d['index']:2d}] {d['name']}  ({d['hostapi']}; in {d['inputs']}, out {d['outputs']}; "
              f"{d['samplerate']:.0f} Hz)")
        if d["inputs"]:                 # what it will open at: a session asking otherwise is refused
            p = period(d)
            print(f"       input rates {', '.join(map(str, rates(d))) or 'none of the usual'} Hz; up to "
                  f"{d['inputs']} channels" + (f"; JACK period {p} frames (the server's rate and period)" if p else ""))
    print("MIDI (rtmidi):")
    for api, entry in list_ports().items():
        if entry["error"]:
            print(f"  {api}: unavailable ({entry['error']})")
            continue
        for kind in ("input", "output"):
            names = entry[kind]
            print(f"  {api} {kind}s:" + ("" if names else " none"))
            for i, name in enumerate(names):
                print(f"    [{i}] {name}")
    return 0


def cmd_check(args) -> int:
    """A dry run of the show's assembly: every part says what it will use, or what is wrong."""
    from .render.scene import ViewOptions
    from .show import Show
    from .session import describe
    s = _load(args.session)
    show = Show(s, ViewOptions(headless=True))
    print(f"session  {s.path}", flush=True)
    print("settings (each as the file sets it, or its default)", flush=True)
    for line in describe(s):
        print(f"  {line}", flush=True)
    for part in show.parts:            # each part as `stage run` would start it, without opening anything
        if part.name == "film":
            part.start()
        if part.check is not None:
            for line in part.check():  # what is fine is said as it is found; an error follows on stderr
                print(line, flush=True)
    print(f"tuning   A4 = {s.display.a4:g} Hz")
    print("ok")
    return 0


def cmd_analyze(args) -> int:
    import soundfile as sf

    from .audio.analysis import analyze_signal
    from .music import NoteError, parse_note
    try:
        data, sr = sf.read(str(args.file), dtype="float32", always_2d=True)
    except Exception as e:
        print(f"stage: {args.file}: cannot read as sound: {e}", file=sys.stderr)
        return 2
    if not 1 <= args.channel <= data.shape[1]:
        print(f"stage: {args.file} has {data.shape[1]} channel(s); --channel must be 1-{data.shape[1]}", file=sys.stderr)
        return 2
    try:
        lo, hi = parse_note(args.lowest), parse_note(args.highest)
    except NoteError as e:
        print(f"stage: {e}", file=sys.stderr)
        return 2
    out = open(args.out, "w", newline="") if args.out else sys.stdout
    try:
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["time_s", "f0_hz", "confidence", "level_db"])
        for t, fr in analyze_signal(data[:, args.channel - 1], sr, args.hop, lo, hi,
                                    gain_db=args.gain_db, noise_floor=args.noise_floor):
            w.writerow([f"{t:.6f}", f"{fr.f0_hz:.3f}", f"{fr.confidence:.4f}", f"{fr.level_db:.2f}"])
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def cmd_cuts(args) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from .film.cuts import detect_cuts, write_hits
    from .film.decoder import probe
    from .film.timecode import TimecodeFormat
    session = film = None
    if args.session is not None:
        from .runtime import open_film
        session = _load(args.session)
        film = open_film(session)
        if session.cues_from_film:
            print(f"stage: {args.session} has no [[cues]] to add hit points to; add one (name, in, out) "
                  f"and run again", file=sys.stderr)
            return 2
        if args.cue is not None and not 1 <= args.cue <= len(film.cues):
            print(f"stage: --cue must be 1-{len(film.cues)} ({args.session} has {len(film.cues)} cues)",
                  file=sys.stderr)
            return 2
    info = probe(args.film)
    tc = film.tc if film is not None else TimecodeFormat(info.fps)
    with Progress(TextColumn("finding cuts"), BarColumn(), TextColumn("{task.completed}/{task.total} frames"),
                  TimeRemainingColumn(), transient=True, console=None) as bar:
        task = bar.add_task("cuts", total=info.frames)
        cuts, fps = detect_cuts(args.film, progress=lambda done, total: bar.update(task, completed=done))
    by_cue: dict[int, list[str]] = {}
    for frame in cuts:
        where = ""
        if film is not None:
            for i, cue in enumerate(film.cues):
                if cue.loop[0] <= frame < cue.loop[1] and (args.cue is None or args.cue == i + 1):
                    by_cue.setdefault(i, []).append(tc.label(frame))
                    where = f"  -> cue {i + 1} {cue.name}"
        print(f"{tc.label(frame)}  frame {frame}  {frame / fps:8.3f} s{where}")
    print(f"{len(cuts)} cuts in {info.frames} frames", file=sys.stderr)
    if session is not None:
        n = write_hits(args.session, by_cue)
        print(f"added {n} hit point(s) to {args.session}", file=sys.stderr)
    return 0


def cmd_takes(args) -> int:
    """List the takes in a folder (a table, or JSON), or repair the unfinished ones."""
    from .takes import TakeError, describe, find_unfinished, list_takes, repair_take
    from .takes.listing import is_take
    folder = args.folder
    try:
        if args.repair:
            if is_take(folder):
                targets = [folder]
            elif folder.is_dir():
                targets = find_unfinished(folder)
            else:
                raise TakeError(folder, "no such folder")
            results = {}
            for take in targets:
                results[str(take)] = done = repair_take(take)
                if not args.json:
                    print(f"{take.name}:" + ("".join(f"\n  {line}" for line in done) if done else " nothing to repair"))
            if args.json:
                print(json.dumps(results, indent=2, ensure_ascii=False))
            elif not targets:
                print(f"nothing to repair in {folder}")
            return 0
        rows = [describe(folder)] if is_take(folder) else list_takes(folder)
    except TakeError as e:
        print(f"stage: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    from rich.console import Console
    from rich.table import Table
    table = Table(title=f"takes in {folder}", title_justify="left")
    for name, just in (("cue", "left"), ("take", "right"), ("start", "left"), ("duration", "right"),
                       ("players", "left"), ("size", "right"), ("status", "left")):
        table.add_column(name, justify=just)
    for r in rows:
        d = r["duration_s"]
        dur = "?" if d is None else f"{int(d // 60)}:{d % 60:04.1f}"
        status = r["status"] + (f" ({r['error']})" if r["error"] else "")
        table.add_row(str(r["cue"] or r["folder"]), str(r["take"] or ""), r["start_timecode"] or "", dur,
                      ", ".join(p for p in r["players"] if p), f"{r['size_bytes'] / 1e6:.1f} MB", status)
    console = Console()
    console.print(table)
    total = sum(r["size_bytes"] for r in rows)
    console.print(f"{len(rows)} take(s), {total / 1e9:.2f} GB")
    return 0


def _open_take(folder):
    from .review.take import open_take
    return open_take(folder)


def cmd_transcribe(args) -> int:
    """A sound file's line, or a take's players, to a Standard MIDI File."""
    from .takes import TakeError
    src = args.source
    if src.is_dir():
        from .review.take import describe_sources
        from .review.transcribe import transcribe_take
        try:
            take = _open_take(src)
            out = args.out or Path(f"{src.resolve().name}.mid")
            for line in describe_sources(take):
                print(line, file=sys.stderr)
            tracks = transcribe_take(take, out, args.source_kind, args.pass_no)
        except (TakeError, ValueError) as e:
            print(f"stage: {e}", file=sys.stderr)
            return 2
        for t in tracks:
            print(f"{t.player}: {t.notes} notes, from {t.source}")
        print(f"wrote {out}")
        return 0
    from .music import NoteError, parse_note
    from .review.transcribe import transcribe_file
    if args.lowest is None or args.highest is None:
        print("stage: a sound file needs --lowest and --highest (the instrument's range, e.g. --lowest E2 "
              "--highest C6)", file=sys.stderr)
        return 2
    try:
        lo, hi = parse_note(args.lowest), parse_note(args.highest)
    except NoteError as e:
        print(f"stage: {e}", file=sys.stderr)
        return 2
    if lo >= hi:
        print(f"stage: --highest ({args.highest}) must be above --lowest ({args.lowest})", file=sys.stderr)
        return 2
    out = args.out or src.with_suffix(".mid")
    try:
        notes = transcribe_file(src, out, lo, hi, args.channel)
    except ValueError as e:
        print(f"stage: {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:                 # soundfile: not a sound file
        print(f"stage: {src}: cannot read as sound: {e}", file=sys.stderr)
        return 2
    print(f"{len(notes)} notes; wrote {out}")
    return 0


def cmd_report(args) -> int:
    from .review.report import draw_report
    from .takes import TakeError
    try:
        take = _open_take(args.take)
        other = _open_take(args.compare) if args.compare else None
        out = args.out or Path(f"{args.take.resolve().name}.png")
        for line in draw_report(take, out, other):
            print(line, file=sys.stderr)
    except (TakeError, ValueError) as e:
        print(f"stage: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


def cmd_render(args) -> int:
    os.environ["SDL_VIDEODRIVER"] = "dummy"
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    from .review.render import render_take
    from .takes import TakeError
    try:
        take = _open_take(args.take)
        stats = render_take(take, args.out, args.size, args.view, fps=args.fps, progress=True)
    except (TakeError, ValueError) as e:
        print(f"stage: {e}", file=sys.stderr)
        return 2
    print(json.dumps(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
