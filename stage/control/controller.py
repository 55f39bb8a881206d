"""The show's controller: the one thread that acts.

Every action, from the keyboard (the window puts key presses on the control queue), a MIDI
controller or OSC, reaches :class:`Controller` through one queue. It moves the transport
(play, pause, nudge), tells the cue director which cue is next, keeps the MTC chase on the
code, and owns what the picture shows (:class:`ViewState`: the view, HUD, blackout, the fade),
published as one immutable snapshot that the draw loop reads once per frame. The draw loop
itself drives nothing.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass, replace

from .. import clock as _clock
from ..worker import Worker
from .actions import ACTIONS, Control

FADE_S = 2.0              # seconds for the film to fade to black or back


@dataclass(frozen=True)
class ViewState:
    """What the picture shows, apart from the film's place (the transport) and the players."""
    view: str = "studio"           # "studio" or "performance"
    hud: bool = False
    blackout: bool = False
    fade_from: float = 0.0         # the fade: from this (1 = black) at fade_t0 toward fade_to
    fade_to: float = 0.0
    fade_t0: float = 0.0
    markers: tuple = ()            # (file frame, clock time) of each marker tapped
    learn: str | None = None       # MIDI learn: the action the next message binds
    learned: str = ""              # the last binding learned, as the HUD says it
    ghost: bool = True             # the ghost of the last pass in the lanes

    def fade_at(self, t: float) -> float:
        """How far the film is faded to black at clock time ``t`` (0 to 1)."""
        span = abs(self.fade_to - self.fade_from) * FADE_S
        if span <= 0 or t >= self.fade_t0 + span:
            return self.fade_to
        k = max(0.0, (t - self.fade_t0) / span)
        return self.fade_from + (self.fade_to - self.fade_from) * k


class Controller(Worker):
    """Drains the control queue and applies each action; runs the director's and the chase's
    upkeep between actions. ``view`` is the published ViewState."""

    def __init__(self, controls, transport, director=None, chase=None, sound_toggle=None,
                 midi_control=None, view: ViewState = ViewState(), clock=_clock.now, period: float = 0.004,
                 recorder=None):
        self.controls, self.transport, self.director, self.chase = controls, transport, director, chase
        self.sound_toggle, self.midi_control, self.clock, self.period = sound_toggle, midi_control, clock, period
        self.recorder = recorder
        self.view = view
        self.applied = 0
        self._init_worker("stage-controller")

    def _wake(self):
        self.controls.wake()

    def _run(self):
        while not self._stop.is_set():
            try:
                c = self.controls.get(self.period)
            except queue.Empty:
                c = None
            if c is not None:
                self.apply(c)
            self.upkeep()

    def upkeep(self, t: float | None = None) -> None:
        t = self.clock() if t is None else t
        if self.chase is not None:
            self.chase.update(self.transport, t)
        if self.director is not None:
            self.director.tick(t)
        mc = self.midi_control
        if mc is not None and mc.learned and self.view.learned != self._learned_text(mc):
            self.view = replace(self.view, learn=mc.learn, learned=self._learned_text(mc))

    @staticmethod
    def _learned_text(mc) -> str:
        m = mc.learned[-1]
        return f"{m.action} = " + (f"CC {m.cc}" if m.cc is not None else f"note {m.note}")

    def drain(self) -> int:
        """Apply every action waiting (tests drive the controller this way, without its thread)."""
        n = 0
        for c in self.controls.drain():
            self.apply(c)
            n += 1
        self.upkeep()
        return n

    def apply(self, c: Control) -> None:
        """One action, from whichever source."""
        self.applied += 1
        v, tr, t = self.view, self.transport, self.clock()
        a = c.action
        if a == "hud":
            self.view = replace(v, hud=not v.hud)
        elif a == "blackout":
            self.view = replace(v, blackout=not v.blackout)
        elif a in ("toggle_view", "studio_view", "performance_view"):
            view = {"studio_view": "studio", "performance_view": "performance"}.get(
                a, "performance" if v.view == "studio" else "studio")
            self.view = replace(v, view=view)
        elif a == "fade":
            now = v.fade_at(t)
            self.view = replace(v, fade_from=now, fade_to=0.0 if v.fade_to else 1.0, fade_t0=t)
        elif a == "marker":
            self.view = replace(v, markers=v.markers + ((tr.at(c.t).frame, c.t),))
        elif a == "learn":
            mc = self.midi_control
            if mc is not None:
                names = [n for n in ACTIONS if n != "learn"]
                i = names.index(mc.learn) + 1 if mc.learn in names else 0
                mc.learn = names[i] if i < len(names) else None
                self.view = replace(v, learn=mc.learn, hud=True)
        elif a == "sound":
            if self.sound_toggle is not None:
                self.sound_toggle()
        elif a == "ghost":
            self.view = replace(v, ghost=not v.ghost)
        elif a in ("record", "record_start", "record_stop"):
            r = self.recorder
            if r is not None:              # (it acts on its own thread: the disk never waits here)
                if a == "record_start" or (a == "record" and not r.recording):
                    r.start(at=c.t)          # from the moment it was asked for
                else:
                    r.stop()
        elif a == "toggle_play":
            tr.toggle(t)
        elif a == "play":
            tr.play(t)
        elif a == "pause":
            tr.pause(t)
        elif a == "nudge":
            p = tr.at(t)
            tr.nudge(c.arg if c.arg is not None else 1.0 / p.fps, t)
        elif self.director is None:
            return
        elif a in ("next_cue", "prev_cue"):
            self.director.step(1 if a == "next_cue" else -1, now=bool(c.arg))
        elif a == "cue":
            if c.arg is not None:
                self.director.select(int(c.arg) - 1, now=bool(c.arg2))
        elif a == "switch_now":
            self.director.switch_now()
