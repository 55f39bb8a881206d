"""The master clock the film (and everything drawn over it) follows."""

from __future__ import annotations

from .. import clock as _clock


class FilmClock:
    """Seconds of film since the loop started (counting every pass), on a time source that is
    passed in, so tests can drive it. Play, pause and nudge act on it; nothing else does."""

    def __init__(self, time_fn=_clock.now, playing: bool = True):
        self.time_fn = time_fn
        self._base = 0.0                 # position when the clock was last (re)anchored
        self._anchor = time_fn()
        self.playing = playing

    def position(self) -> float:
        if not self.playing:
            return self._base
        return self._base + (self.time_fn() - self._anchor)

    def _reanchor(self, pos: float) -> None:
        self._base = max(0.0, pos)
        self._anchor = self.time_fn()

    def play(self) -> None:
        if not self.playing:
            self._reanchor(self._base)
            self.playing = True

    def pause(self) -> None:
        if self.playing:
            self._reanchor(self.position())
            self.playing = False

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def nudge(self, seconds: float) -> None:
        self._reanchor(self.position() + seconds)

    def restart(self, pos: float = 0.0) -> None:
        self._reanchor(pos)
