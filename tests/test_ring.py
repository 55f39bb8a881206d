import numpy as np

from stage.audio.ring import Ring


def test_ring_keeps_samples_across_the_wrap():
    r = Ring(2, 1000, seconds=1.0)          # capacity 1024
    played = np.arange(5000, dtype=np.float32)
    block = 100
    t = 10.0
    got = []
    cursor = 0
    for i in range(0, 5000, block):
        b = np.stack([played[i:i + block], -played[i:i + block]], axis=1)
        t += block / 1000
        r.write(b, t)
        while cursor + 64 <= r.written:
            got.append(r.view(0, cursor, 64).copy())
            assert np.array_equal(r.view(1, cursor, 64), -got[-1])
            cursor += 64
    got = np.concatenate(got)
    assert np.array_equal(got, played[:len(got)])


def test_capture_time_of_any_sample():
    r = Ring(1, 48000)
    for k in range(10):
        r.write(np.zeros((256, 1), np.float32), 100.0 + (k + 1) * 256 / 48000 - 1 / 48000)
    # the last sample of the 4th block
    assert abs(r.time_of(4 * 256) - (100.0 + 4 * 256 / 48000 - 1 / 48000)) < 1e-9
    # the middle of the 7th block
    assert abs(r.time_of(6 * 256 + 128) - (100.0 + (6 * 256 + 128) / 48000 - 1 / 48000)) < 1e-9
