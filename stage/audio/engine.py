"""The analysis thread: fixed hops from the ring, one analyzer per player, results to feeds."""

from __future__ import annotations

import os
import select
import time

from .. import clock as _clock
from ..worker import Worker
from .analysis import AnalysisSettings, PlayerAnalyzer
from .ring import Ring
from .state import InputStatus, PlayerFeed


class Doorbell:
    """Wakes the analysis thread from the audio callback without a lock: a byte on a
    non-blocking pipe (a full pipe just means the reader is already due to wake)."""

    def __init__(self):
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)

    @property
    def write_fd(self) -> int:
        """The end another process rings (the capture process inherits it)."""
        return self._w

    def ring(self) -> None:
        try:
            os.write(self._w, b"\0")
        except (BlockingIOError, OSError):
            pass

    def wait(self, timeout: float) -> None:
        try:
            r, _, _ = select.select([self._r], [], [], timeout)
            if r:
                os.read(self._r, 4096)
        except BlockingIOError:
            pass
        except (OSError, ValueError):      # closed under us (the input stopped): no more to wait for
            time.sleep(timeout)

    def close(self) -> None:
        """Close both ends, once (a second close must not close a descriptor reused since)."""
        fds, self._r, self._w = (self._r, self._w), -1, -1
        for fd in fds:
            if fd < 0:
                continue
            try:
                os.close(fd)
            except OSError:
                pass


MAX_BEHIND_S = 0.5     # the analysis this far behind the sound goes on from the newest instead


class AnalysisThread(Worker):
    """Takes hops from ``ring`` and runs each player's analyzer on its channel.

    ``channels[i]`` is the ring channel (0-based) of player i. Lifecycle: start(), stop().
    """

    def __init__(self, ring: Ring, players, feeds: list[PlayerFeed], channels: list[int],
                 hop: int, doorbell: Doorbell, status: InputStatus,
                 settings: AnalysisSettings = AnalysisSettings(), clock=_clock.now):
        self.ring, self.feeds, self.channels, self.hop = ring, feeds, channels, hop
        self.doorbell, self.status, self.clock = doorbell, status, clock
        self.analyzers = [PlayerAnalyzer(ring.samplerate, hop, p.lowest, p.highest, settings,
                                         getattr(p, "gain_db", 0.0), getattr(p, "noise_floor", None))
                          for p in players]
        self.cursor = 0
        self.hops = 0
        self.skipped = 0           # hops left out to catch up with the present
        self.max_behind = int(MAX_BEHIND_S * ring.samplerate)
        self.busy_s = 0.0          # CPU-ish time spent analysing (wall time inside process())
        from ..faults import seconds
        self.slow = seconds("slow_analysis")
        self._init_worker("stage-analysis")

    def _wake(self):
        self.doorbell.ring()

    def _run(self):
        while not self._stop.is_set():
            self.doorbell.wait(0.05)
            self.step()

    def step(self) -> int:
        """Analyse every whole hop that has arrived. Returns how many hops were done."""
        ring, hop = self.ring, self.hop
        done = 0
        while self.cursor + hop <= ring.written:
            behind = ring.written - self.cursor
            if behind > self.max_behind:
                # fallen behind what can still be shown (a machine too busy, an analysis too slow):
                # the lanes show the present, not a backlog; the hops left out are counted
                skip = (behind - 2 * hop) // hop
                self.cursor += skip * hop
                self.status.lapped += skip
                self.skipped += skip
                continue
            if behind > ring.capacity - 4 * hop:        # the writer lapped us: skip ahead
                lost = (behind - hop) // hop
                self.cursor += lost * hop
                self.status.lapped += 1
                continue
            end = self.cursor + hop
            t_cap = ring.time_of(end)
            t0 = self.clock()
            if self.slow:                       # a fault asked for: an analysis that cannot keep up
                time.sleep(self.slow)
            for k, (an, feed, ch) in enumerate(zip(self.analyzers, self.feeds, self.channels)):
                frame = an.process(ring.view(ch, self.cursor, hop))
                feed.push(t_cap, frame, self.clock())
                if k % 2:
                    time.sleep(0)       # hand the GIL over every two players: the draw loop and the
                    #                     audio callback never wait behind a whole hop's analysis
            t1 = self.clock()
            for feed in self.feeds:
                feed.t_publish = t1
            self.busy_s += t1 - t0
            self.cursor = end
            self.hops += 1
            done += 1
        return done
