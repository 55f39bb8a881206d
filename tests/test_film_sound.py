"""The film's own sound: muted by default, and when on, heard in step with the picture."""

import time

import numpy as np
import pytest

from stage.film.decoder import probe
from stage.film.sound import decode_loop_audio
from stage.film.synth import make_numbered_clip

from stage_testing import PA_IN, PA_OUT, StageRun



def dominant_hz(x, sr=48000):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.argmax(spec) * sr / len(x)


def test_the_loops_sound_is_decoded_for_exactly_the_loop(clip_dir):
    path = make_numbered_clip(clip_dir / "snd.mp4", 96, tone_hz=660.0)
    info = probe(path)
    assert info.has_audio
    x = decode_loop_audio(info, (24, 72), 48000)
    assert x.shape == (96000, 2)                                  # 2.0 s at 48 kHz
    assert dominant_hz(x[10000:58000, 0]) == pytest.approx(660.0, abs=2)


SESSION = """
[film]
file = "{film}"
sound = {sound}

[audio]
input = "system"
samplerate = 48000

[[players]]
name = "Horn"
channel = 1
"""


@pytest.mark.parametrize("sound", [False, True])
def test_film_sound_is_off_unless_asked_for(jack_server, tmp_path, sound):
    from stage_testing.rig import Listener
    film = make_numbered_clip(tmp_path / "f.mp4", 120, size=(160, 90), tone_hz=660.0)
    session = tmp_path / "s.toml"
    session.write_text(SESSION.format(film=film, sound="true" if sound else "false"))
    lis = Listener(jack_server, 2, seconds=8)
    try:
        with StageRun(session, 3.5, jack=jack_server, silent=False) as run:
            try:
                if sound:
                    lis.listen_to(lis.wait_for_ports(PA_OUT, 2))
                else:
                    # the input is open (the run is under way) ...
                    lis.wait_for_ports(PA_IN, 1, inputs=True)
                    time.sleep(1.0)
                    ports = lis.new_ports(PA_OUT)                        # ... and nothing plays
            except TimeoutError as e:
                pytest.fail(f"{e}; stage printed: {run._kill_and_read()}")
    finally:
        lis.close()
    assert run.ok, run.stderr
    if sound:
        heard = lis.recorded()
        assert len(heard) > 48000
        tail = heard[-48000:, 0]
        assert 20 * np.log10(np.sqrt(np.mean(tail ** 2)) + 1e-12) > -30
        assert dominant_hz(tail) == pytest.approx(660.0, abs=3)
    else:
        assert ports == []                                          # no output opened at all
