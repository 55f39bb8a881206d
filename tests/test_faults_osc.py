"""Input from the network: OSC control listens on localhost unless told otherwise; malformed
packets, unknown addresses, bad arguments and floods are counted and dropped, never reach an
action, and never slow the picture by more than a frame. Real UDP, from outside clients
(liblo's oscsend, and a flood sender in a process of its own), into a real `stage run`."""

import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

import pytest

from stage.control.actions import BadArgument, ControlQueue, check_args
from stage_testing import StageRun, free_udp_port

from .conftest import ROOT, need_tool, stage_cmd

SESSION = """\
[film]
file = "{film}"

[display]
fps = 60

[audio]
file = "{performance}"

[control]
osc_listen = {listen}

[[cues]]
name = "one"
in = 0.0
out = 10.0

[[cues]]
name = "two"
in = 15.0
out = 25.0

[[players]]
name = "Trumpet"
channel = 1
lowest = "E3"
highest = "C6"
"""

FILM = ROOT / "assets" / "demo_film.mp4"          # 24 fps: cue one is frames 0-239, cue two 360-599


def session(tmp_path, listen):
    path = tmp_path / "s.toml"
    path.write_text(SESSION.format(film=FILM, performance=ROOT / "assets" / "demo_performance.flac",
                                   listen=json.dumps(listen) if isinstance(listen, str) else listen))
    return path


def now():
    return time.clock_gettime(time.CLOCK_MONOTONIC_RAW)


def end_when_on_cue_two(run, timeout=30.0):
    """Let the run go on until its trace shows cue two's frames (a switch waits for its first
    frames to be decoded, which a loaded machine makes slow), then end it as a user would."""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end and run.proc.poll() is None:
        try:
            lines = run.trace_path.read_text().splitlines()
        except FileNotFoundError:
            lines = []
        if sum(1 for ln in lines[-40:] if ln.endswith("}") and json.loads(ln)["film"]["frame"] >= 360) >= 30:
            break
        time.sleep(0.1)
    run.proc.send_signal(signal.SIGTERM)


# -- what an action may be given -------------------------------------------------------------

def test_actions_take_only_arguments_they_can_use():
    assert check_args("cue", [2], cues=2) == (2.0, None)
    assert check_args("cue", [1, 1], cues=2) == (1.0, 1.0)
    assert check_args("nudge", [-0.5]) == (-0.5, None)
    assert check_args("next_cue", [1]) == (1.0, None)
    assert check_args("hud", [1.0]) == (None, None)          # a button's 1: let go, the action takes none
    assert check_args("hud", []) == (None, None)
    for action, args in [("cue", [3]), ("cue", [0]), ("cue", [-1]), ("cue", [1.5]), ("cue", ["2"]), ("cue", []),
                         ("cue", [float("nan")]), ("nudge", [float("inf")]), ("nudge", [1e30]), ("nudge", [b"x"]),
                         ("nudge", ["1"]), ("next_cue", [7]), ("cue", [1, 1, 1]), ("hud", ["on"]),
                         ("cue", [1, float("nan")])]:
        with pytest.raises(BadArgument):
            check_args(action, args, cues=2)


def test_the_control_queue_refuses_bad_arguments_from_any_source():
    q = ControlQueue(cues=2)
    assert q.put("cue", 2.0, "key")                           # the positive control: it goes through
    assert not q.put("cue", 9.0, "key")                       # key 9 with two cues
    assert not q.put("nudge", float("nan"), "midi")
    assert not q.put("warp", None, "osc")
    assert [(c.action, c.arg) for c in q.drain()] == [("cue", 2.0)]
    assert (q.received, q.rejected, q.unknown) == (1, 2, 1)


# -- where it listens ------------------------------------------------------------------------

def bound(port: int) -> list[str]:
    """The local addresses UDP sockets on ``port`` are bound to (from /proc/net/udp)."""
    out = []
    for line in open("/proc/net/udp").read().splitlines()[1:]:
        local = line.split()[1]
        addr, p = local.split(":")
        if int(p, 16) == port:
            out.append(socket.inet_ntoa(bytes.fromhex(addr)[::-1]))
    return out


@pytest.mark.parametrize("listen,host", [("{port}", "127.0.0.1"), ("0.0.0.0:{port}", "0.0.0.0")])
def test_osc_listens_on_localhost_unless_told(tmp_path, listen, host):
    port = free_udp_port()
    spec = listen.format(port=port)
    path = session(tmp_path, int(spec) if spec.isdigit() else spec)
    r = subprocess.run(stage_cmd("check", path), capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, SDL_VIDEODRIVER="dummy"))
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("control  OSC in on"))
    assert line.startswith(f"control  OSC in on {host}:{port} (")
    assert ("this machine only" in line) == (host == "127.0.0.1")
    with StageRun(path, 1.5) as run:
        assert bound(port) == [host]                           # as the running show has it bound
    assert run.ok, run.stderr
    assert not bound(port)                                     # and let go of at the end


# -- single messages from an outside client ----------------------------------------------------

def test_single_messages_bad_and_good_from_oscsend(tmp_path):
    oscsend = need_tool("oscsend")
    port = free_udp_port()
    path = session(tmp_path, port)

    def send(*args):
        subprocess.run([oscsend, "127.0.0.1", str(port), *args], check=True, timeout=10)

    with StageRun(path, 60) as run:
        time.sleep(0.3)
        send("/stage/cue", "i", "99")            # out of range: the session has two cues
        send("/stage/cue", "f", "nan")           # NaN
        send("/stage/cue", "s", "2")             # a string
        send("/stage/cue", "f", "1.5")           # not a whole cue
        send("/stage/nudge", "f", "1e30")        # absurd
        send("/stage/next_cue", "i", "7")        # 'at once' is 0 or 1
        send("/stage/warp")                      # no such action
        send("/elsewhere", "i", "1")             # not ours
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"\x00\x01garbage", ("127.0.0.1", port))
            s.sendto(b"/stage/cue\x00\x00,i\x00\x00", ("127.0.0.1", port))     # an int promised, none there
        time.sleep(0.5)
        t_cue = now()
        send("/stage/cue", "ii", "2", "1")   # the positive control: cue two, at once
        end_when_on_cue_two(run)
    assert run.ok, run.stderr
    osc = run.stats["osc_in"]
    assert osc == {"received": 11, "accepted": 1, "malformed": 2, "unknown": 2, "bad_args": 6, "flood": 0,
                   "kernel_dropped": 0}, osc
    assert run.stats["controls"] == 1 and run.stats["controls_rejected"] == 0
    assert run.stats["cue_switches"] == 1
    frames = run.frames
    before = [f["film"]["frame"] for f in frames if f["t_present"] < t_cue]
    after = [f["film"]["frame"] for f in frames if f["t_present"] > t_cue]
    assert before and all(f < 240 for f in before)           # nothing before moved the film off cue one
    k = next(i for i, f in enumerate(after) if f >= 360)     # and the good message did (once decoded)
    assert all(360 <= f < 600 for f in after[k:]) and len(after) - k > 30


# -- a flood --------------------------------------------------------------------------------------

FLOOD_RATE = 10000
FLOOD_SECONDS = float(os.environ.get("STAGE_TEST_FLOOD_SECONDS", "10"))   # the figure: ~16 s a run


def intervals(frames, t0, t1):
    t = [f["t_present"] for f in frames]
    return sorted(b - a for a, b in zip(t, t[1:]) if t0 <= a and b <= t1)


def pct(v, q):
    return v[min(len(v) - 1, max(0, int(math.ceil(q * len(v))) - 1))]


def p99(v):
    return pct(v, 0.99)


def test_a_flood_is_counted_and_dropped_and_the_picture_goes_on(tmp_path):
    """10,000 packets a second (a quarter each valid, malformed, unknown, bad arguments) for
    FLOOD_SECONDS (10 s; scripts/bench_osc_flood.py repeats it, with a control round); the
    sender is a process of its own, niced: on a network it would be another machine, not a
    competitor for this one's two cores."""
    port = free_udp_port()
    path = session(tmp_path, port)
    quiet = 3.0
    with StageRun(path, 120) as run:
        time.sleep(quiet)
        t0 = now()
        sender = subprocess.Popen(["nice", "-n", "19", sys.executable, "-m", "stage_testing.flood", "127.0.0.1",
                                   str(port), "--rate", str(FLOOD_RATE), "--seconds", str(FLOOD_SECONDS)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        time.sleep(FLOOD_SECONDS - 1.0)
        t_cue = now()                            # the operator's desk, another host, mid-flood: cue two
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as desk:
            desk.bind(("127.0.0.2", 0))
            from stage_testing.flood import message
            desk.sendto(message("/stage/cue", 2, 1), ("127.0.0.1", port))
        out, err = sender.communicate(timeout=FLOOD_SECONDS + 30)
        r = subprocess.CompletedProcess(sender.args, sender.returncode, out, err)
        t1 = now()
        time.sleep(1.5)                          # what is still in the socket's buffer is read before the end
        end_when_on_cue_two(run)
    assert r.returncode == 0, r.stderr
    sent = json.loads(r.stdout)
    assert sent["errors"] == 0 and sent["total"] == FLOOD_RATE * FLOOD_SECONDS
    assert sent["rate"] > 0.9 * FLOOD_RATE, sent
    assert run.ok, run.stderr
    st = run.stats
    osc = st["osc_in"]
    print("flood", sent, osc)
    # every packet is accounted for: read and sorted, or dropped by the kernel's buffer (counted)
    assert osc["received"] + osc["kernel_dropped"] == sent["total"] + 1
    assert osc["accepted"] + osc["flood"] + osc["malformed"] + osc["unknown"] + osc["bad_args"] == osc["received"]
    lost = osc["kernel_dropped"]
    for kind in ("malformed", "unknown", "bad_args"):
        assert sent["sent"][kind] - lost <= osc[kind] <= sent["sent"][kind], (kind, osc, sent)
    assert sent["sent"]["valid"] + 1 - lost <= osc["accepted"] + osc["flood"] <= sent["sent"]["valid"] + 1
    assert osc["flood"] > 0.5 * sent["sent"]["valid"]                       # most valid ones were a flood
    assert osc["accepted"] <= 200 * (t1 - t0 + 2) + 200                     # at most 200 a second got through
    # nothing bad reached an action: the show's own queue refused nothing, and no cue moved but the last
    assert st["controls"] == osc["accepted"] and st["controls_rejected"] == 0
    assert st["cue_switches"] == 1              # the desk's cue, through the flood: another host's budget
    frames = run.frames
    assert [f["film"]["frame"] for f in frames if f["t_present"] > t_cue][-1] >= 360
    # the picture: during the flood, no more than a frame slower than without it
    period = 1 / 60
    calm = intervals(frames, frames[0]["t_present"] + 0.5, t0)
    flood = intervals(frames, t0, t_cue)         # (up to the cue: a switch is not the flood's)
    print(f"frame interval: calm median {1e3 * statistics.median(calm):.2f} ms p99 {1e3 * p99(calm):.2f} ms; "
          f"p95 {1e3 * pct(calm, 0.95):.2f} ms; flood median {1e3 * statistics.median(flood):.2f} ms "
          f"p95 {1e3 * pct(flood, 0.95):.2f} ms p99 {1e3 * p99(flood):.2f} ms "
          f"max {1e3 * flood[-1]:.2f} ms ({len(flood)} frames)")
    assert len(flood) > 0.9 * (t_cue - t0) * 60 - 2
    assert statistics.median(flood) < statistics.median(calm) + 0.001
    # (this machine is shared with other jobs: its p99 over a few hundred frames is three frames'
    # luck; the 95th percentile, and how many frames came more than a frame late, are the flood's)
    assert pct(flood, 0.95) <= pct(calm, 0.95) + period
    late = lambda v: sum(x > 2 * period for x in v) / len(v)          # noqa: E731
    assert late(flood) <= late(calm) + 0.02, (late(flood), late(calm))


# -- a listener that dies is started again -----------------------------------------------------

def test_a_listener_that_dies_is_started_again_on_the_same_address():
    from stage.control.osc import OscControl
    from stage_testing.flood import message
    q = ControlQueue(cues=2)
    osc = OscControl("127.0.0.1", 0, q).start()
    try:
        addr = osc.address
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(message("/stage/hud"), addr)
            t_end = time.monotonic() + 5
            while osc.accepted < 1 and time.monotonic() < t_end:
                time.sleep(0.02)
            first = osc.proc
            first.kill()                                     # as a crash, or the OOM killer, would
            t_end = time.monotonic() + 10
            while osc.restarts < 1 and time.monotonic() < t_end:
                time.sleep(0.02)
            assert osc.restarts == 1 and osc.proc is not first and osc.address == addr
            s.sendto(message("/stage/blackout"), addr)
            s.sendto(b"junk", addr)
            t_end = time.monotonic() + 5
            while osc.malformed < 1 and time.monotonic() < t_end:
                time.sleep(0.02)
        assert [c.action for c in q.drain()] == ["hud", "blackout"]
        assert (osc.received, osc.accepted, osc.malformed) == (3, 2, 1)     # counts kept across the two
    finally:
        osc.stop()
    assert osc.proc.poll() is not None                       # and stopping stops the new one
