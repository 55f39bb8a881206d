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
    """A device that is not there or will not open as asked; ``setting`` names what was refused:
    "device", "samplerate" (the device runs at another rate), "channels" (it has fewer) or
    "blocksize" (it would not take that many frames a callback)."""

    def __init__(self, message: str, setting: str = "device"):
        super().__init__(message)
        self.setting = setting


def _hostapi_name(i: int) -> str:
    try:
        return sd.query_hostapis(i)["name"]
    except Exception:
        return "?"


_streams = 0      # streams this process has open itself (the capture process has its own PortAudio)


def ensure() -> None:
    """PortAudio initialised in this process (it is at import; after let_go() it may not be)."""
    with PA_LOCK:
        if sd._initialized == 0:
            with quiet_stderr():
                sd._initialize()


def let_go() -> None:
    """Terminate this process's PortAudio while it has no stream open: under JACK it is a client
    of the server, and a PortAudio whose server died aborts the process when it terminates
    (at exit). The live input is captured by a process of its own, so the show does not need it."""
    with PA_LOCK:
        if _streams == 0:
            while sd._initialized:
                try:
                    sd._terminate()
                except sd.PortAudioError:
                    break


def opened(stream) -> None:
    """Count a stream this process opened (PortAudio stays initialised while any is open)."""
    global _streams
    with PA_LOCK:
        _streams += 1


def closed(stream) -> None:
    global _streams
    with PA_LOCK:
        _streams = max(0, _streams - 1)


def list_audio() -> list[dict]:
    ensure()
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
        raise DeviceError(_channels_refused(d, min_channels, kind), "channels")
    return d


# -- what a device will not do, said with what it will -----------------------------------------

PROBE_RATES = (22050, 32000, 44100, 48000, 88200, 96000, 192000)
JACK = "JACK Audio Connection Kit"


def _io(kind: str) -> str:
    return "input" if kind == "inputs" else "output"


def _channels_refused(d: dict, channels: int, kind: str = "inputs") -> str:
    most = d[kind]
    return (f"audio.{_io(kind)} {d['name']!r}: {channels} channels refused; this device has at most {most} "
            f"{_io(kind)} channels" + (f" (players' channels 1-{most})" if kind == "inputs" else "") + (
                f" (under JACK: the server's {'-C' if kind == 'inputs' else '-P'} count)" if d.get("hostapi") == JACK
                else ""))


def rates(d: dict, kind: str = "inputs") -> list[int]:
    """The sample rates the device accepts, of the usual ones (under JACK: the server's only)."""
    check = sd.check_input_settings if kind == "inputs" else sd.check_output_settings
    out = []
    with PA_LOCK, quiet_stderr():
        for r in PROBE_RATES:
            try:
                check(device=d["index"], channels=1, samplerate=r, dtype="float32")
                out.append(r)
            except (sd.PortAudioError, ValueError):
                pass
    return out


def period(d: dict, kind: str = "inputs") -> int | None:
    """Under JACK, the server's period in frames (its low latency is one period); else None."""
    if d.get("hostapi") != JACK:
        return None
    with PA_LOCK:
        info = sd.query_devices(d["index"])
    lat = info["default_low_input_latency" if kind == "inputs" else "default_low_output_latency"]
    return int(round(lat * d["samplerate"])) or None


def refusal(d: dict, samplerate: int, channels: int, blocksize: int, error=None, kind: str = "inputs") -> DeviceError:
    """Why the device ``d`` will not open at this rate, channel count and block size, as a
    DeviceError that says what it accepts; ``error`` is what PortAudio said, if it said."""
    name, io = d["name"], _io(kind)
    if channels > d[kind]:
        return DeviceError(_channels_refused(d, channels, kind), "channels")
    ok = rates(d, kind)
    jack = d.get("hostapi") == JACK
    if samplerate not in ok:
        if jack or len(ok) == 1:
            runs = f"this device runs at {ok[0] if ok else int(d['samplerate'])} Hz" + (
                " (under JACK the server's rate)" if jack else "")
        elif ok:
            runs = f"this device accepts {', '.join(map(str, ok))} Hz"
        else:
            runs = f"this device accepts none of {', '.join(map(str, PROBE_RATES))} Hz"
        fix = ok[0] if len(ok) == 1 else int(d["samplerate"])
        return DeviceError(f"audio.{io} {name!r}: {samplerate} Hz refused; {runs}: set audio.samplerate = {fix} "
                           f"or leave it out (the device's own rate)", "samplerate")
    said = f": {error}" if error else ""
    p = period(d, kind)
    accepts = (f"it accepts {', '.join(map(str, ok))} Hz, up to {d[kind]} channels"
               + (f"; under JACK the server's period is {p} frames" if p else ""))
    if error is not None and any(w in str(error).lower() for w in ("buffer", "block", "frames per")):
        return DeviceError(f"audio.{io} {name!r}: block {blocksize} refused{said}; audio.blocksize may be "
                           f"64, 128, 256, 512, 1024 or 2048 ({accepts})", "blocksize")
    return DeviceError(f"audio.{io} {name!r}: will not open at {samplerate} Hz, {channels} ch, block {blocksize}"
                       f"{said} ({accepts})", "device")


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
