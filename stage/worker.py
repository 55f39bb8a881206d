"""One lifecycle for every background thread: daemon, an Event to stop it, start(), stop()
joins. Subclasses write ``_run`` and watch ``_stop``."""

from __future__ import annotations

import threading


class Worker:
    thread_name = "stage-worker"

    def _init_worker(self, name: str | None = None) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name or self.thread_name, daemon=True)

    def _run(self) -> None:  # pragma: no cover - subclasses do the work
        raise NotImplementedError

    def _wake(self) -> None:
        """Wake the thread from whatever it waits on (subclasses that block elsewhere)."""

    def start(self):
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._wake()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=timeout)
