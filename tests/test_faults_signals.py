"""Ctrl-C, SIGTERM, SIGHUP and closing the window end a real `stage run --record` cleanly: the
input's stream closed and its capture process gone, its shared memory unlinked, the take whole
for an outside WAV reader (ffprobe), MTC and MIDI clock stopped (read by jack_midi_dump), and
the exit status 0 (130 for Ctrl-C, as shells expect)."""

import json
import os
import signal
import subprocess
import threading
import time
from fractions import Fraction
from pathlib import Path

import pytest

from stage.film.synth import make_numbered_clip
from stage_testing import StageRun

from .conftest import need_tool, stage_cmd
from .test_record import played_run, read_wav_with_ffmpeg

SESSION = """
[film]
file = "{film}"

[audio]
input = "system"
samplerate = 48000
blocksize = 256

[sync]
mtc_out = "{port}"
clock_out = "{port}"
clock_bpm = 120

[takes]
folder = "{takes}"
keep_free_minutes = 1

[[players]]
name = "Horn"
channel = 1
"""


def capture_processes(parent: int) -> list[tuple[int, str]]:
    """(pid, shared-memory name) of each capture process ``parent`` started (from /proc)."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            args = (d / "cmdline").read_bytes().split(b"\0")
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"stage.audio.capture" in args:
            found.append((int(d.name), args[args.index(b"--shm") + 1].decode()))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def close_window_as_a_window_manager_does(display: str, title: str = "stage", timeout: float = 10.0) -> None:
    """Send the window WM_DELETE_WINDOW, as a window manager does when its close button is clicked."""
    from Xlib import X, display as xdisplay, protocol
    d = xdisplay.Display(display)
    try:
        wm_protocols, wm_delete = d.intern_atom("WM_PROTOCOLS"), d.intern_atom("WM_DELETE_WINDOW")
        net_name = d.intern_atom("_NET_WM_NAME")

        def name(w):                                  # SDL sets the UTF-8 name (and leaves WM_NAME empty)
            prop = w.get_full_property(net_name, 0)
            return prop.value.decode() if prop is not None else w.get_wm_name()
        t_end = time.monotonic() + timeout
        while time.monotonic() < t_end:
            wins = [w for w in d.screen().root.query_tree().children if name(w) == title]
            if wins:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"no window named {title!r} on {display}")
        for w in wins:
            ev = protocol.event.ClientMessage(window=w, client_type=wm_protocols, data=(32, [wm_delete, X.CurrentTime, 0, 0, 0]))
            w.send_event(ev, event_mask=X.NoEventMask)
        d.flush()
    finally:
        d.close()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGHUP", "window"])
def test_a_signal_or_the_window_closed_ends_a_recording_show_cleanly(jack_server, xvfb_display, tmp_path, how):
    dump_tool, ffprobe = need_tool("jack_midi_dump"), need_tool("ffprobe")
    port = f"stage-stop-{how.lower()}"
    film = make_numbered_clip(tmp_path / "f.mp4", 120, size=(160, 90), fps=Fraction(24))
    takes = tmp_path / "takes"
    session = tmp_path / "s.toml"
    session.write_text(SESSION.format(film=film, port=port, takes=takes))
    env = dict(os.environ, JACK_DEFAULT_SERVER=jack_server)
    dump_name = f"stage-stop-dump-{how.lower()}"
    dump = subprocess.Popen(["stdbuf", "-oL", dump_tool, "-a", dump_name], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(dump.stdout.readline, "")), daemon=True)
    reader.start()
    display = xvfb_display if how == "window" else None
    try:
        with StageRun(session, 60, jack=jack_server, inject=1, extra=["--record"], display=display,
                      size=(320, 180)) as run:
            t_end = time.monotonic() + 20
            while time.monotonic() < t_end:           # stage's MTC port to the dump, as an engineer would
                ports = subprocess.run(["jack_lsp"], capture_output=True, text=True, env=env).stdout.split()
                src = [p for p in ports if p.endswith(port)]
                if src and f"{dump_name}:input" in ports:
                    subprocess.run(["jack_connect", src[0], f"{dump_name}:input"], check=True, env=env)
                    break
                time.sleep(0.05)
            else:
                pytest.fail("stage's MTC port never appeared")
            run.injector.play_counter()               # every sample says which it is
            t_end = time.monotonic() + 20
            while sum(" f8" in x for x in list(lines)) < 48 and time.monotonic() < t_end:
                time.sleep(0.05)                      # a second of clock (and of MTC) through the dump
            captures = capture_processes(run.proc.pid)
            assert captures, "no capture process"
            shm = [Path("/dev/shm") / name for _, name in captures]
            assert all(p.exists() for p in shm)
            t_stop = time.monotonic()
            played = run.injector.counted
            if how == "window":
                close_window_as_a_window_manager_does(display)
            else:
                run.proc.send_signal(getattr(signal, how))
            run.wait()
            took = time.monotonic() - t_stop
    finally:
        time.sleep(0.3)                               # what stage sent last, through the dump
        dump.terminate()
        dump.wait(10)
    reader.join(5)
    # the exit: clean, and said
    assert run.returncode == (130 if how == "SIGINT" else 0), run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    if how != "window":
        assert f"{how}: stopping" in run.stderr
    stats = run.stats                                 # the run's statistics, as after any run
    assert stats["frames_drawn"] > 30 and stats["audio_blocks"] > 100
    assert took < 10, took
    # nothing left behind: the capture process, its shared memory
    for pid, _ in captures:
        assert not alive(pid), f"capture process {pid} outlived the show"
    for p in shm:
        assert not p.exists(), f"{p} was not unlinked"
    # the take: whole, as any WAV reader sees it
    listing = json.loads(subprocess.run(stage_cmd("takes", takes, "--json"), capture_output=True, text=True,
                                        check=True, timeout=60).stdout)
    assert len(listing) == 1 and listing[0]["status"] == "clean", listing
    wav = Path(listing[0]["path"]) / next(f for f in os.listdir(listing[0]["path"]) if f.endswith(".wav"))
    probe = json.loads(subprocess.run([ffprobe, "-v", "error", "-show_streams", "-show_format", "-of", "json",
                                       str(wav)], capture_output=True, text=True, check=True, timeout=60).stdout)
    duration = float(probe["format"]["duration"])
    assert duration > 1.0 and abs(duration - listing[0]["duration_s"]) < 0.01, (duration, listing[0])
    assert int(probe["streams"][0]["sample_rate"]) == 48000
    first, last = played_run(read_wav_with_ffmpeg(wav, 1))     # one unbroken run of what was played
    assert last >= played - 4800, (last, played)                 # up to the stop
    # MTC and MIDI clock: running, then stopped: MIDI clock's Stop after its last clock, and MTC's
    # full frame saying where it stopped after its last quarter frame
    data = [x.split(":", 1)[1].split() for x in "".join(lines).splitlines() if ":" in x and x.split(":", 1)[0].strip().isdigit()]
    kinds = [("clock" if d == ["f8"] else "stop" if d == ["fc"] else "quarter" if d[0] == "f1"
              else "full" if d[:5] == ["f0", "7f", "7f", "01", "01"] else "other") for d in data]
    assert kinds.count("clock") > 48 and kinds.count("quarter") > 40, kinds[-20:]
    last_clock = max(i for i, k in enumerate(kinds) if k == "clock")
    last_quarter = max(i for i, k in enumerate(kinds) if k == "quarter")
    assert "stop" in kinds[last_clock:], kinds[-10:]
    assert "full" in kinds[last_quarter:], kinds[-10:]


@pytest.mark.timeout(60)
def test_a_show_asked_to_stop_while_starting_stops_at_once():
    """The positive control of the stop flag: a show asked to stop before its first frame draws
    none (the signal handler only asks; the draw loop and run do the rest)."""
    from stage.render.scene import ViewOptions
    from stage.session import load_session
    from stage.show import Show

    from .conftest import ROOT
    show = Show(load_session(ROOT / "assets" / "demo_session.toml"),
                ViewOptions(size=(320, 180), fullscreen=False, headless=True), play_out=False)
    show.request_stop("SIGTERM")
    t0 = time.monotonic()
    stats = show.run(seconds=30)
    assert stats["frames_drawn"] == 0 and time.monotonic() - t0 < 15
    assert not any(p.started for p in show.parts)
    show = Show(load_session(ROOT / "assets" / "demo_session.toml"),
                ViewOptions(size=(320, 180), fullscreen=False, headless=True), play_out=False)
    threading.Timer(1.0, show.request_stop, args=("SIGHUP",)).start()     # from another thread, mid-run
    t0 = time.monotonic()
    stats = show.run(seconds=30)
    assert 20 < stats["frames_drawn"] and time.monotonic() - t0 < 10
