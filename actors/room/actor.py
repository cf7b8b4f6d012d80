"""RoomActor: the one owner of a room, dispatching its messages one at a time.

Token requests, configuration changes, moderation and webhook events for one
room pass through this actor's mailbox one at a time, so capacity checks are
exact without locks. The room's state is one RoomMemory that only this actor
holds; each message is handled by a function of (memory, message) in the
module of its concern: tokens issues at once; configuring and moderation
decide a plan (plans.py), which perform.py carries out. Webhook events go to
the activation's WebhookRound. Everything that touches the database is
bounded: by what is left of the asker's budget, or DATABASE_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from actors.actor import Actor
from actors.committer import Committer
from actors.room import configuring, lobbying, moderation, perform, recordings, tokens
from actors.room.admission import VAULT_ATTRIBUTE, AdmissionStats
from actors.room.directory import RoomDirectory
from actors.room.errors import RoomError, RoomUnavailableError
from actors.room.expiry import KeyEnds
from actors.room.livekit import LiveKit, TokenRequest
from actors.room.lobby import Lobby
from actors.room.lobby_board import LobbyBoard
from actors.room.memory import RoomMemory
from actors.room.ownership import Ownership, SoleNode
from actors.room.protocol import (
    MANAGED,
    AccessConfirmed,
    AccessVerdict,
    AdmitAll,
    AdmitTicket,
    ChangeParticipant,
    CommitDone,
    CreateRoom,
    DeleteRoom,
    DenyTicket,
    EndMeeting,
    EventsStored,
    IssueToken,
    KeysEnded,
    LiftBan,
    ListBans,
    ListLobby,
    ListParticipants,
    LobbyDue,
    MuteTracks,
    ReadEntry,
    ReadTicket,
    ReadVaults,
    ReconcileDue,
    RemoveParticipant,
    RevokeAccess,
    RoomMessage,
    StartRecording,
    StopRecording,
    UpdateRoom,
)
from actors.room.reconciler import ReconcilePorts, Reconciler
from actors.room.seats import SeatBook
from actors.room.views import Knocked
from actors.room.webhook_round import RoundPorts, WebhookRound
from actors.seat_writer import SeatWriter
from models.db import Database, DatabaseUnavailableError, LeaseLostError
from models.leases import Lease

log = logging.getLogger(__name__)

# The lobby timer's backoff after expiring failed: the first wait, doubling up to the second.
LOBBY_BACKOFF_SECONDS = 1.0
LOBBY_BACKOFF_MAX_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class RoomActorDeps:
    """What every room actor needs, wired once in the composition root."""

    livekit: LiveKit
    # The one writer of webhook effects, shared by every room.
    committer: Committer
    seat_hold_seconds: float
    webhook_max_attempts: int
    clock: Callable[[], float]
    now: Callable[[], dt.datetime]
    # Where seats are made durable, many per statement.
    seat_writer: SeatWriter
    # Joins refused and removals made, across rooms (for ops).
    admission: AdmissionStats
    # What routes read of each room without its mailbox.
    directory: RoomDirectory
    # Where rooms are stored, and how long database work may take.
    database: Database
    # The latest webhook receipt stamped (see RoundPorts.received_until).
    received_until: Callable[[], dt.datetime | None] = lambda: None
    # Which rooms this node serves: its leases (one node alone: every room).
    ownership: Ownership = field(default_factory=lambda: SoleNode("local"))
    # Reconciling presence with LiveKit (reconciler.py): RECONCILE_SECONDS, how
    # to wait it, and how the room's own timer and calls tell its actor.
    reconcile_seconds: float = 60.0
    reconcile_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    nudge: Callable[[str, RoomMessage], None] = lambda room, message: None
    # The lobby (DESIGN.md section 8): where polls read tickets, and how long one waits.
    lobby_board: LobbyBoard = field(default_factory=LobbyBoard)
    lobby_wait_seconds: float = 600.0
    # How the timer of Unlock keys' ends waits (actors/room/expiry.py).
    expiry_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


class RoomActor(Actor[str, RoomMessage]):
    """Owns one room, keyed by its name (LiveKit's: rooms we did not create too)."""

    def __init__(self, name: str, deps: RoomActorDeps) -> None:
        super().__init__(name)
        self._deps = deps
        seats = SeatBook(name, deps.seat_hold_seconds, deps.seat_writer, deps.database)
        self._memory = RoomMemory(
            name, seats, deps.directory, deps.database, lobby=Lobby(deps.lobby_board)
        )
        # Sleeps until the first waiting ticket's wait is over, then tells LobbyDue.
        self._lobby_timer: asyncio.Task[None] | None = None
        # Seconds before trying again after expiring failed (0: it did not).
        self._lobby_backoff = 0.0
        self._round = WebhookRound(
            name,
            RoundPorts(deps.committer, deps.livekit, deps.admission, deps.now, deps.received_until),
        )
        self._key_ends = KeyEnds(deps.now, deps.expiry_sleep, lambda: deps.nudge(name, KeysEnded()))
        self._reconciler = Reconciler(
            name,
            ReconcilePorts(
                deps.livekit,
                deps.database,
                deps.now,
                deps.reconcile_seconds,
                deps.reconcile_sleep,
                deps.nudge,
            ),
        )

    # -- lifecycle ---------------------------------------------------------------

    # The room is loaded by its first message (not in on_start), within that
    # message's asker's budget: a request answers within DATABASE_TIMEOUT_SECONDS
    # of its arrival however activation goes, and a message whose asker has
    # given up costs no load at all (the runtime skips it).

    def remaining(self) -> float | None:
        """Seconds left of the current asker's budget (None: a tell, the database's
        own timeout applies)."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - asyncio.get_running_loop().time())

    async def _load(self) -> None:
        # The whole load, not each query, within the deadline.
        self.awaiting_database = True
        try:
            await self._load_within_deadline()
        finally:
            self.awaiting_database = False

    async def _load_within_deadline(self) -> None:
        # The room's lease first: a room another node serves is not loaded here.
        claimed = await self._deps.ownership.claim(self.key, self.remaining())
        if not isinstance(claimed, Lease):
            raise RoomUnavailableError(self.key)
        self._memory.hold(claimed)
        async with self._deps.database.bounded(self.remaining()):
            # An earlier activation's rounds may still be out: load what they wrote.
            while (earlier := self._deps.committer.in_flight(self.key)) is not None:
                await asyncio.wait([earlier])
            pending = await self._memory.load(self._deps.now(), self._deps.webhook_max_attempts)
            # A ban stored without its tickets' denial (a separate write) is applied now.
            await lobbying.deny_all_banned(self._memory, self._deps.now())
        lobbying.restore_tokens(self._memory, self._deps.livekit)
        self._time_lobby()
        self._round.loaded(self._memory)
        if pending:
            self._round.nudge(self._memory)  # crash recovery: stored, not applied before
        self._reconciler.start(self._memory.state)
        self._reconciler.begin(self._memory.state, settled=self._round.settled)

    async def on_stop(self) -> None:
        if self._memory.loaded:
            self._deps.ownership.release(self._memory.lease)  # another node may take it now
        self._round.cancel()
        self._reconciler.cancel()
        if self._lobby_timer is not None:
            self._lobby_timer.cancel()
        self._memory.lobby.reset()  # polls here ask the next activation
        self._key_ends.cancel()
        if self._memory.entry is not None:
            self._deps.directory.withdraw(self.key)  # the next activation publishes anew

    @property
    def reconciling(self) -> bool:
        """A reconciliation with LiveKit is under way (for tests and ops)."""
        return self._reconciler.out

    def can_passivate(self) -> bool:
        memory = self._memory
        # An open session stays reconciled, someone present for Qari or not.
        reconciling = self._reconciler.out or (
            memory.state.session is not None and self._reconciler.enabled
        )
        return (
            not (self._round.busy or memory.state.live or reconciling)
            # Waiting tickets keep their room in memory: its timer expires them.
            and not memory.lobby.has_waiting()
            and memory.seats.can_passivate(self._deps.now())
        )

    def stop_when_idle(self) -> bool:
        # A name that is no room of ours and no LiveKit session either (a token
        # request for a typo, say): nothing to keep, so no actor stays behind.
        memory = self._memory
        return (
            memory.loaded
            and memory.config is None
            and memory.state.session is None
            and not self._round.dirty
            and self.can_passivate()
        )

    # -- the lobby's timer -------------------------------------------------------------

    def _time_lobby(self) -> None:
        """Start the lobby's timer, unless it runs or no ticket waits."""
        if self._lobby_timer is not None and not self._lobby_timer.done():
            return
        due = self._memory.lobby.next_expiry()
        if due is not None:
            self._lobby_timer = asyncio.create_task(self._lobby_due(due, self._lobby_backoff))

    async def _lobby_due(self, due: dt.datetime, backoff: float) -> None:
        # The injected clock and sleep: tests move time instead of waiting it.
        # After a failure, not sooner than the backoff (a due time in the past
        # would otherwise retry at once, holding the mailbox).
        wait = max(backoff, (due - self._deps.now()).total_seconds())
        await self._deps.reconcile_sleep(wait)
        # A coalesced nudge passes a full mailbox (actors/mailbox.py): not lost to a busy room.
        self._deps.nudge(self.key, LobbyDue())

    async def _expire_lobby(self) -> None:
        failed = True
        try:
            await lobbying.expire_due(self._memory, self._deps.now())
            failed = False
        except (DatabaseUnavailableError, LeaseLostError) as error:
            # Still waiting in memory and stored: tried again after the backoff.
            log.warning("room %r: lobby tickets not expired: %s", self.key, error)
        finally:
            # Any failure backs off (an unexpected one too, which the runtime logs).
            self._lobby_backoff = (
                min(LOBBY_BACKOFF_MAX_SECONDS, max(LOBBY_BACKOFF_SECONDS, 2 * self._lobby_backoff))
                if failed
                else 0.0
            )
            self._time_lobby()

    # -- dispatch ------------------------------------------------------------------

    async def receive(self, message: RoomMessage) -> Any:
        memory = self._memory
        if isinstance(message, CommitDone):
            self._round.committed(memory, message.result)
            self._reconciler.begin(memory.state, settled=self._round.settled)
            return None
        if isinstance(message, (ReconcileDue, LobbyDue)) and (
            not memory.loaded or self._deps.ownership.current(self.key) != memory.lease
        ):
            return None  # a tick of an activation gone, or of a lease lapsed: nothing to do
        if not memory.loaded:
            try:
                await self._load()
            except (DatabaseUnavailableError, RoomUnavailableError) as error:
                # Not a failure of this actor: restarting it would only log
                # tracebacks. The next message loads it again; an asker gets the
                # error (503 database_unavailable, or room_unavailable when another
                # node serves the room).
                log.info("room %r not loaded here: %s", self.key, error)
                if _left_stored(message):
                    return None
                raise
        elif self._deps.ownership.current(self.key) != memory.lease:
            # The lease lapsed (this node hung, or could not renew): never answer
            # from memory for a room another node may serve now (its actor is being
            # stopped).
            if _left_stored(message):
                return None
            raise RoomUnavailableError(self.key)
        if isinstance(message, MANAGED) and message.manager is not None:
            memory.require_manager(message.manager)  # owned now, not when the route looked
        # Configuring and moderating: decide from the memory (or refuse), then perform.
        livekit, now = self._deps.livekit, self._deps.now
        configured = livekit.configured
        match message:
            case IssueToken(request, verdict, wallet):
                if memory.config is not None and lobbying.knocks(memory, wallet):
                    return await self._knock(request, verdict, wallet)
                if verdict is None:
                    return tokens.issue(memory, livekit, now(), request, None, wallet)
                issued = tokens.issue(
                    memory, livekit, now(), request, verdict.version, wallet, verdict.vault
                )
                self._key_ends.set(issued.identity, verdict.ends_at)
                return issued
            case KeysEnded():
                await self._remove_ended()
                return None
            case AccessConfirmed(identity, vault, ends_at, condition):
                if memory.config is not None and memory.config.condition == condition:
                    memory.vaults[identity] = vault
                    self._key_ends.set(identity, ends_at)
                return None
            case ReadVaults():
                return dict(memory.vaults)
            case EventsStored(applied):
                self._round.nudge(memory, applied)
                return None
            case ReconcileDue():
                self._reconciler.due()
                self._reconciler.begin(memory.state, settled=self._round.settled)
                return None
            case ReadEntry():
                return memory.published()
            case ListParticipants():
                memory.require_config()
                return [memory.annotations.view(c) for c in memory.state.live.values()]
            case CreateRoom():
                decided = configuring.create(memory, message)
                room = await perform.create(memory, livekit, decided, self.remaining())
                self._round.room_created()
                return room
            case UpdateRoom():
                before = memory.require_config().condition
                changed = configuring.update(memory, message)
                row = await perform.update(memory, livekit, changed, self.remaining())
                if changed.config.condition != before:
                    # What admitted whom under the old condition says nothing of the
                    # new one: the next re-check finds it out again.
                    self._key_ends.clear()
                    memory.vaults.clear()
                return row
            case DeleteRoom():
                return await perform.plan(memory, livekit, configuring.delete(memory))
            case RemoveParticipant():
                plan = moderation.remove(memory, message, now(), livekit_configured=configured)
                return await perform.plan(memory, livekit, plan)
            case RevokeAccess():
                if message.disconnect:
                    # Only a removal ends what admitted it: a token request's no
                    # revokes the grant, and the re-check still follows whoever
                    # stays connected (through its vault, until its key ends).
                    self._key_ends.drop(message.identity)
                    memory.vaults.pop(message.identity, None)
                plan = moderation.revoke_access(
                    memory, message, now(), livekit_configured=configured
                )
                return await perform.plan(memory, livekit, plan)
            case ListBans():
                memory.require_config()
                return memory.bans.rows()
            case LiftBan(identity):
                return await memory.bans.lift(memory.require_config().id, identity)
            case MuteTracks():
                plan = moderation.mute(memory, message, livekit_configured=configured)
                return await perform.plan(memory, livekit, plan)
            case ChangeParticipant(identity):
                plan = moderation.change(memory, message, livekit_configured=configured)
                await perform.plan(memory, livekit, plan)
                return moderation.participant(memory, identity)
            case EndMeeting():
                plan = moderation.end(memory, now(), livekit_configured=configured)
                return await perform.plan(memory, livekit, plan)
            case StartRecording():
                return await recordings.start(memory, livekit, message, now(), self.remaining())
            case StopRecording():
                return await recordings.stop(memory, livekit, message, now(), self.remaining())
            case ReadTicket(ticket):
                return lobbying.read(memory, ticket)
            case ListLobby():
                return lobbying.listing(memory, now())
            case AdmitTicket(ticket):
                return await lobbying.admit(memory, livekit, ticket, now())
            case DenyTicket(ticket, reason):
                return await lobbying.deny(memory, ticket, reason, now())
            case AdmitAll():
                return await lobbying.admit_all(memory, livekit, now())
            case LobbyDue():
                await self._expire_lobby()
                return None
        raise TypeError(f"RoomActor cannot handle {type(message).__name__}")

    async def _knock(
        self, request: TokenRequest, verdict: AccessVerdict | None, wallet: str | None
    ) -> Knocked:
        """A token request in a lobby room by a wallet not owning it: checked as any
        token request would be, then its ticket (new, or the identity's open one)."""
        memory = self._memory
        version = None if verdict is None else verdict.version
        tokens.require_allowed(memory, request, version, wallet)
        if verdict is not None and verdict.vault is not None:
            # The ticket's token carries the vault that qualified the knock.
            attributes = {**(request.attributes or {}), VAULT_ATTRIBUTE: verdict.vault}
            request = replace(request, attributes=attributes)
        wait = self._deps.lobby_wait_seconds
        knocked = await lobbying.knock(memory, request, self._deps.now(), wait)
        if verdict is not None:
            self._key_ends.set(request.identity, verdict.ends_at)
        self._time_lobby()
        return knocked

    async def _remove_ended(self) -> None:
        """Remove whoever the Unlock key that admitted them has ended for."""
        memory = self._memory
        configured = self._deps.livekit.configured
        for identity in self._key_ends.take_due():
            memory.vaults.pop(identity, None)
            if memory.config is None or memory.config.condition is None:
                continue  # the room is gone, or public now: nobody to remove for it
            message = RevokeAccess(
                identity,
                reason="the membership (Unlock key) that admitted it has ended",
                by="access_expired",
            )
            plan = moderation.revoke_access(
                memory, message, self._deps.now(), livekit_configured=configured
            )
            try:
                await perform.plan(memory, self._deps.livekit, plan)
            except (
                *perform.LIVEKIT_FAILED,
                RoomError,
                DatabaseUnavailableError,
                LeaseLostError,
            ) as error:
                # One participant's trouble stops no other removal; the re-check tries again.
                log.warning(
                    "could not remove %r from %r as its key ended: %s", identity, self.key, error
                )


def _left_stored(message: RoomMessage) -> bool:
    """Whether `message` tells of stored events, which stay stored for the room's
    owner (or the sweep) to apply: its waiter, if any, learns none were applied here."""
    if not isinstance(message, EventsStored):
        return False
    if message.applied is not None and not message.applied.done():
        message.applied.set_result(0)
    return True
