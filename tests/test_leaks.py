"""No leaked threads or file descriptors: a Show run in this process, start to stop, again and
again, with cue switches from OSC over real UDP during each run, OSC data out and a take
recorded, comes back each time to the threads and descriptors it started from. What a library
keeps once (the first run's) is allowed; growth from one run to the next is not."""

import os
import socket
import threading
import time

from stage.render.scene import ViewOptions
from stage.session import load_session
from stage.show import Show
from stage_testing import free_udp_port

from .conftest import ROOT

SESSION = """\
[film]
file = "{root}/assets/demo_film.mp4"

[audio]
file = "{root}/assets/demo_performance.flac"

[control]
osc_listen = {port}
osc_send = ["127.0.0.1:{out_port}"]

[takes]
folder = "{takes}"
keep_free_minutes = 1

[[cues]]
name = "one"
in = 0.0
out = 4.0

[[cues]]
name = "two"
in = 10.0
out = 14.0

[[players]]
name = "Trumpet"
channel = 1
lowest = "E3"
highest = "C6"

[[players]]
name = "Bass"
channel = 2
lowest = "E1"
highest = "G3"
"""

CYCLES = 5


def fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def native_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def settled(count, want, timeout=5.0):
    """``count()`` once it has come down to ``want`` (threads take a moment to end), or its last value."""
    t_end = time.monotonic() + timeout
    n = count()
    while n > want and time.monotonic() < t_end:
        time.sleep(0.05)
        n = count()
    return n


def wait_for(cond, timeout=10.0):
    t_end = time.monotonic() + timeout
    while not cond() and time.monotonic() < t_end:
        time.sleep(0.02)
    return cond()


def one_run(session, port):
    show = Show(session, ViewOptions(size=(640, 360), fullscreen=False, headless=True), play_out=False, record=True)

    def operator():                  # cue two at once, then back to cue one, over UDP as a desk would
        from stage_testing.flood import message
        try:
            wait_for(lambda: show.parts[-1].started, 20)                  # every part running
            time.sleep(0.3)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(message("/stage/cue", 2, 1), ("127.0.0.1", port))
                wait_for(lambda: show.director.switches >= 1)
                time.sleep(0.3)
                s.sendto(message("/stage/cue", 1, 1), ("127.0.0.1", port))
                wait_for(lambda: show.director.switches >= 2)
            time.sleep(0.3)
        finally:
            show.request_stop("the test is done")
    t = threading.Thread(target=operator)
    t.start()
    stats = show.run(seconds=20)
    t.join()
    return show, stats


def test_start_stop_cycles_leak_no_threads_and_no_descriptors(tmp_path):
    port, out_port = free_udp_port(), free_udp_port()
    path = tmp_path / "s.toml"
    path.write_text(SESSION.format(root=ROOT, port=port, out_port=out_port, takes=tmp_path / "takes"))
    session = load_session(path)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)      # where OSC data out goes (and is read)
    sink.bind(("127.0.0.1", out_port))
    sink.settimeout(0.01)
    try:
        py0, native0, fd0 = threading.active_count(), native_threads(), fds()
        counts = []
        for i in range(CYCLES):
            show, stats = one_run(session, port)
            # each run ran: frames drawn, sound analysed, both cue switches, the take written, OSC out sent
            assert stats["frames_drawn"] > 40 and stats["audio_blocks"] > 100, stats
            assert stats["osc_in"]["accepted"] == 2, stats["osc_in"]
            assert stats["cue_switches"] == 2, stats
            assert len(stats["takes"]) >= 1, stats        # (a take each cue)
            assert show.osc_out.sent > 0
            if i == 0:                   # and the operator's HUD says what OSC brought in
                from types import SimpleNamespace
                hud = [ln[0] for ln in show.hud_lines(SimpleNamespace(pos=None, pending=None,
                                                                      view=show.controller.view))]
                assert any(ln.startswith(f"OSC in 127.0.0.1:{port}  packets 2  acted 2  unknown 0  malformed 0  "
                                         "bad args 0  flood dropped 0") for ln in hud), hud
            del show
            counts.append((settled(threading.active_count, py0), settled(native_threads, native0), fds()))
            print(f"run {i + 1}: python threads {counts[-1][0]} (from {py0}), native {counts[-1][1]} "
                  f"(from {native0}), fds {len(counts[-1][2])} (from {len(fd0)})")
        while True:                                              # (drain what OSC out sent)
            try:
                sink.recv(65536)
            except socket.timeout:
                break
        first_py, first_native, first_fds = counts[0]

        def named(fds):
            return sorted(os.readlink(f"/proc/self/fd/{f}") for f in fds if os.path.exists(f"/proc/self/fd/{f}"))
        assert first_py <= py0 + 1, counts                       # a run's threads end with it
        assert len(first_fds) - len(fd0) <= 8, named(first_fds - fd0)     # what libraries keep, once
        for py, native, fd in counts[1:]:
            assert py <= first_py, (py, first_py)                # and from one run to the next, nothing more
            assert native <= first_native, (native, first_native)
            assert len(fd) <= len(first_fds), named(fd - first_fds)
    finally:
        sink.close()


def test_the_counts_see_a_leak():
    """The positive control: a thread and a descriptor left behind are seen by the same counts."""
    py0, native0, fd0 = threading.active_count(), native_threads(), fds()
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, daemon=True)
    t.start()
    r, w = os.pipe()
    try:
        assert settled(threading.active_count, py0, 0.2) == py0 + 1
        assert settled(native_threads, native0, 0.2) == native0 + 1
        assert len(fds() - fd0) == 2
    finally:
        stop.set()
        t.join()
        os.close(r)
        os.close(w)
    assert settled(threading.active_count, py0) == py0 and len(fds()) == len(fd0)
