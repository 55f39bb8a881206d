"""The actions an operator can take, from any source, and the queue that carries them."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

from .. import clock as _clock

# name -> what it does.
ACTIONS = {
    "toggle_play": "play / pause the film",
    "play": "play the film",
    "pause": "pause the film",
    "hud": "show / hide the studio HUD",
    "blackout": "picture to black / back (the show goes on underneath)",
    "nudge": "move the film by the argument in seconds (default one frame forward)",
    "marker": "tap a marker at the current film position",
    "next_cue": "the next cue (at the end of the pass, or at once: argument 1)",
    "prev_cue": "the previous cue (likewise)",
    "cue": "cue number N, from 1 (the argument); at once if a second argument is 1",
    "switch_now": "switch to the cue waiting at once, not at the end of the pass",
    "toggle_view": "studio view / performance view",
    "studio_view": "the studio view (lanes, HUD, streamers)",
    "performance_view": "the performance view (the players as artwork, no text)",
    "fade": "fade the film to black / back over two seconds (the players stay)",
    "sound": "the film's own sound on / off",
    "learn": "MIDI learn (with a [control] midi port): each time, the next action to bind; the next note or CC binds it",
    "record": "start / stop recording a take",
    "record_start": "start recording a take (if not recording)",
    "record_stop": "stop recording (the take is closed)",
    "ghost": "the ghost of the last pass in each lane, on / off",
}


@dataclass(frozen=True)
class Control:
    t: float            # when it arrived (CLOCK_MONOTONIC_RAW)
    action: str
    arg: float | None
    source: str         # "key", "midi PORT", "osc HOST:PORT"
    arg2: float | None = None


class ControlQueue:
    """Thread-safe, never blocks the sender; the draw loop drains it once per frame."""

    def __init__(self, clock=_clock.now):
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self.clock = clock
        self.received = 0
        self.unknown = 0
        self._count = threading.Lock()     # senders on several threads (MIDI, OSC, the window)

    def put(self, action: str, arg: float | None = None, source: str = "", arg2: float | None = None) -> bool:
        if action not in ACTIONS:
            with self._count:
                self.unknown += 1
            return False
        with self._count:
            self.received += 1
        self._q.put(Control(self.clock(), action, arg, source, arg2))
        return True

    def get(self, timeout: float) -> Control | None:
        """The next action, waiting up to ``timeout`` (queue.Empty if none came); None if only
        woken (see wake)."""
        return self._q.get(timeout=timeout)

    def wake(self) -> None:
        self._q.put(None)

    def drain(self):
        while True:
            try:
                c = self._q.get_nowait()
            except queue.Empty:
                return
            if c is not None:
                yield c
