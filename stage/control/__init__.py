"""Control: keyboard, MIDI and OSC map to the same actions, which reach the draw loop through
one queue drained once per frame."""

from .actions import ACTIONS, Control, ControlQueue

__all__ = ["ACTIONS", "Control", "ControlQueue"]
