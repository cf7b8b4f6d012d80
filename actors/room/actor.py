"""RoomActor: the one owner of a room's configuration, seats and presence.

Token requests, configuration changes and webhook events for one room pass
through this actor's mailbox one at a time, so capacity checks are exact
without locks. Token requests are answered from memory. Webhook events never
hold the mailbox: the actor hands its presence (an immutable value) and what
admission knows to the committer and goes on serving; once the committer has
written the effects it tells the actor the state after, which the actor
adopts then, so memory is never ahead of the database. Everything else that
touches the database is bounded by DATABASE_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from actors.actor import Actor
from actors.committer import Committer
from actors.room.admission import GRANT_ATTRIBUTE, AdmissionStats, AdmissionView
from actors.room.config import Config
from actors.room.configuring import Configuring
from actors.room.moderation import BanList, Moderator
from actors.room.presence import Annotations, RoomState, load_state
from actors.room.protocol import (
    AccessCheckNeededError,
    ApplyPending,
    BannedError,
    ChangeParticipant,
    CommitDone,
    CreateRoom,
    DeleteRoom,
    EndMeeting,
    EventsStored,
    IssuedToken,
    IssueToken,
    LiftBan,
    ListBans,
    ListParticipants,
    LiveKit,
    MuteTracks,
    NotRoomOwnerError,
    ReadAccessCondition,
    RemoveParticipant,
    RevokeAccess,
    RoomMessage,
    RoomNotFoundError,
    TokenRequest,
    UpdateRoom,
)
from actors.room.removals import Removals
from actors.room.seats import SeatBook
from actors.rounds import ApplyRequest, Committed
from actors.seat_writer import SeatWriter
from models.db import DatabaseUnavailableError, bounded
from models.rooms import AccessCondition, get_room
from models.webhook_inbox import has_pending

log = logging.getLogger(__name__)


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
    # The latest webhook receipt stamped (None: none yet). A round reads events
    # received up to the later of it and now, so a wall clock that steps back
    # does not hold back events it stamped before the step.
    received_until: Callable[[], dt.datetime | None] = lambda: None


class RoomActor(Actor[str, RoomMessage]):
    """Owns one room, keyed by its name (LiveKit's: rooms we did not create too)."""

    def __init__(self, name: str, deps: RoomActorDeps) -> None:
        super().__init__(name)
        self._deps = deps
        self.livekit = deps.livekit
        self.config: Config | None = None
        self.state = RoomState(name)
        self.annotations = Annotations()
        self.seats = SeatBook(name, deps.seat_hold_seconds, deps.seat_writer)
        self.bans = BanList()
        self._moderator = Moderator(
            name,
            deps.livekit,
            lambda: self.state,
            self.annotations,
            self.seats,
            self.bans,
            deps.now,
        )
        self._configuring = Configuring(self)
        self._loaded = False
        # The webhook round out now, if any (at most one); `_dirty` when events may
        # have been stored since it read them.
        self._out: ApplyRequest | None = None
        self._dirty = False
        # What the next round must also do: write the room row, and read the
        # state again (it may be behind the database: a write whose outcome is
        # unknown).
        self._sync_room = False
        self._reload = False
        self._applied = 0
        self._waiters: list[asyncio.Future[int]] = []
        # RemoveParticipant calls for refused joins, made off the mailbox.
        self._removals = Removals(name, deps.livekit, deps.admission)

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
        # The whole load, not each query, within the deadline: the asker's, or
        # DATABASE_TIMEOUT_SECONDS for a tell.
        async with bounded(self.remaining()):
            # An earlier activation's rounds may still be out: load what they wrote.
            while (earlier := self._deps.committer.in_flight(self.key)) is not None:
                await asyncio.wait([earlier])
            room = await get_room(self.key)
            state = await load_state(self.key)
            if room is not None:
                # The seats held before a restart count again, until they expire.
                await self.seats.load(room.id, self._deps.now(), state.identities())
                await self.bans.load(room.id)
            pending = await has_pending(self.key, self._deps.webhook_max_attempts)
        self.config = None if room is None else Config.of(room)
        self.state = state
        self._loaded = True
        # The first round writes the room row whatever it decides, so a row left
        # stale by an earlier activation is brought in line with the sessions.
        self._sync_room = room is not None
        if pending:
            self._nudge()  # crash recovery: events stored but not applied before

    async def on_stop(self) -> None:
        self._removals.cancel()

    def can_passivate(self) -> bool:
        return not (
            self._out is not None or self._waiters or self._removals or self.state.live
        ) and self.seats.can_passivate(self._deps.now())

    def stop_when_idle(self) -> bool:
        # A name that is no room of ours and no LiveKit session either (a token
        # request for a typo, say): nothing to keep, so no actor stays behind.
        return (
            self._loaded
            and self.config is None
            and self.state.session is None
            and not self._dirty
            and self.can_passivate()
        )

    async def receive(self, message: RoomMessage) -> Any:
        if isinstance(message, CommitDone):
            self._committed(message.result)
            return None
        if not self._loaded:
            try:
                await self._load()
            except DatabaseUnavailableError:
                # Not a failure of this actor: restarting it would only log
                # tracebacks. The next message loads it again; an asker gets the
                # database's error (503 database_unavailable).
                log.warning("room %r waits for the database to load", self.key)
                if isinstance(message, EventsStored):
                    return None  # the events stay stored; the periodic sweep comes back
                if isinstance(message, ApplyPending):
                    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
                    done.set_result(0)
                    return done
                raise
        match message:
            case IssueToken(request, passed, wallet):
                return self._issue_token(request, passed, wallet)
            case EventsStored():
                self._nudge()
                return None
            case ApplyPending():
                waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                self._nudge()
                return waiter
            case ReadAccessCondition():
                return self._config().access
            case ListParticipants():
                self._config()
                return [self.annotations.view(c) for c in self.state.live.values()]
            case CreateRoom(fields):
                room = await self._configuring.create(fields)
                if self._out is not None:
                    # The round out now decided without this row: one more writes it.
                    self._sync_room = self._dirty = True
                return room
            case UpdateRoom(changes):
                return await self._configuring.update(changes)
            case DeleteRoom():
                return await self._configuring.delete()
            case RemoveParticipant(identity, ban, reason):
                return await self._moderator.remove(
                    self._config().id, identity, ban=ban, reason=reason
                )
            case RevokeAccess(identity, disconnect):
                if self.config is None:
                    if disconnect:
                        raise RoomNotFoundError(self.key)
                    return None  # told: nothing granted in a room that is not ours
                return await self._moderator.revoke_access(identity, disconnect=disconnect)
            case ListBans():
                self._config()
                return self.bans.rows()
            case LiftBan(identity):
                return await self.bans.lift(self._config().id, identity)
            case MuteTracks(identity, track_sid, muted):
                self._config()
                return await self._moderator.mute(identity, track_sid, muted=muted)
            case ChangeParticipant(identity, role, name, metadata, attributes):
                self._config()
                return await self._moderator.change(
                    identity, role=role, name=name, metadata=metadata, attributes=attributes
                )
            case EndMeeting():
                self._config()
                return await self._moderator.end()
        raise TypeError(f"RoomActor cannot handle {type(message).__name__}")

    def _config(self) -> Config:
        if self.config is None:
            raise RoomNotFoundError(self.key)
        return self.config

    # -- tokens ----------------------------------------------------------------

    def _issue_token(
        self, request: TokenRequest, passed: AccessCondition | None, wallet: str | None
    ) -> IssuedToken:
        config = self._config()
        if wallet is not None and request.role == "host" and wallet != config.owner:
            raise NotRoomOwnerError(self.key)
        if passed != config.access:
            # Checked against another condition (or none): the route checks this one.
            raise AccessCheckNeededError(config.access)
        if request.identity in self.bans:
            raise BannedError(request.identity)
        stored = self.seats.reserve(
            request.identity,
            in_room=self.state.identities(),
            max_participants=config.max_participants,
            ttl_seconds=request.ttl_seconds,
            now=self._deps.now(),
        )
        key = self.seats.grant_key(request.identity)
        if key:
            # The grant was revoked once: only tokens carrying its new key admit.
            request = replace(
                request, attributes={**(request.attributes or {}), GRANT_ATTRIBUTE: key}
            )
        token, expires_at = self._deps.livekit.mint_token(config.livekit(), request)
        self.annotations.roles[request.identity] = request.role
        return IssuedToken(
            token=token,
            identity=request.identity,
            room=config.name,
            expires_at=expires_at,
            stored=stored,
        )

    # -- webhook events --------------------------------------------------------

    def _nudge(self) -> None:
        self._dirty = True
        if self._out is None:
            self._submit()

    def _submit(self) -> None:
        now = self._deps.now()
        config = self.config
        admission = AdmissionView(
            max_participants=None if config is None else config.max_participants,
            grants=self.seats.grants(),
            held=self.seats.held(now),
            banned=self.bans.identities(),
            enforce=bool(self._deps.livekit.url),
            now=now,
        )
        room_id = None if config is None else config.id
        latest = self._deps.received_until()
        self._out = ApplyRequest(
            room=self.key,
            state=self.state,
            admission=admission,
            as_of=now if latest is None else max(now, latest),
            room_id=room_id,
            sync_room=self._sync_room,
            token=self,
            reload=self._reload,
        )
        self._dirty = self._sync_room = False
        self._deps.committer.submit(self._out)

    def _committed(self, result: Committed) -> None:
        asked = self._out
        if result.token is not self or asked is None:
            return  # an earlier activation's round: this one loaded after it
        self._out = None
        if result.state is None:
            # Nothing known written (the database is away): keep what memory has
            # (behind the database at worst, if a write that timed out did commit:
            # then the next round reads it again); the next nudge, or the
            # periodic sweep, asks again.
            self._sync_room |= asked.sync_room
            self._reload |= result.uncertain
            self._dirty = True
            self._answer_waiters()
            return
        if asked.reload:
            self._reload = False
        self.state = result.state
        for identity in result.joined:
            self.seats.consume(identity)  # a joined participant's seat is a place now
        self._removals.count(result.refused, result.kept)
        # A ban set while the round was out: the join it decided is removed now.
        banned = [i for i in dict.fromkeys(result.joined) if i in self.bans]
        self._removals.remove([identity for identity, _ in result.refused] + banned)
        self._applied += result.applied
        self._sync_room |= result.resync
        if result.more or self._dirty or result.resync:
            self._submit()
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
