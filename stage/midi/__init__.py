"""MIDI: ports by name on every compiled rtmidi API."""
