"""Synthesized test signals: harmonic tones, glides, vibrato, noise."""

import numpy as np

SR = 48000


def tone(f0, seconds=1.0, amp=0.3, sr=SR, harmonics=(1.0, 0.5, 0.25, 0.12)):
    t = np.arange(int(seconds * sr)) / sr
    x = sum(a * np.sin(2 * np.pi * f0 * (k + 1) * t) for k, a in enumerate(harmonics))
    return (amp * x / sum(harmonics)).astype(np.float32)


def glide(f_start, f_end, seconds=2.0, amp=0.3, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    f = f_start * (f_end / f_start) ** (t / seconds)          # exponential: even in cents
    phase = 2 * np.pi * np.cumsum(f) / sr
    x = np.sin(phase) + 0.5 * np.sin(2 * phase) + 0.25 * np.sin(3 * phase)
    return (amp * x / 1.75).astype(np.float32), f


def vibrato(f0, cents=30, rate=5.5, seconds=2.0, amp=0.3, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    f = f0 * 2 ** (cents / 1200 * np.sin(2 * np.pi * rate * t))
    phase = 2 * np.pi * np.cumsum(f) / sr
    x = np.sin(phase) + 0.4 * np.sin(2 * phase)
    return (amp * x / 1.4).astype(np.float32), f
