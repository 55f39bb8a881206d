"""An OSC flood from outside: raw UDP packets at a steady rate, a mix of valid control messages,
malformed packets, unknown addresses and known actions with bad arguments.

    python -m stage_testing.flood HOST PORT --rate 10000 --seconds 10

prints, as one JSON line, how many packets of each kind it sent. The valid ones are
``/stage/studio_view`` (the picture does not change), so a run under the flood shows what the
flood costs, not what the actions do."""

from __future__ import annotations

import argparse
import itertools
import json
import socket
import struct
import sys
import time


def _s(text: str) -> bytes:
    b = text.encode() + b"\0"
    return b + b"\0" * (-len(b) % 4)


def message(address: str, *args) -> bytes:
    """An OSC message, built here by hand (not by the library under test)."""
    tags, data = ",", b""
    for a in args:
        if isinstance(a, bool):
            tags += "T" if a else "F"
        elif isinstance(a, int):
            tags, data = tags + "i", data + struct.pack(">i", a)
        elif isinstance(a, float):
            tags, data = tags + "f", data + struct.pack(">f", a)
        elif isinstance(a, bytes):
            tags, data = tags + "b", data + struct.pack(">i", len(a)) + a + b"\0" * (-len(a) % 4)
        else:
            tags, data = tags + "s", data + _s(str(a))
    return _s(address) + _s(tags) + data


VALID = [message("/stage/studio_view")]
MALFORMED = [
    b"\x00\x01garbage",                                    # not OSC
    b"/stage/hud\x00\x00,i\x00\x00\x00",                   # an int promised, none there
    b"/stage/cue",                                         # no terminator
    b"#bundle\x00" + b"\xff" * 7,                          # a bundle cut short
    _s("/stage/nudge") + _s(",f") + b"\x01",               # a float of one byte
    bytes(range(256)) * 2,                                 # noise
    b"",                                                   # nothing
]
UNKNOWN = [message("/stage/warp"), message("/elsewhere", 1), message("/stage/next_cue/deeper"),
           message("/stage/hud2", 1.0)]
BAD_ARGS = [
    message("/stage/cue", float("nan")),                   # NaN
    message("/stage/cue", 99),                             # out of range (the session has 2 cues)
    message("/stage/cue", 0),                              # cues count from 1
    message("/stage/cue", -3),
    message("/stage/cue", 1.5),                            # not a whole number
    message("/stage/cue", "2"),                            # a string
    message("/stage/cue"),                                 # no cue at all
    message("/stage/nudge", float("inf")),
    message("/stage/nudge", 1e30),
    message("/stage/nudge", b"\x00\x01"),                  # a blob
    message("/stage/next_cue", 7),                         # 'at once' is 0 or 1
    message("/stage/cue", 1, 1, 1),                        # three arguments
]
KINDS = {"valid": VALID, "malformed": MALFORMED, "unknown": UNKNOWN, "bad_args": BAD_ARGS}


def flood(host: str, port: int, rate: float, seconds: float, mix=("valid", "malformed", "unknown", "bad_args")):
    """Send ``rate`` packets a second for ``seconds``, cycling through ``mix``; returns the
    counts sent by kind and the rate reached."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    cycle = itertools.cycle([(k, p) for i in range(max(len(v) for v in KINDS.values()))
                             for k in mix for p in [KINDS[k][i % len(KINDS[k])]]])
    sent = {k: 0 for k in mix}
    errors = 0
    t0 = time.monotonic()
    n = 0
    total = int(rate * seconds)
    while n < total:
        due = int((time.monotonic() - t0) * rate) + 1        # what should have gone by now
        while n < min(due, total):
            kind, pkt = next(cycle)
            try:
                sock.sendto(pkt, (host, port))
                sent[kind] += 1
            except OSError:
                errors += 1
            n += 1
        time.sleep(0.0005)
    took = time.monotonic() - t0
    sock.close()
    return {"sent": sent, "total": sum(sent.values()), "errors": errors, "seconds": round(took, 3),
            "rate": round(sum(sent.values()) / took, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m stage_testing.flood")
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--rate", type=float, default=10000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--mix", default="valid,malformed,unknown,bad_args")
    a = ap.parse_args(argv)
    print(json.dumps(flood(a.host, a.port, a.rate, a.seconds, tuple(a.mix.split(",")))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
