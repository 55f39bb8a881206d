"""MIDI ports, listed on every rtmidi API compiled in (ALSA, JACK, ...)."""

from __future__ import annotations

import rtmidi


def list_ports() -> list[dict]:
    out = []
    for api in rtmidi.get_compiled_api():
        name = rtmidi.get_api_display_name(api)
        for kind, cls in (("input", rtmidi.MidiIn), ("output", rtmidi.MidiOut)):
            try:
                m = cls(api, name="stage-list")
            except Exception as e:       # e.g. no JACK server running
                out.append({"api": name, "kind": kind, "index": None, "name": None, "error": str(e)})
                continue
            try:
                for i, p in enumerate(m.get_ports()):
                    out.append({"api": name, "kind": kind, "index": i, "name": p, "error": None})
            finally:
                m.delete()
    return out
