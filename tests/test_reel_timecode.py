"""A reel as it comes from the cutting room plays in its own timecode: ProRes and DNxHR .mov
files made here (through PyAV) and by the ffmpeg command line, with a QuickTime tmcd track
that ffprobe reads back, checked and run with loop points in the reel's timecode and no
[film] start."""

import json
import subprocess
from fractions import Fraction

import numpy as np
import pygame
import pytest

from stage.film.decoder import FilmError, probe, resolve_loop
from stage.film.synth import BITS, make_numbered_clip, make_reel
from stage.film.timecode import EmbeddedTimecode, TimecodeFormat, film_timecode
from stage.runtime import open_film
from stage.session import SessionError, load_session

from .conftest import ROOT, need_tool, stage_cmd

NTSC = Fraction(30000, 1001)
RECORDING = ROOT / "assets" / "demo_performance.flac"


def ffprobe(path) -> dict:
    exe = need_tool("ffprobe")
    r = subprocess.run([exe, "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def tmcd_tracks(path) -> list[dict]:
    return [s for s in ffprobe(path)["streams"] if s.get("codec_tag_string") == "tmcd"]


def session_file(tmp_path, film, name="s.toml", **film_keys) -> object:
    """A session on ``film``, its [film] keys as given (strings quoted, booleans as TOML), one
    player on a recorded performance so `stage run` needs no device."""
    lines = [f'file = "{film}"']
    for k, v in film_keys.items():
        lines.append(f"{k} = {str(v).lower() if isinstance(v, bool) else json.dumps(v)}")
    p = tmp_path / name
    p.write_text("[film]\n" + "\n".join(lines) + f'\n\n[audio]\nfile = "{RECORDING}"\n\n'
                 '[[players]]\nname = "A"\nchannel = 1\n')
    return p


def check(session) -> subprocess.CompletedProcess:
    return subprocess.run(stage_cmd("check", session), capture_output=True, text=True, timeout=60)


def run_traced(session, tmp_path, seconds):
    """`stage run --headless` for ``seconds``: the trace's frames and the last picture."""
    import os
    trace, snap = tmp_path / "t.jsonl", tmp_path / "last.png"
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", JACK_DEFAULT_SERVER="stage-none")
    r = subprocess.run(stage_cmd("run", session, "--headless", "--seconds", seconds, "--trace", trace, "--silent",
                                 "--snapshot", snap), env=env, capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stderr
    return [json.loads(x)["film"] for x in trace.read_text().splitlines()], snap


def number_on_screen(snap, film_rect) -> int:
    """The frame number a numbered reel shows in the snapshot: each bar's median over the top
    third of the picture (the lanes' grid lines and the count-off cross it, thinly); the
    players' panel on the right dims white bars to about 105, black ones stay near 0."""
    x, y, w, h = film_rect
    img = pygame.surfarray.array3d(pygame.image.load(str(snap))).swapaxes(0, 1)[y:y + h, x:x + w]
    grey = img.mean(axis=2)
    n = 0
    for b in range(BITS):
        col = int((b + 0.5) * w / BITS)
        v = np.median(grey[h // 12:h // 3 - h // 24, col - 2:col + 3])
        n = (n << 1) | (1 if v > 50 else 0)
    return n


def df_labels(start: str, count: int) -> list[str]:
    """SMPTE drop-frame labels at 29.97 from ``start`` on, counted the way the standard says:
    frame numbers 00 and 01 do not exist at the start of a minute, except every tenth minute.
    (Written without stage's arithmetic, to check it.)"""
    h, m, s, f = (int(x) for x in start.replace(";", ":").split(":"))
    out = []
    while len(out) < count:
        out.append(f"{h:02d}:{m:02d}:{s:02d};{f:02d}")
        f += 1
        if f == 30:
            f, s = 0, s + 1
            if s == 60:
                s, m = 0, m + 1
                if m == 60:
                    m, h = 0, h + 1
                if m % 10 != 0:
                    f = 2
    return out


# -- the reels, and what an outside tool reads in them

@pytest.mark.parametrize("codec,fps,tc,where", [
    ("prores_ks", Fraction(24), "01:00:00:00", "container"),
    ("prores_ks", Fraction(24000, 1001), "01:00:00:00", "stream"),
    ("dnxhd", NTSC, "00:59:59;00", "container"),
])
def test_reels_made_here_carry_a_tmcd_track_ffprobe_reads(clip_dir, codec, fps, tc, where):
    path = make_reel(clip_dir / f"{codec}-{float(fps):.3f}.mov", 48, fps=fps, codec=codec, timecode=tc, where=where)
    streams = ffprobe(path)["streams"]
    video = [s for s in streams if s["codec_type"] == "video"]
    assert len(video) == 1 and video[0]["codec_name"] == {"prores_ks": "prores", "dnxhd": "dnxhd"}[codec]
    assert Fraction(video[0]["r_frame_rate"]) == fps
    tracks = tmcd_tracks(path)
    assert len(tracks) == 1 and tracks[0]["tags"]["timecode"] == tc
    info = probe(path)
    assert info.timecode == EmbeddedTimecode(tc, "tmcd") and info.frames == 48 and info.fps == fps
    assert info.timecode.drop_frame == (";" in tc)
    # positive control: the same reel without a timecode has no tmcd track, and probe finds none
    plain = make_reel(clip_dir / f"{codec}-plain.mov", 12, fps=fps, codec=codec, timecode=None)
    assert tmcd_tracks(plain) == [] and probe(plain).timecode is None


def test_the_tmcd_sample_is_the_frame_count_stage_starts_from(clip_dir):
    """The tmcd track's one sample is the first frame's number counted from midnight (in
    drop-frame counting where the track says so): stage's start is that same number."""
    import av
    for fps, tc, codec in ((Fraction(24), "01:00:00:00", "prores_ks"), (NTSC, "00:59:59;00", "dnxhd"),
                           (NTSC, "01:00:59;00", "dnxhd")):
        path = make_reel(clip_dir / "count.mov", 12, fps=fps, codec=codec, timecode=tc)
        with av.open(str(path)) as c:
            sample = bytes(next(c.demux(c.streams.data[0])))
        info = probe(path)
        assert film_timecode(info.fps, info.timecode).start == int.from_bytes(sample[:4], "big")
    assert int.from_bytes(sample[:4], "big") == 107892 + 59 * 30        # 01:00:00;00 is frame 107892 (SMPTE)


def test_reels_from_the_ffmpeg_command_line(clip_dir):
    """How real reels arrive: made by ffmpeg, ProRes at 24 and DNxHR at 29.97 drop-frame, and
    the other places ffmpeg puts a timecode (Matroska and MXF containers, a stream's tag, a
    data stream in NUT)."""
    exe = need_tool("ffmpeg")

    def ffmpeg(*args, rate="24"):
        out = clip_dir / args[-1]
        r = subprocess.run([exe, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size=320x180:rate={rate}",
                            "-t", "2", *args[:-1], str(out)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return out

    reel = ffmpeg("-c:v", "prores_ks", "-timecode", "01:00:00:00", "cli.mov")
    df = ffmpeg("-c:v", "dnxhd", "-profile:v", "dnxhr_lb", "-pix_fmt", "yuv422p", "-timecode", "00:59:59;00",
                "cli-df.mov", rate="30000/1001")
    mkv = ffmpeg("-c:v", "libx264", "-timecode", "02:00:00:00", "cli.mkv")
    mxf = ffmpeg("-c:v", "mpeg2video", "-timecode", "03:00:00:00", "cli.mxf")
    tagged = ffmpeg("-c:v", "libx264", "-metadata:s:v:0", "timecode=04:00:00:00", "tagged.mkv")
    nut = clip_dir / "data.nut"
    r = subprocess.run([exe, "-v", "error", "-y", "-i", str(reel), "-map", "0", "-c", "copy", "-map_metadata:s", "-1",
                        "-metadata:s:d:0", "timecode=05:00:00:00", str(nut)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert probe(reel).timecode == EmbeddedTimecode("01:00:00:00", "tmcd")
    assert probe(df).timecode == EmbeddedTimecode("00:59:59;00", "tmcd")
    assert probe(mkv).timecode == EmbeddedTimecode("02:00:00:00", "container")
    assert probe(mxf).timecode == EmbeddedTimecode("03:00:00:00", "container")
    assert probe(tagged).timecode == EmbeddedTimecode("04:00:00:00", "stream")
    assert probe(nut).timecode == EmbeddedTimecode("05:00:00:00", "data")
    tc = film_timecode(probe(df).fps, probe(df).timecode)
    assert tc.drop_frame and tc.label(0) == "00:59:59;00" and tc.label(30) == "01:00:00;00"
    plain = ffmpeg("-c:v", "prores_ks", "plain.mov")
    assert probe(plain).timecode is None


# -- `stage check`, and the session's settings against the file's

def test_check_takes_the_reels_timecode_and_says_where_from(clip_dir, tmp_path):
    reel = make_reel(clip_dir / "reel.mov", 240)
    s = session_file(tmp_path, reel, **{"in": "01:00:02:00", "out": "01:00:05:00"})
    r = check(s)
    assert r.returncode == 0, r.stderr
    assert "timecode 01:00:00:00 at the first frame, non-drop (from the file's tmcd track)" in r.stdout
    assert "01:00:02:00 - 01:00:05:00  (72 frames, 3.00 s)" in r.stdout
    assert open_film(load_session(s)).loop == (48, 120)
    # positive control: the same session on a reel without a timecode is refused, with its range
    plain = session_file(tmp_path, make_reel(clip_dir / "plain.mov", 240, timecode=None), "p.toml",
                         **{"in": "01:00:02:00", "out": "01:00:05:00"})
    r = check(plain)
    assert r.returncode == 2 and f"{plain}:3: film.in:" in r.stderr
    assert "the film runs 00:00:00:00-00:00:09:23" in r.stderr and "the file carries none" in r.stderr


@pytest.mark.parametrize("keys,line,key,says", [
    ({"in": "00:00:02:00", "out": "01:00:05:00"}, 3, "film.in", "loop in point 00:00:02:00 is before the film's first frame"),
    ({"in": "01:00:02:00", "out": "01:00:10:01"}, 4, "film.out", "loop out point 01:00:10:01 is past the end of the film"),
    ({"in": "01:00:11:00"}, 3, "film.in", "loop in point 01:00:11:00 is past the end of the film"),
])
def test_loop_points_outside_the_reel_say_its_range_in_its_timecode(clip_dir, tmp_path, keys, line, key, says):
    s = session_file(tmp_path, make_reel(clip_dir / "reel.mov", 240), **keys)
    with pytest.raises(SessionError) as e:
        open_film(load_session(s))
    assert e.value.line == line and e.value.key == key
    assert says in str(e.value) and "the film runs 01:00:00:00-01:00:09:23" in str(e.value)
    assert "from the file's tmcd track" in str(e.value)
    r = check(s)
    assert r.returncode == 2 and f"{s}:{line}: {key}: " in r.stderr and says in r.stderr


def test_hits_and_harmony_are_in_the_reels_timecode(clip_dir, tmp_path):
    reel = make_reel(clip_dir / "reel.mov", 240)
    p = tmp_path / "cues.toml"
    p.write_text(f'[film]\nfile = "{reel}"\n\n[[cues]]\nname = "1M1"\nin = "01:00:02:00"\nout = "01:00:05:00"\n'
                 'harmony = [["01:00:02:00", "Dm7"], ["01:00:03:12", "G7"]]\n\n'
                 '[[cues.hits]]\ntime = "01:00:04:00"\nlabel = "door"\n\n'
                 f'[audio]\nfile = "{RECORDING}"\n\n[[players]]\nname = "A"\nchannel = 1\n')
    film = open_film(load_session(p))
    cue = film.cues[0]
    assert cue.loop == (48, 120) and cue.hits[0].frame == 96
    assert [(round(sp.start, 3), sp.chord.name) for sp in cue.harmony] == [(0.0, "Dm7"), (1.5, "G7")]
    r = check(p)
    assert r.returncode == 0 and "hit 01:00:04:00 door" in r.stdout, r.stderr
    # a hit given from zero, as if the reel had no timecode: refused, saying the reel's start
    p.write_text(p.read_text().replace('time = "01:00:04:00"', 'time = "00:00:04:00"'))
    with pytest.raises(SessionError) as e:
        open_film(load_session(p))
    assert e.value.key == "cues[0].hits[0].time" and "before the film's first frame (01:00:00:00" in str(e.value)


def test_a_session_start_overrides_the_reels(clip_dir, tmp_path):
    reel = make_reel(clip_dir / "reel.mov", 240)
    s = session_file(tmp_path, reel, start="00:00:00:00", **{"in": "00:00:02:00", "out": "00:00:05:00"})
    film = open_film(load_session(s))
    assert film.loop == (48, 120) and film.tc.source == "session" and film.tc.label(0) == "00:00:00:00"
    r = check(s)
    assert r.returncode == 0, r.stderr
    assert ("timecode 00:00:00:00 at the first frame, non-drop (from the session's [film] start, over the "
            "file's tmcd track (01:00:00:00))") in r.stdout
    # and the reel's own timecode, which that session's points are not in, no longer applies
    s2 = session_file(tmp_path, reel, "s2.toml", start="10:00:00:00", **{"in": "01:00:02:00", "out": "01:00:05:00"})
    with pytest.raises(SessionError, match="before the film's first frame: the film runs 10:00:00:00-10:00:09:23"):
        open_film(load_session(s2))


def test_a_file_without_timecode_is_as_before(clip_dir, tmp_path):
    for film in (make_reel(clip_dir / "plain.mov", 240, timecode=None), make_numbered_clip(clip_dir / "n.mp4", 240)):
        s = session_file(tmp_path, film, **{"in": "00:00:02:00", "out": 5.0})
        f = open_film(load_session(s))
        assert f.loop == (48, 120) and f.tc.source == "none" and f.tc.start == 0 and not f.tc.drop_frame
        r = check(s)
        assert r.returncode == 0 and "timecode 00:00:00:00 at the first frame, non-drop (the file carries none)" in r.stdout
        s = session_file(tmp_path, film, "st.toml", start="01:00:00:00", **{"in": "01:00:02:00"})
        assert open_film(load_session(s)).loop == (48, 240)


def test_drop_frame_from_the_file_and_from_the_session(clip_dir, tmp_path):
    """Every combination of the file's drop-frame and the session's start and drop_frame."""
    df = make_reel(clip_dir / "df.mov", 60, fps=NTSC, codec="dnxhd", timecode="00:59:59;00")
    nd = make_reel(clip_dir / "nd.mov", 60, fps=NTSC, timecode="01:00:00:00")

    def tc(film, **keys):
        return open_film(load_session(session_file(tmp_path, film, **keys))).tc

    t = tc(df)                                          # the file's: drop-frame, as it is written
    assert (t.drop_frame, t.source, t.label(0), t.label(29), t.label(30)) == (
        True, "tmcd", "00:59:59;00", "00:59:59;29", "01:00:00;00")
    t = tc(df, drop_frame=False)                         # the session's drop_frame: the same frames, non-drop
    assert (t.drop_frame, t.label(0), t.start) == (False, "00:59:55:12", 107892 - 30)
    assert "written 00:59:59;00, labelled non-drop as the session's drop_frame says" in t.describe_source()
    t = tc(df, drop_frame=True)
    assert (t.drop_frame, t.label(0)) == (True, "00:59:59;00")
    t = tc(nd)                                          # a non-drop reel at 29.97 stays non-drop
    assert (t.drop_frame, t.label(0)) == (False, "01:00:00:00")
    t = tc(nd, drop_frame=True)                          # ... unless the session says drop-frame
    assert (t.drop_frame, t.label(0), t.start) == (True, "01:00:03;18", 108000)
    t = tc(df, start="02:00:00;00")                      # a session start, drop-frame from the file
    assert (t.drop_frame, t.source, t.label(0)) == (True, "session", "02:00:00;00")
    assert "drop-frame as the file's tmcd track is written" in t.describe_source()
    r = check(session_file(tmp_path, df, **{"in": "00:59:59;20", "out": "01:00:01;00"}))
    assert r.returncode == 0 and "timecode 00:59:59;00 at the first frame, drop-frame (from the file's tmcd track)" \
        in r.stdout, r.stderr
    # a label drop-frame skips is refused in a drop-frame reel's session, naming the key
    with pytest.raises(SessionError) as e:
        open_film(load_session(session_file(tmp_path, df, **{"in": "01:01:00;00"})))
    assert e.value.key == "film.in" and "does not exist in drop-frame" in str(e.value)


def test_a_drop_frame_timecode_on_a_film_that_cannot_have_one_is_named():
    from pathlib import Path

    from stage.film.decoder import FilmInfo
    from stage.film.timecode import TimecodeError
    info = FilmInfo(Path("r.mov"), Fraction(25), 320, 180, 16 / 9, 100, False,
                    EmbeddedTimecode("01:00:00;00", "tmcd"))
    with pytest.raises(TimecodeError, match="drop-frame, which exists only at 29.97 and 59.94") as e:
        film_timecode(info.fps, info.timecode)
    assert e.value.setting is None
    t = film_timecode(info.fps, info.timecode, drop_frame=False)       # the session can say otherwise
    assert t.label(0) == "01:00:00:00"
    with pytest.raises(TimecodeError) as e:
        film_timecode(info.fps, info.timecode, drop_frame=True)
    assert e.value.setting == "drop_frame"
    with pytest.raises(FilmError, match=r"past the end of the film: the film runs 01:00:00:00-01:00:03:24"):
        resolve_loop(info, "01:00:01:00", "01:00:04:01", film_timecode(info.fps, info.timecode, drop_frame=False))


# -- `stage run`: the frames played, labelled in the reel's timecode

def test_a_prores_reel_plays_its_loop_in_its_own_timecode(clip_dir, tmp_path):
    reel = make_reel(clip_dir / "reel.mov", 240)
    s = session_file(tmp_path, reel, **{"in": "01:00:02:00", "out": "01:00:03:12"})     # 36 frames, 1.5 s
    frames, snap = run_traced(s, tmp_path, 2.5)
    tc = TimecodeFormat(Fraction(24), start=86400)
    inside = {tc.label(f) for f in range(48, 84)}
    labels = [f["timecode"] for f in frames]
    assert set(labels) <= inside and {"01:00:02:00", "01:00:03:11"} <= set(labels)
    assert all(f["frame"] in range(48, 84) and tc.label(f["frame"]) == f["timecode"] for f in frames)
    seen = [f["frame"] for i, f in enumerate(frames) if i == 0 or f["frame"] != frames[i - 1]["frame"]]
    wraps = [i for i in range(1, len(seen)) if seen[i] < seen[i - 1]]
    assert len(wraps) == 1 and seen[wraps[0] - 1] == 83 and seen[wraps[0]] == 48        # out point -> in point
    assert all(b - a <= 2 for a, b in zip(seen, seen[1:]) if b > a)                   # on at 24 fps, in order
    # the picture on screen at the end is the frame the trace says
    from stage.film.decoder import fit_rect
    size = pygame.image.load(str(snap)).get_size()
    assert number_on_screen(snap, fit_rect(16 / 9, size)) == frames[-1]["frame"]


@pytest.mark.parametrize("start,loop,across", [
    ("00:59:59;00", ("00:59:59;20", "01:00:00;20"), ("00:59:59;29", "01:00:00;00")),    # a tenth minute: none skipped
    ("01:00:59;00", ("01:00:59;20", "01:01:00;22"), ("01:00:59;29", "01:01:00;02")),    # ;00 and ;01 skipped
])
def test_a_drop_frame_dnxhd_reel_plays_with_exact_labels(clip_dir, tmp_path, start, loop, across):
    reel = make_reel(clip_dir / "df.mov", 60, fps=NTSC, codec="dnxhd", timecode=start)
    assert tmcd_tracks(reel)[0]["tags"]["timecode"] == start
    s = session_file(tmp_path, reel, **{"in": loop[0], "out": loop[1]})
    frames, snap = run_traced(s, tmp_path, 1.6)
    truth = df_labels(start, 60)                         # the label of each frame of the file
    assert truth.index(loop[0]) == 20 and truth.index(loop[1]) == 50
    assert all(f["timecode"] == truth[f["frame"]] and 20 <= f["frame"] < 50 for f in frames)
    labels = [f["timecode"] for i, f in enumerate(frames) if i == 0 or f["timecode"] != frames[i - 1]["timecode"]]
    i = labels.index(across[0])
    assert labels[i + 1] == across[1]                    # the minute boundary, as SMPTE labels it
    from stage.film.decoder import fit_rect
    size = pygame.image.load(str(snap)).get_size()
    assert number_on_screen(snap, fit_rect(16 / 9, size)) == frames[-1]["frame"]
