"""Testing `stage` as its users run it: a JACK dummy server, Xvfb, JACK clients that play into
stage's inputs or listen to its outputs, and :class:`StageRun`, a running `stage run` with
its trace and statistics. For the tests and the benchmarks (needs the [test] extra); the
shipped program never imports it."""

from .rig import (PA_IN, PA_OUT, Injector, Listener, start_jack, start_xvfb, stop, wait_connected,
                  wait_for_jack, wait_for_ports)
from .run import StageRun, free_udp_port, stage_cmd

__all__ = ["PA_IN", "PA_OUT", "Injector", "Listener", "StageRun", "free_udp_port", "stage_cmd", "start_jack",
           "start_xvfb", "stop", "wait_connected", "wait_for_jack", "wait_for_ports"]
