"""MIDI ports, listed on every rtmidi API compiled in (ALSA, JACK, ...)."""

from __future__ import annotations

import rtmidi

from ..audio.devices import quiet_stderr


def list_ports() -> dict[str, dict]:
    """{api name: {"input": [names], "output": [names], "error": None or why it is unavailable}}
    for every rtmidi API compiled in."""
    with quiet_stderr():
        return _list_ports()


def _list_ports() -> dict[str, dict]:
    out: dict[str, dict] = {}
    for api in rtmidi.get_compiled_api():
        entry = out.setdefault(rtmidi.get_api_display_name(api), {"input": [], "output": [], "error": None})
        for kind, cls in (("input", rtmidi.MidiIn), ("output", rtmidi.MidiOut)):
            try:
                m = cls(api, name="stage-list")
            except Exception as e:       # e.g. no JACK server running, no ALSA sequencer
                entry["error"] = str(e).strip()
                continue
            try:
                entry[kind] = list(m.get_ports())
            finally:
                m.delete()
    return out
