"""`stage run` as a user starts it, from a test or a benchmark."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .rig import PA_IN, Injector, wait_connected


def stage_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "stage.cli", *map(str, args)]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StageRun:
    """``stage run SESSION --seconds N --trace T`` in a process of its own, headless (or in a
    window on ``display``), on the JACK server ``jack`` (None: on none at all).

    ``inject=n``: a second JACK client takes over the first ``n`` inputs stage opens (PortAudio's
    own connections to system:capture_* are undone) and plays into them (``run.injector``).
    ``midi_ports``: MIDI ports stage should connect to before the run goes on (waited for).
    Used as a context manager, the run is waited for (or killed) on leaving; then ``ok``,
    ``stats`` (the JSON it printed), ``frames`` (the trace) and ``stderr`` tell what happened."""

    def __init__(self, session, seconds: float, jack: str | None = None, inject: int = 0, extra=(),
                 display: str | None = None, size=None, env=None, midi_ports=(), timeout: float = 60.0,
                 trace: Path | None = None, silent: bool = True, cwd=None, ready: bool = True):
        self.session, self.seconds, self.jack = Path(session), seconds, jack
        self.inject, self.midi_ports, self.timeout = inject, list(midi_ports), timeout
        self.trace_path = trace or Path(tempfile.mkdtemp(prefix="stage-run-")) / "trace.jsonl"
        args = ["run", self.session, "--seconds", seconds, "--trace", self.trace_path, *extra]
        self.env = dict(os.environ, JACK_NO_START_SERVER="1", SDL_AUDIODRIVER="dummy", **(env or {}))
        self.env["JACK_DEFAULT_SERVER"] = jack or "stage-no-jack-here"
        if display is None:
            self.env["SDL_VIDEODRIVER"] = "dummy"
            args.append("--headless")
        else:
            self.env.update(DISPLAY=display, SDL_VIDEODRIVER="x11", SDL_FRAMEBUFFER_ACCELERATION="0")
            args.append("--windowed")
        if size:
            args += ["--size", f"{size[0]}x{size[1]}"]
        if silent:
            args.append("--silent")
        self.args = stage_cmd(*args)
        self.cwd = cwd
        self.ready = ready
        self.proc = None
        self.injector = None
        self.stdout = self.stderr = ""
        self.returncode = None

    def __enter__(self) -> "StageRun":
        if self.inject:
            self.injector = Injector(self.jack, self.inject)
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, cwd=self.cwd)
        try:
            if self.inject:
                try:
                    self.injector.take_over(self.injector.wait_for_ports(PA_IN, self.inject))
                except TimeoutError as e:
                    raise RuntimeError(f"{e}; stage printed: {self._kill_and_read()}") from None
            if self.midi_ports:
                import jack
                watcher = jack.Client("stage-run-watch", servername=self.jack, no_start_server=True)
                try:
                    for port in self.midi_ports:
                        if not wait_connected(watcher, port):
                            raise RuntimeError(f"stage did not connect to {port}; it printed: {self._kill_and_read()}")
                finally:
                    watcher.close()
            if self.ready:
                self.wait_running()
        except BaseException:
            self._cleanup()
            raise
        return self

    def wait_running(self, timeout: float = 30.0) -> None:
        """Until stage has shown its first frame (the trace has a line), so what the test sends
        next reaches a running show (its OSC port bound, its controller listening)."""
        t_end = time.monotonic() + timeout
        while time.monotonic() < t_end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"stage exited ({self.proc.returncode}): {self.proc.communicate()[1]}")
            try:
                with open(self.trace_path, encoding="utf-8") as f:
                    if f.readline().endswith("\n"):
                        return
            except FileNotFoundError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"stage showed no frame in {timeout} s; it printed: {self._kill_and_read()}")

    def _kill_and_read(self) -> str:
        self.proc.kill()
        return self.proc.communicate()[1]

    def wait(self) -> "StageRun":
        self.stdout, self.stderr = self.proc.communicate(timeout=self.seconds + self.timeout)
        self.returncode = self.proc.returncode
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None and self.returncode is None:
                self.wait()
        finally:
            self._cleanup()
        return False

    def _cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.stdout, self.stderr = self.proc.communicate()
            self.returncode = self.proc.returncode
        if self.injector is not None:
            self.injector.close()
            self.injector = None

    # -- what happened
    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def stats(self) -> dict:
        return json.loads(self.stdout.strip().splitlines()[-1])

    @property
    def frames(self) -> list[dict]:
        return [json.loads(line) for line in self.trace_path.read_text().splitlines()]
