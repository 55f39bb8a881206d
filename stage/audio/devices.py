"""Audio devices by name or index (PortAudio through sounddevice)."""

from __future__ import annotations

import contextlib
import os
import threading

os.environ.setdefault("JACK_NO_START_SERVER", "1")     # never spawn a JACK server by surprise


@contextlib.contextmanager
def quiet_stderr():
    """Hide what C libraries print while they look for devices (ALSA without a sound card,
    JACK without a server): their complaints are about sound systems that are not in use.
    What stage finds, or fails to find, it reports itself."""
    if os.environ.get("STAGE_DEBUG_AUDIO"):
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


with quiet_stderr():
    import sounddevice as sd  # noqa: E402  (initialises PortAudio: every host API is probed)


# PortAudio is not thread-safe: every call that opens, starts, closes or lists streams or devices
# holds this lock (a film sound opening on its thread while the input opens on the main one
# could otherwise lose one of the two). Callbacks never take it.
PA_LOCK = threading.RLock()


class DeviceError(LookupError):
    """A device that is not there or will not open as asked; ``setting`` names what was refused
    ("device", or "samplerate" when the device runs at another rate)."""

    def __init__(self, message: str, setting: str = "device"):
        super().__init__(message)
        self.setting = setting


def _hostapi_name(i: int) -> str:
    try:
        return sd.query_hostapis(i)["name"]
    except Exception:
        return "?"


def list_audio() -> list[dict]:
    with PA_LOCK:
        return [{"index": d["index"], "name": d["name"], "hostapi": _hostapi_name(d["hostapi"]),
                 "inputs": d["max_input_channels"], "outputs": d["max_output_channels"],
                 "samplerate": d["default_samplerate"]} for d in sd.query_devices()]


def describe(kind: str) -> str:
    devs = [d for d in list_audio() if d[kind] > 0]
    if not devs:
        return f"no audio {kind} at all on this machine"
    return "; ".join(f"[{d['index']}] {d['name']} ({d['hostapi']}, {d[kind]} ch)" for d in devs)


def resolve(spec, kind: str = "inputs", min_channels: int = 1) -> dict:
    """A device by index or by a part of its name (case-insensitive). Raises DeviceError
    naming the devices that are there."""
    devs = [d for d in list_audio() if d[kind] > 0]
    if spec is None:
        try:
            idx = sd.default.device[0 if kind == "inputs" else 1]
            if idx is None or idx < 0:
                raise ValueError
            d = next(d for d in devs if d["index"] == idx)
        except (ValueError, StopIteration, sd.PortAudioError):
            if not devs:
                raise DeviceError(f"no default audio {kind[:-1]}: {describe(kind)}") from None
            d = devs[0]
    elif isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        idx = int(spec)
        found = [d for d in devs if d["index"] == idx]
        if not found:
            raise DeviceError(f"audio {kind[:-1]} {idx} is not there; the {kind} are: {describe(kind)}")
        d = found[0]
    else:
        found = [d for d in devs if spec.lower() in d["name"].lower()]
        if not found:
            raise DeviceError(f"no audio {kind[:-1]} named {spec!r}; the {kind} are: {describe(kind)}")
        exact = [d for d in found if d["name"].lower() == spec.lower()]
        d = (exact or found)[0]
    if d[kind] < min_channels:
        raise DeviceError(f"{d['name']!r} has {d[kind]} {kind[:-1]} channels, the session needs {min_channels}; "
                          f"the {kind} are: {describe(kind)}")
    return d


WEDGED = False     # PortAudio stopped answering (its server died under it): exit without Pa_Terminate


def bounded(fn, timeout: float = 1.0) -> bool:
    """Run ``fn`` in a daemon thread and wait at most ``timeout``; True if it finished.
    PortAudio can block for good when its JACK server dies under a stream; the show goes on."""
    global WEDGED
    import threading
    t = threading.Thread(target=fn, name="stage-pa-call", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        WEDGED = True
        return False
    return True


def reinitialize() -> None:
    """Ask PortAudio to look for devices again (one that was unplugged may be back)."""
    with PA_LOCK, quiet_stderr():
        try:
            sd._terminate()
        finally:
            sd._initialize()
