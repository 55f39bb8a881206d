"""The cue director: owns the cues, the switch waiting to happen, and the film players.

A cue chosen (a key, MIDI, OSC) starts decoding its loop's head at once; when that is ready the
switch is handed to the transport: at the end of the pass the film is in (or at once), so
every follower (the picture, the film's sound, MTC and MIDI clock out, OSC film out, the chase)
changes cue at the same instant. A player no longer needed (the cue before a switch, the size
before a resize) is closed, and its decoded frames go with it.

Everything here runs on the show's controller thread (``select``, ``tick``, ``resize``); the
draw thread only asks :meth:`player_for`, which reads a mapping that is replaced whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import clock as _clock
from .decoder import FilmDecoder, FilmPlayer


@dataclass(frozen=True)
class Pending:
    """A cue waiting to take over."""
    cue: int
    at_once: bool
    t_boundary: float        # the end of the pass it follows (inf while the film is held)
    t_chosen: float


def start_player(info, loop, size, start_seq: int = 0) -> FilmPlayer:
    return FilmPlayer(FilmDecoder(info, loop[0], loop[1], size, start_seq=start_seq).start())


class CueDirector:
    def __init__(self, film, transport, size, switch: str = "end", make_player=start_player,
                 clock=_clock.now, sound=None):
        self.film, self.transport, self.size = film, transport, tuple(size)
        self.cues = film.cues
        self.switch_mode = switch            # "end": a new cue starts at the end of the pass; "now"
        self.make_player, self.clock = make_player, clock
        self.sound = sound                   # the film's sound, told which loops to have ready
        self.pending: Pending | None = None
        self.players: dict[int, FilmPlayer] = {}     # ready to show, by cue (replaced whole)
        self._incoming: list[tuple[int, FilmPlayer]] = []   # still decoding their heads
        self._size_wanted = None
        self._handed = False                 # the pending switch is in the transport's hands
        self.switches = 0
        self.closed = 0                      # players closed (their frames freed)

    # -- the draw thread
    def player_for(self, cue: int) -> FilmPlayer | None:
        return self.players.get(cue)

    # -- the controller thread
    def start(self, wait: float = 10.0) -> "CueDirector":
        """Decode the first cue's head (the show starts on it)."""
        p = self.make_player(self.film.info, self.cues[0].loop, self.size)
        p.decoder.head_ready.wait(wait)
        self.players = {0: p}
        if self.sound is not None:
            self.sound.prepare(0, self.cues[0].loop)
        return self

    @property
    def current(self) -> int:
        return self.transport.at(self.clock()).cue

    def select(self, i: int, now: bool = False) -> bool:
        """Make cue ``i`` the next: it takes over at the end of the current pass (or at once:
        ``now``, or the session's switch = "now") as soon as its first frames are decoded, so
        the picture never waits."""
        if not 0 <= i < len(self.cues):
            return False
        t = self.clock()
        at_once = now or self.switch_mode == "now"
        if self.pending is not None:
            if self.pending.cue == i:
                if at_once and not self.pending.at_once:
                    self.pending = Pending(i, True, self.pending.t_boundary, self.pending.t_chosen)
                    self.transport.cancel_switch(t)
                    self._handed = False
                    self.tick(t)
                return True
            self.cancel()
        pos = self.transport.at(t)
        if i == pos.cue and not at_once:
            return False
        boundary = pos.time_at_offset(pos.pass_seconds) if pos.playing else math.inf
        self.pending = Pending(i, at_once, boundary, t)
        if i not in self.players and not any(c == i for c, _ in self._incoming):
            self._incoming.append((i, self.make_player(self.film.info, self.cues[i].loop, self.size)))
        if self.sound is not None:
            self.sound.prepare(i, self.cues[i].loop)
        self.tick(t)
        return True

    def step(self, step: int, now: bool = False) -> bool:
        """The next (or previous) cue after the one waiting, or the one playing."""
        base = self.pending.cue if self.pending else self.current
        return self.select(base + step, now)

    def switch_now(self) -> None:
        if self.pending is not None and not self.pending.at_once:
            self.select(self.pending.cue, now=True)

    def cancel(self) -> None:
        """Forget the cue waiting (another was chosen)."""
        p, self.pending = self.pending, None
        self._handed = False
        if p is None:
            return
        self.transport.cancel_switch(self.clock())
        keep = {self.current}
        for c, pl in list(self._incoming):
            if c not in keep:
                self._incoming.remove((c, pl))
                self._close(pl)
        if p.cue in self.players and p.cue not in keep:
            players = dict(self.players)
            self._close(players.pop(p.cue))
            self.players = players

    def want_size(self, size) -> None:
        """Ask for the picture at another size (any thread; done on the next tick)."""
        self._size_wanted = tuple(size)

    def resize(self, size) -> None:
        """The picture's size changed: decode the current cue again at the new size; the old
        player shows (scaled) until the new one's head is ready."""
        size = tuple(size)
        if size == self.size:
            return
        self.size = size
        t = self.clock()
        pos = self.transport.at(t)
        for c, pl in list(self._incoming):
            self._incoming.remove((c, pl))
            self._close(pl)
        cues = {pos.cue} | ({self.pending.cue} if self.pending else set())
        for c in cues:
            seq = max(0, pos.seq) if c == pos.cue else 0
            self._incoming.append((c, self.make_player(self.film.info, self.cues[c].loop, size, seq)))

    def tick(self, t: float | None = None) -> None:
        """Promote players whose heads are ready, hand a ready switch to the transport, and close
        the players nothing will show again."""
        t = self.clock() if t is None else t
        if self._size_wanted is not None:
            size, self._size_wanted = self._size_wanted, None
            self.resize(size)
        players = None
        for c, pl in list(self._incoming):
            if pl.ready:
                self._incoming.remove((c, pl))
                players = dict(self.players) if players is None else players
                old = players.get(c)
                players[c] = pl
                if old is not None:
                    self._close(old)
        if players is not None:
            self.players = players
        p = self.pending
        if p is not None and self._handed:
            if self.transport.pending is None:           # the scheduled switch has happened
                self._switched(t)
        elif p is not None and p.cue in self.players:
            loop = self.cues[p.cue].loop
            self._handed = True
            if p.at_once:
                self.transport.switch(p.cue, loop, at_end=False, t=t)
            else:
                self.transport.switch_at(p.cue, loop, p.t_boundary, t=t)
            if self.transport.pending is None:           # made at once (or it was due already)
                self._switched(t)
        self._close_unused(t)

    def _switched(self, t: float) -> None:
        self.pending = None
        self._handed = False
        self.switches += 1

    def _close_unused(self, t: float) -> None:
        if self.transport.pending is not None:
            return                                       # the old cue plays on until the loop point
        cur = self.transport.at(t).cue
        keep = {cur} | ({self.pending.cue} if self.pending else set())
        gone = [c for c in self.players if c not in keep]
        if gone:
            players = {c: pl for c, pl in self.players.items() if c in keep}
            for c in gone:
                self._close(self.players[c])
            self.players = players
        if self.sound is not None:
            self.sound.keep(keep)

    def _close(self, player: FilmPlayer) -> None:
        """Stop a player's decoding and let go of its frames (the draw thread, if it still holds
        it for the frame it is drawing, keeps what it has on screen)."""
        player.close()
        self.closed += 1

    def stop(self) -> None:
        for _, pl in self._incoming:
            pl.close()
        for pl in self.players.values():
            pl.close()
        self._incoming = []
        self.players = {}
