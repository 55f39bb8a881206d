"""Reviewing a take recorded as a user records one: `stage run --record` on a real JACK server,
a second JACK client playing known lines into two inputs (a horn and a bass: notes of known
pitch, start and length), and a MIDI keyboard on a JACK MIDI port. Then `stage transcribe`,
`stage report` and `stage render` run on it as commands, and what they wrote is read back
with outside readers (mido, midicsv, ffprobe, PyAV's decoder)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from fractions import Fraction

import numpy as np
import pytest

from stage.film.synth import make_numbered_clip
from stage_testing import StageRun

from .conftest import need_tool, stage_cmd

SESSION = """
[film]
file = "{film}"

[display]
timecode = "bottom-left"

[[cues]]
name = "1M1"
in = "00:00:01:00"
out = "00:00:04:00"
harmony = "Dm7 | G7 | Cmaj7"
tempo = 120
beats_per_bar = 4

[[cues.hits]]
time = "00:00:02:12"
label = "door"
colour = "red"

[audio]
input = "system"
samplerate = 48000
blocksize = 256

[takes]
folder = "{takes}"
keep_free_minutes = 1

[[players]]
name = "Horn"
channel = 1
lowest = "E3"
highest = "C6"

[[players]]
name = "Bass"
channel = 2
lowest = "E1"
highest = "G3"

[[players]]
name = "Keys"
midi = "stage-review-keys"
"""

# (start s after the line begins, length s, MIDI note) for the horn and the bass; silence between
HORN = [(0.0, 0.35, 69), (0.5, 0.3, 72), (0.9, 0.4, 76), (1.45, 0.25, 74), (1.8, 0.5, 67), (2.45, 0.3, 71),
        (2.9, 0.45, 69), (3.5, 0.3, 64), (3.9, 0.5, 72)]
BASS = [(0.0, 0.6, 38), (0.8, 0.5, 43), (1.5, 0.7, 36), (2.4, 0.5, 41), (3.1, 0.6, 45), (3.9, 0.5, 40)]
KEYS = [62, 65, 69, 72]
LINE_AT = 0.8          # seconds after the first frame the lines begin
RUN_S = 6.5


def hz(m):
    return 440.0 * 2 ** ((m - 69) / 12)


def schedule(t0):
    """Injector events: at each change, the frequencies of both channels (0: silence)."""
    cuts = sorted({t for s, d, _ in HORN + BASS for t in (s, s + d)})
    events = []
    for c in cuts:
        f = []
        for line in (HORN, BASS):
            on = [m for s, d, m in line if s <= c < s + d - 1e-9]
            f.append(hz(on[0]) if on else 0.0)
        events.append((t0 + c, f))
    return events


@pytest.fixture(scope="module")
def recorded(jack_server, tmp_path_factory):
    """A take recorded by `stage run --record`: (folder, manifest, line start on the capture clock)."""
    import rtmidi
    from stage.clock import now
    tmp = tmp_path_factory.mktemp("review")
    film = make_numbered_clip(tmp / "f.mp4", 120, size=(320, 180), fps=Fraction(24))
    takes = tmp / "takes"
    s = tmp / "s.toml"
    s.write_text(SESSION.format(film=film, takes=takes))
    old = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = jack_server          # (rtmidi's JACK client finds the server by it)
    try:
        keys = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="stage-review-keys")
        keys.open_virtual_port("out")
    finally:
        if old is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = old
    try:
        with StageRun(s, RUN_S, jack=jack_server, inject=2, extra=["--record"],
                      midi_ports=["stage-review-keys:out"]) as run:
            t_line = now() + LINE_AT
            run.injector.schedule(schedule(t_line))
            time.sleep(LINE_AT + 0.2)
            for k, note in enumerate(KEYS):
                keys.send_message([0x90, note, 90 + k])
                time.sleep(0.3)
                keys.send_message([0x80, note, 0])
                time.sleep(0.1)
            applied = list(run.injector.applied)
    finally:
        keys.delete()
    assert run.ok, run.stderr
    folders = [p for p in takes.iterdir() if p.is_dir()]
    assert len(folders) == 1, folders
    m = json.loads((folders[0] / "manifest.json").read_text())
    # when each change really reached stage's input (the start of the JACK cycle that held it)
    t_first = applied[0][0]
    return {"folder": folders[0], "manifest": m, "t_line": t_first, "session": s, "tmp": tmp, "film": film}


def sounded(recorded):
    """Per channel, (first, last) second of each note in the take's WAV: the injector plays
    exact zeros between notes, so a note is a run of samples that are not zero."""
    import soundfile as sf
    m = recorded["manifest"]
    x, sr = sf.read(str(recorded["folder"] / m["files"]["audio"]), dtype="float32", always_2d=True)
    out = []
    for ch in range(2):
        on = np.concatenate(([0], (x[:, ch] != 0).astype(np.int8), [0]))
        d = np.diff(on)
        starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
        keep = (ends - starts) > 0.05 * sr                 # (a zero crossing is one sample, not a rest)
        runs = []
        for a, b in zip(starts[keep], ends[keep]):
            if runs and a - runs[-1][1] < 0.02 * sr:
                runs[-1][1] = b
            else:
                runs.append([a, b])
        out.append([(a / sr, b / sr) for a, b in runs])
    return out


def run_stage(*args, timeout=240):
    r = subprocess.run(stage_cmd(*args), capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr + r.stdout
    return r


@pytest.mark.timeout(300)
def test_transcribe_a_take_one_track_a_player_at_the_take_s_timecode(recorded, tmp_path):
    import mido
    out = tmp_path / "take.mid"
    r = run_stage("transcribe", recorded["folder"], "--out", out)
    assert "Horn:" in r.stdout and "audio channel 1" in r.stdout and "MIDI port" in r.stdout
    mid = mido.MidiFile(out)
    names = [next(m.name for m in tr if m.type == "track_name") for tr in mid.tracks[1:]]
    assert names == ["Horn", "Bass", "Keys"]
    # SMPTE division at the film's 24 fps, 100 ticks a frame; the offset at the take's start
    raw = out.read_bytes()
    assert raw[12:14] == bytes([(-24) & 0xFF, 100])
    smpte = next(m for m in mid.tracks[0] if m.type == "smpte_offset")
    start_tc = recorded["manifest"]["start"]["timecode"]
    hh, mm, ss, ff = (int(x) for x in start_tc.split(":"))
    assert (smpte.hours, smpte.minutes, smpte.seconds, smpte.frames) == (hh, mm, ss, ff)
    heard = sounded(recorded)                    # each note's first and last sample in the take's WAV

    def notes(track):
        out, on, t = [], {}, 0
        for m in track:
            t += m.time
            if m.type == "note_on" and m.velocity > 0:
                on[m.note] = (t / 2400.0, m.velocity)
            elif m.type in ("note_off", "note_on") and m.note in on:
                s, v = on.pop(m.note)
                out.append((s, t / 2400.0, m.note, v))
        return out
    for ch, (track, line) in enumerate(((mid.tracks[1], HORN), (mid.tracks[2], BASS))):
        got = notes(track)
        assert [n for _, _, n, _ in got] == [m for _, _, m in line], got
        assert len(heard[ch]) == len(line)
        for (s, e, _n, v), (h0, h1) in zip(got, heard[ch]):
            assert abs(s - h0) < 0.05, (s, h0)                              # onset within 50 ms
            assert abs(e - h1) < max(0.05, 0.2 * (h1 - h0)), (e, h1)        # offset: mir_eval's rule
            assert 60 <= v <= 127                                           # played at -14 dBFS or so
    keys = notes(mid.tracks[3])
    assert [n for _, _, n, _ in keys] == KEYS and [v for *_, v in keys] == [90, 91, 92, 93]
    # midicsv reads it too (an outside reader of SMF)
    csv = subprocess.run([need_tool("midicsv"), str(out)], capture_output=True, text=True, timeout=30).stdout
    assert "SMPTE_offset" in csv and csv.count("Note_on_c") >= len(HORN) + len(BASS) + len(KEYS)


@pytest.mark.timeout(300)
def test_transcribe_from_the_recorded_analysis_gives_the_same_notes(recorded, tmp_path):
    """The analysis recorded live is the same tracker over the same sound: the same notes,
    where it holds every hop (a live analysis that fell behind on a loaded machine lapped
    hops: a note over such a hole may be missing, which is why the audio is the default)."""
    import mido
    a, b = tmp_path / "a.mid", tmp_path / "b.mid"
    run_stage("transcribe", recorded["folder"], "--out", a)
    r = run_stage("transcribe", recorded["folder"], "--from", "analysis", "--out", b)
    assert "recorded analysis" in r.stdout
    m = recorded["manifest"]
    heard = sounded(recorded)
    for ch, name, line in ((0, "Horn", HORN), (1, "Bass", BASS)):
        rows = np.load(recorded["folder"] / m["files"]["analysis"][name])
        t = rows["t_capture"] - m["start"]["monotonic_raw"]
        holes = [(t[i], t[i + 1]) for i in np.flatnonzero(np.diff(t) > 0.02)]
        whole = [k for k, (h0, h1) in enumerate(heard[ch]) if not any(a0 < h1 and h0 < a1 for a0, a1 in holes)]
        assert len(whole) >= len(line) - 2, holes
        by_file = {}
        for path in (a, b):
            tr = mido.MidiFile(path).tracks[1 + ch]
            tick, ons = 0, []
            for msg in tr:
                tick += msg.time
                if msg.type == "note_on" and msg.velocity > 0:
                    ons.append((tick / 2400.0, msg.note))
            by_file[path] = ons
        for k in whole:
            h0 = heard[ch][k][0]
            for path in (a, b):
                near = [n for s, n in by_file[path] if abs(s - h0) < 0.05]
                assert near == [line[k][2]], (path.name, name, k, by_file[path])


def test_transcribe_a_sound_file(tmp_path):
    """A sound file's line: the tracker's notes, a flash of a wrong pitch between two notes
    (three hops) left out."""
    import mido
    import soundfile as sf

    from .signals import SR, tone
    x = np.concatenate([tone(hz(69), 0.4), tone(hz(81), 0.016), tone(hz(72), 0.4), np.zeros(SR // 4, np.float32),
                        tone(hz(76), 0.3), np.zeros(SR // 4, np.float32)])
    wav = tmp_path / "line.wav"
    sf.write(str(wav), x, SR, subtype="FLOAT")
    run_stage("transcribe", wav, "--lowest", "E3", "--highest", "C6")
    mid = mido.MidiFile(tmp_path / "line.mid")
    assert mid.ticks_per_beat == 480
    got = [m.note for m in mid.tracks[1] if m.type == "note_on" and m.velocity > 0]
    assert got == [69, 72, 76]
    # and a sound file needs the instrument's range
    r = subprocess.run(stage_cmd("transcribe", wav), capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--lowest" in r.stderr


@pytest.mark.timeout(300)
def test_render_a_take_twice_gives_the_same_frames_with_the_sound(recorded, tmp_path):
    import av
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    r = run_stage("render", recorded["folder"], "--out", a, "--size", "640x360")
    stats = json.loads(r.stdout.strip().splitlines()[-1])
    assert stats["frames"] == int(recorded["manifest"]["seconds"] * 30)
    run_stage("render", recorded["folder"], "--out", b, "--size", "640x360")
    probe = json.loads(subprocess.run([need_tool("ffprobe"), "-v", "error", "-show_streams", "-of", "json", str(a)],
                                      capture_output=True, text=True, timeout=30).stdout)
    kinds = {s["codec_type"]: s for s in probe["streams"]}
    assert kinds["video"]["codec_name"] == "h264" and kinds["video"]["width"] == 640
    assert kinds["audio"]["codec_name"] == "aac" and int(kinds["audio"]["channels"]) == 2

    def frames(p):
        with av.open(str(p)) as c:
            return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    fa, fb = frames(a), frames(b)
    assert len(fa) == len(fb) == stats["frames"]
    assert all(np.array_equal(x, y) for x, y in zip(fa, fb))
    assert not np.array_equal(fa[10], fa[60])                         # (the picture moves)
    # the sound is the take's: the horn's A4 in the first second of the line, in both channels
    with av.open(str(a)) as c:
        snd = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)
    s0 = int((sounded(recorded)[0][0][0] + 0.1) * 48000)
    seg = snd[0, s0:s0 + 4800]
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    assert abs(np.argmax(spec) * 48000 / len(seg) - 440) < 15


@pytest.mark.timeout(300)
def test_report_draws_every_player_and_compares_two_takes(recorded, tmp_path):
    out = tmp_path / "r.png"
    r = subprocess.run(stage_cmd("report", recorded["folder"], "--out", out, "--compare", recorded["folder"]),
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    import matplotlib.image as mpimg
    img = mpimg.imread(str(out))
    assert img.shape[1] >= 1600 and img.shape[0] >= 900


def live_frames(take, ks, fps, size):
    """What the live renderer draws at video frames ``ks``: the stage's Renderer with its real
    cue director (the film decoded on its own thread), a Transport moved as the stage moves
    it (restarted where the take's film ran from), and the players' feeds filled by the
    analysis thread's own Frame objects as each row's capture time passes."""
    from stage.audio.analysis import Frame
    from stage.runtime import open_film

    from .scene import FakeClock, Scene
    film = open_film(take.session)
    seg = take.clock.segment_at(take.t0)
    clock = FakeClock(take.t0)
    d = take.session.display
    app = Scene(take.players, film=film, size=size, clock=clock, timecode=d.timecode, fps=fps)
    try:
        app.transport.restart(t=seg.T, playing=True)              # frame seq 0 of the cue began at T
        for f in app.feeds:
            if hasattr(f, "set_connected"):
                f.set_connected(True)
        rows = {p.name: np.sort(take.analysis(p.name), order="t_capture") for p in take.players if not p.is_midi}
        msgs = {p.name: take.player_messages(p) for p in take.players if p.is_midi}
        at = {name: 0 for name in list(rows) + list(msgs)}
        out = {}
        for k in range(max(ks) + 1):
            t = take.t0 + k / fps
            clock.t = t
            for p, feed in zip(take.players, app.feeds):
                a = rows.get(p.name)
                if a is not None:
                    while at[p.name] < len(a) and a["t_capture"][at[p.name]] <= t:
                        r = a[at[p.name]]
                        feed.push(float(r["t_capture"]), Frame(float(r["f0_hz"]), float(r["confidence"]),
                                                               float(r["level_db"]), float(r["level_db"]),
                                                               bool(r["onset"])), float(r["t_capture"]))
                        at[p.name] += 1
                else:
                    m = msgs[p.name]
                    while at[p.name] < len(m) and m[at[p.name]][0] <= t:
                        feed.take(*m[at[p.name]])
                        at[p.name] += 1
            # the decoder runs on its own: wait for the frame due (the live show would drop it)
            pos = app.transport.at(t)
            pl = app.director.player_for(pos.cue)
            dec = pl.decoder
            t_end = time.monotonic() + 10
            while time.monotonic() < t_end:
                off = pos.seq % dec.length
                if (off < dec.head_len and dec.head_ready.is_set()) or pl.current_seq == pos.seq \
                        or any(q.seq == pos.seq for q in list(dec.queue)):
                    break
                time.sleep(0.002)
            app.frame(t)
            if k in ks:
                out[k] = app.pixels().copy()
        return out
    finally:
        app.close()


def blocks(img, n=8):
    h, w = img.shape[:2]
    return img[:h - h % n, :w - w % n].reshape(h // n, n, w // n, n, 3).astype(float).mean(axis=(1, 3))


@pytest.mark.timeout(300)
def test_rendered_frames_are_what_the_live_renderer_draws(recorded, tmp_path):
    """The render's frames, before and after H.264, against the live renderer's for the same
    state. Before encoding they are the same to the bit. After: H.264 at CRF 18 in 4:2:0 keeps
    the picture to a mean error of about 2 levels (of 255; measured 1.9-2.1 on these frames),
    but halves the colour's resolution, so a two-pixel trail or a letter's edge can be off by
    150 levels at a pixel; in 8x8 blocks (the codec's own unit) the worst block is off by
    13-27 levels. So: mean under 3, worst block under 40. The same measures between two live
    frames half a second apart are 44-55 (mean) and 253-255 (worst block): the check tells
    frames apart."""
    import av

    from stage.review.render import TakeRenderer, render_take
    from stage.review.take import open_take
    take = open_take(recorded["folder"])
    fps, size = 30, (640, 360)
    n = int(take.seconds * fps)
    ks = [n // 5, 2 * n // 5, 3 * n // 5, 4 * n // 5 - 15]
    tr = TakeRenderer(take, size, "studio", fps)
    mine = {}
    for k in range(max(ks) + 1):
        tr.frame(k)
        if k in ks:
            mine[k] = tr.rgb().copy()
    tr.close()
    out = tmp_path / "r.mp4"
    render_take(take, out, size, fps=fps)
    with av.open(str(out)) as c:
        video = {i: f.to_ndarray(format="rgb24") for i, f in enumerate(c.decode(video=0)) if i in ks}
    live = live_frames(take, ks + [k + 15 for k in ks], fps, size)
    for k in ks:
        assert np.array_equal(mine[k], live[k]), f"frame {k}: {np.count_nonzero(np.any(mine[k] != live[k], axis=2))} px differ"
        err = np.abs(video[k].astype(float) - live[k])
        berr = np.abs(blocks(video[k]) - blocks(live[k]))
        other = np.abs(blocks(live[k + 15]) - blocks(live[k]))
        assert err.mean() < 3.0 and berr.max() < 40, (k, err.mean(), berr.max())
        assert other.max() > 3 * berr.max() and np.abs(live[k + 15].astype(float) - live[k]).mean() > 2 * err.mean()
