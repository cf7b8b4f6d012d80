"""A room's webhook rounds: at most one out at the committer, and what the next must do.

The actor never applies webhook events itself: it hands the committer its
presence (an immutable value) and what admission knows, goes on serving, and
adopts the state after once the committer has written the effects, so memory
is never ahead of the database. This is that hand-over's state machine, one
per activation (its identity tells the committer's results for this
activation from an earlier one's).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from actors.committer import Committer
from actors.room.admission import AdmissionStats, AdmissionView
from actors.room.livekit import LiveKit
from actors.room.memory import RoomMemory
from actors.room.removals import Removals
from actors.rounds import ApplyRequest, Committed


@dataclass(frozen=True, slots=True)
class RoundPorts:
    """What rounds reach outside the room: the shared writer, LiveKit, clocks."""

    committer: Committer
    livekit: LiveKit
    admission: AdmissionStats
    now: Callable[[], dt.datetime]
    # The latest webhook receipt stamped (None: none yet). A round reads events
    # received up to the later of it and now, so a wall clock that steps back
    # does not hold back events it stamped before the step.
    received_until: Callable[[], dt.datetime | None]


class WebhookRound:
    """One room activation's rounds."""

    def __init__(self, name: str, ports: RoundPorts) -> None:
        self._name = name
        self._ports = ports
        # The round out now, if any; `dirty` when events may have been stored
        # since it read them.
        self._out: ApplyRequest | None = None
        self.dirty = False
        # What the next round must also do: write the room row, and read the
        # state again (it may be behind the database: a write whose outcome is
        # unknown).
        self._sync_room = False
        self._reload = False
        self._applied = 0
        self._waiters: list[asyncio.Future[int]] = []
        # RemoveParticipant calls for refused joins, made off the mailbox.
        self._removals = Removals(name, ports.livekit, ports.admission)

    @property
    def busy(self) -> bool:
        """A round out, someone waiting on one, or removals under way."""
        return self._out is not None or bool(self._waiters) or bool(self._removals)

    @property
    def settled(self) -> bool:
        """No round out and nothing stored since the last: memory holds every event
        stored so far (as far as this actor has been told)."""
        return self._out is None and not self.dirty

    def loaded(self, memory: RoomMemory) -> None:
        # The first round writes the room row whatever it decides, so a row left
        # stale by an earlier activation is brought in line with the sessions.
        self._sync_room = memory.config is not None

    def room_created(self) -> None:
        if self._out is not None:
            # The round out now decided without this row: one more writes it.
            self._sync_room = self.dirty = True

    def nudge(self, memory: RoomMemory, applied: asyncio.Future[int] | None = None) -> None:
        """Apply what is pending; `applied` is set once everything stored so far is
        (with how many events)."""
        if applied is not None:
            self._waiters.append(applied)
        self.dirty = True
        if self._out is None:
            self._submit(memory)

    def cancel(self) -> None:
        self._removals.cancel()

    def _submit(self, memory: RoomMemory) -> None:
        now = self._ports.now()
        config = memory.config
        admission = AdmissionView(
            max_participants=None if config is None else config.max_participants,
            grants=memory.seats.grants(),
            held=memory.seats.held(now),
            banned=memory.bans.identities(),
            enforce=self._ports.livekit.configured,
            now=now,
        )
        latest = self._ports.received_until()
        self._out = ApplyRequest(
            room=self._name,
            state=memory.state,
            admission=admission,
            as_of=now if latest is None else max(now, latest),
            room_id=None if config is None else config.id,
            sync_room=self._sync_room,
            activation=self,
            reload=self._reload,
            epoch=memory.lease.epoch,
        )
        self.dirty = self._sync_room = False
        self._ports.committer.submit(self._out)

    def committed(self, memory: RoomMemory, result: Committed) -> None:
        asked = self._out
        if result.activation is not self or asked is None:
            return  # an earlier activation's round: this one loaded after it
        self._out = None
        if result.state is None:
            # Nothing known written (the database is away): keep what memory has
            # (behind the database at worst, if a write that timed out did commit:
            # then the next round reads it again); the next nudge, or the periodic
            # sweep, asks again.
            self._sync_room |= asked.sync_room
            self._reload |= result.uncertain
            self.dirty = True
            self._answer_waiters()
            return
        if asked.reload:
            self._reload = False
        memory.state = result.state
        for identity in result.joined:
            memory.seats.consume(identity)  # a joined participant's seat is a place now
        self._removals.count(result.refused, result.kept)
        if result.reconciled:
            counts = result.reconciled
            self._ports.admission.reconciled.update(
                ghosts_closed=counts.ghosts_closed,
                joins_found=counts.joins_found,
                sessions_ended=counts.sessions_ended,
            )
        # A ban set, or a grant revoked, while the round was out: the join it
        # decided is removed now.
        joined = list(dict.fromkeys(result.joined))
        banned = [i for i in joined if i in memory.bans]
        revoked = [i for i in joined if _revoked_since(asked, memory, i)]
        self._removals.remove([identity for identity, _ in result.refused] + banned + revoked)
        self._applied += result.applied
        self._sync_room |= result.resync
        if result.more or self.dirty or result.resync:
            self._submit(memory)
        else:
            self._answer_waiters()

    def _answer_waiters(self) -> None:
        waiters, applied = self._waiters, self._applied
        self._waiters, self._applied = [], 0

        def answer() -> None:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(applied)

        # Applied includes removing the joins it refused from LiveKit.
        self._removals.then(answer)


def _revoked_since(asked: ApplyRequest, memory: RoomMemory, identity: str) -> bool:
    """The identity's grant took a new key after the round was handed over."""
    before = asked.admission.grants.get(identity)
    return before is not None and before.key != memory.seats.grant_key(identity)
