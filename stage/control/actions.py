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


class BadArgument(ValueError):
    """An action's argument that it must never be given (what is wrong with it in the message)."""


NUDGE_MAX_S = 3600.0     # a nudge moves the film at most an hour either way


def _number(v, what: str) -> float:
    if isinstance(v, bool):
        return float(v)
    if not isinstance(v, (int, float)):
        raise BadArgument(f"{what} must be a number, got {type(v).__name__} {v!r}"[:120])
    x = float(v)
    if x != x or x in (float("inf"), float("-inf")):
        raise BadArgument(f"{what} must be a finite number, got {x}")
    return x


def _flag(v, what: str) -> float:
    x = _number(v, what)
    if x not in (0.0, 1.0):
        raise BadArgument(f"{what} is 0 or 1, got {x:g}")
    return x


def check_args(action: str, args, cues: int | None = None) -> tuple[float | None, float | None]:
    """The (arg, arg2) an action is given from ``args`` (what a message carried), or BadArgument:
    wrong type, NaN or infinite, out of range (a cue number past the session's ``cues``), too
    many. Actions that take no argument take none: numbers sent with them (a button's 1 and 0)
    are let go; anything else is an error."""
    args = list(args)
    if len(args) > 2:
        raise BadArgument(f"{action} takes at most two arguments, got {len(args)}")
    if action == "nudge":
        if len(args) > 1:
            raise BadArgument("nudge takes one argument, seconds")
        if not args:
            return None, None
        x = _number(args[0], "nudge's seconds")
        if abs(x) > NUDGE_MAX_S:
            raise BadArgument(f"a nudge is at most {NUDGE_MAX_S:g} s either way, got {x:g}")
        return x, None
    if action in ("next_cue", "prev_cue"):
        if len(args) > 1:
            raise BadArgument(f"{action} takes one argument, 1 for at once")
        return (_flag(args[0], f"{action}'s 'at once'") if args else None), None
    if action == "cue":
        if not args:
            raise BadArgument("cue needs the cue's number, from 1")
        x = _number(args[0], "the cue number")
        top = cues if cues is not None else 10000
        if x != int(x) or not 1 <= x <= top:
            raise BadArgument(f"the cue number runs 1-{top}, got {x:g}")
        return x, (_flag(args[1], "cue's 'at once'") if len(args) > 1 else None)
    for i, v in enumerate(args):
        _number(v, f"{action}'s argument")
    return None, None


@dataclass(frozen=True)
class Control:
    t: float            # when it arrived (CLOCK_MONOTONIC_RAW)
    action: str
    arg: float | None
    source: str         # "key", "midi PORT", "osc HOST:PORT"
    arg2: float | None = None


class ControlQueue:
    """Thread-safe, never blocks the sender; the draw loop drains it once per frame. Every
    action passes :func:`check_args` on its way in (``cues``: how many the session has):
    an unknown action or a bad argument is counted (``unknown``, ``rejected``) and dropped."""

    def __init__(self, clock=_clock.now, cues: int | None = None):
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self.clock = clock
        self.cues = cues
        self.received = 0
        self.unknown = 0
        self.rejected = 0
        self._count = threading.Lock()     # senders on several threads (MIDI, OSC, the window)

    def put(self, action: str, arg: float | None = None, source: str = "", arg2: float | None = None,
            t: float | None = None) -> bool:
        if action not in ACTIONS:
            with self._count:
                self.unknown += 1
            return False
        try:
            arg, arg2 = check_args(action, [] if arg is None and arg2 is None else [arg] if arg2 is None
                                   else [arg, arg2], self.cues)
        except BadArgument:
            with self._count:
                self.rejected += 1
            return False
        with self._count:
            self.received += 1
        self._q.put(Control(self.clock() if t is None else t, action, arg, source, arg2))
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
