"""RoomActor: the one owner of a room's configuration, seats and presence.

Token requests, configuration changes and webhook events for one room pass
through this actor's mailbox one at a time, so capacity checks are exact
without locks. Token requests are served from memory; the database is read at
activation and written when configuration or presence changes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from livekit.protocol.models import ParticipantInfo
from tortoise.exceptions import IntegrityError

from actors.admission import AdmissionStats, JoinFacts, decide
from actors.apply_slots import ApplySlots
from actors.group_apply import GroupApplier
from actors.room_events import EventApplier, Presence
from actors.room_moderation import BanList, Moderator
from actors.room_protocol import (
    AccessCheckNeededError,
    BannedError,
    ChangeParticipant,
    CreateRoom,
    DeleteRoom,
    EndMeeting,
    EventsStored,
    InvalidRoomConfigError,
    IssuedToken,
    IssueToken,
    LiftBan,
    ListBans,
    ListParticipants,
    MuteTracks,
    NotRoomOwnerError,
    ReadAccessCondition,
    RemoveParticipant,
    RoomExistsError,
    RoomMessage,
    RoomNotFoundError,
    UpdateRoom,
)
from actors.room_seats import SeatBook
from actors.runtime import Actor
from actors.seat_writer import SeatWriter
from app.database import DATABASE_UNAVAILABLE, transaction
from app.livekit_gateway import (
    LiveKitGateway,
    LiveKitRefusedError,
    LiveKitUnreachableError,
    RoomConfig,
    TokenRequest,
)
from models import Room, RoomStatus
from models.rooms import AccessCondition, access_condition, access_rule_violation, name_taken

log = logging.getLogger(__name__)

CONFIG_FIELDS = (
    "access_type",
    "token_address",
    "token_amount",
    "nft_address",
    "chain_id",
    "nft_standard",
    "nft_token_id",
    "empty_timeout",
    "departure_timeout",
    "max_participants",
    "metadata",
    "owner",
)


@dataclass(frozen=True, slots=True)
class RoomActorDeps:
    """What every room actor needs, wired once in the composition root."""

    gateway: LiveKitGateway
    seat_hold_seconds: float
    webhook_max_attempts: int
    clock: Callable[[], float]
    now: Callable[[], dt.datetime]
    # How many rooms may apply webhook events at once, each in its own transaction.
    apply_slots: ApplySlots
    # Where rooms apply their webhook events together, in shared transactions.
    group_apply: GroupApplier
    # Where seats are made durable, many per statement.
    seat_writer: SeatWriter
    # Joins refused and removals made, across rooms (for ops).
    admission: AdmissionStats


@dataclass(frozen=True, slots=True)
class _Config:
    """The room's row as the actor keeps it: immutable, replaced on change."""

    id: int
    name: str
    access_type: str
    token_address: str | None
    token_amount: str | None
    nft_address: str | None
    chain_id: int
    nft_standard: str
    nft_token_id: str | None
    empty_timeout: int
    departure_timeout: int
    max_participants: int
    metadata: str | None
    owner: str | None

    @classmethod
    def of(cls, room: Room) -> _Config:
        return cls(id=room.id, name=room.name, **{f: getattr(room, f) for f in CONFIG_FIELDS})

    # Derived once per configuration (replace() re-runs __post_init__), not per token.
    access: AccessCondition | None = field(init=False, compare=False, default=None)

    def __post_init__(self) -> None:
        condition = access_condition(
            self.access_type,
            self.chain_id,
            self.token_address,
            self.token_amount,
            self.nft_address,
            self.nft_standard,
            self.nft_token_id,
        )
        object.__setattr__(self, "access", condition)

    def livekit(self) -> RoomConfig:
        return RoomConfig(
            name=self.name,
            empty_timeout=self.empty_timeout,
            departure_timeout=self.departure_timeout,
            max_participants=self.max_participants,
            metadata=self.metadata,
        )


class RoomActor(Actor[str, RoomMessage]):
    """Owns one room, keyed by its name."""

    def __init__(self, name: str, deps: RoomActorDeps) -> None:
        super().__init__(name)
        self._deps = deps
        self._config: _Config | None = None
        self.presence = Presence()
        self.seats = SeatBook(name, deps.seat_hold_seconds, deps.seat_writer)
        self.bans = BanList()
        # The role each identity's latest token was issued with, shown once it joins.
        self._roles: dict[str, str] = {}
        self._moderator = Moderator(
            name, deps.gateway, self.presence, self.seats, self.bans, deps.now
        )
        self._events = EventApplier(
            name,
            self.presence,
            deps.now,
            deps.webhook_max_attempts,
            deps.apply_slots,
            deps.group_apply,
            admit=self._admit,
        )
        self._loaded = False

    async def on_start(self) -> None:
        try:
            await self._load()
        except DATABASE_UNAVAILABLE:
            # Not a failure of this actor: restarting it in a loop would only log
            # tracebacks. Its first message loads it again, and an asker gets the
            # database's error (503 database_unavailable).
            return
        # Crash recovery: events stored but not applied before the last stop.
        await self._apply_events()

    async def _load(self) -> None:
        room = await Room.get_or_none(name=self.key)
        self._config = None if room is None else _Config.of(room)
        await self.presence.load(self.key)
        if room is not None:
            # The seats held before a restart count again, until they expire.
            await self.seats.load(room.id, self._deps.now(), self.presence.identities())
            await self.bans.load(room.id)
        self._loaded = True

    def can_passivate(self) -> bool:
        return not self.presence.live and self.seats.can_passivate(self._deps.now())

    def stop_when_idle(self) -> bool:
        # A name that is no room of ours and no LiveKit session either (a token
        # request for a typo, say): nothing to keep, so no actor stays behind.
        return self._loaded and self._config is None and self.presence.session is None

    async def receive(self, message: RoomMessage) -> Any:
        if not self._loaded:
            try:
                await self._load()
            except DATABASE_UNAVAILABLE:
                if isinstance(message, EventsStored):
                    return 0  # the events stay stored; the periodic sweep comes back
                raise
        match message:
            case IssueToken(request, passed, wallet):
                return self._issue_token(request, passed, wallet)
            case EventsStored():
                return await self._apply_events()
            case ReadAccessCondition():
                if self._config is None:
                    raise RoomNotFoundError(self.key)
                return self._config.access
            case ListParticipants():
                if self._config is None:
                    raise RoomNotFoundError(self.key)
                return list(self.presence.live.values())
            case CreateRoom(fields):
                return await self._create(fields)
            case UpdateRoom(changes):
                return await self._update(changes)
            case DeleteRoom():
                return await self._delete()
            case RemoveParticipant(identity, ban, reason):
                return await self._moderator.remove(
                    self._room_id(), identity, ban=ban, reason=reason
                )
            case ListBans():
                self._room_id()
                return self.bans.rows()
            case LiftBan(identity):
                return await self.bans.lift(self._room_id(), identity)
            case MuteTracks(identity, track_sid, muted):
                self._room_id()
                return await self._moderator.mute(identity, track_sid, muted=muted)
            case ChangeParticipant(identity, role, name, metadata, attributes):
                self._room_id()
                changed = await self._moderator.change(
                    identity, role=role, name=name, metadata=metadata, attributes=attributes
                )
                if role is not None:
                    self._roles[identity] = role
                return changed
            case EndMeeting():
                self._room_id()
                return await self._moderator.end()
        raise TypeError(f"RoomActor cannot handle {type(message).__name__}")

    def _room_id(self) -> int:
        if self._config is None:
            raise RoomNotFoundError(self.key)
        return self._config.id

    # -- tokens and seats ------------------------------------------------------

    def _issue_token(
        self, request: TokenRequest, passed: AccessCondition | None, wallet: str | None
    ) -> IssuedToken:
        config = self._config
        if config is None:
            raise RoomNotFoundError(self.key)
        if wallet is not None and request.role == "host" and wallet != config.owner:
            raise NotRoomOwnerError(self.key)
        if passed != config.access:
            # Checked against another condition (or none): the route checks this one.
            raise AccessCheckNeededError(config.access)
        if request.identity in self.bans:
            raise BannedError(request.identity)
        stored = self.seats.reserve(
            request.identity,
            in_room=self.presence.identities(),
            max_participants=config.max_participants,
            ttl_seconds=request.ttl_seconds,
            now=self._deps.now(),
        )
        token, expires_at = self._deps.gateway.mint_token(config.livekit(), request)
        self._roles[request.identity] = request.role
        return IssuedToken(
            token=token,
            identity=request.identity,
            room=config.name,
            expires_at=expires_at,
            stored=stored,
        )

    # -- admission -------------------------------------------------------------

    def _admit(self, info: ParticipantInfo, at: dt.datetime) -> bool:
        """Whether a join of the current session is admitted (actors/admission.py).

        Called while this actor applies its events. A refused join is recorded
        closed and removed after the commit; with LIVEKIT_URL empty there is
        no one to remove it, so it is only logged and counted, and kept.
        """
        now = self._deps.now()
        identity = info.identity
        in_room = self.presence.identities()
        config = self._config
        facts = JoinFacts(
            kind=info.kind,
            granted_until=self.seats.granted_until(identity),
            banned=identity in self.bans,
            seat_held=self.seats.holds(identity, now),
            already_in=identity in in_room,
            taken_by_others=len(in_room - {identity})
            + self.seats.held_by_others(identity, in_room, now),
            max_participants=None if config is None else config.max_participants,
            # A join applied late (a backlog) is judged at when it happened.
            at=min(at, now),
        )
        verdict = decide(facts)
        if verdict.admitted:
            return True
        stats = self._deps.admission
        stats.refused[verdict.value] += 1
        if not self._deps.gateway.url:
            stats.kept_without_livekit += 1
            log.warning(
                "room %r: join of %r not admitted (%s); LIVEKIT_URL is empty, so it stays",
                self.key,
                identity,
                verdict.value,
            )
            return True
        log.warning("room %r: join of %r not admitted (%s)", self.key, identity, verdict.value)
        return False

    async def _remove_refused(self, identities: list[str]) -> None:
        """RemoveParticipant for each join refused: after the commit that recorded it."""
        stats = self._deps.admission
        for identity in dict.fromkeys(identities):
            try:
                await self._deps.gateway.remove_participant(self.key, identity)
                stats.removed += 1
            except LiveKitRefusedError as error:
                if error.code == "not_found":
                    continue  # gone already
                stats.removals_failed += 1
                log.warning("room %r: removing %r refused: %s", self.key, identity, error)
            except LiveKitUnreachableError as error:
                stats.removals_failed += 1
                log.warning("room %r: removing %r failed: %s", self.key, identity, error)

    # -- webhook events --------------------------------------------------------

    async def _apply_events(self) -> int:
        try:
            applied = await self._events.apply_pending(self._config.id if self._config else None)
        except DATABASE_UNAVAILABLE:
            # Not a reason to restart (and forget the seats): the events stay
            # stored, and the periodic sweep brings this room back to them.
            log.warning("database unavailable; events of room %r wait", self.key)
            return 0
        for identity in self._events.drain_joined_identities():
            # A joined participant's seat has become a live place in the room.
            self.seats.consume(identity)
            self.presence.describe(identity, role=self._roles.get(identity))
        refused = self._events.drain_refused_identities()
        if refused:
            await self._remove_refused(refused)
        return applied

    # -- configuration ---------------------------------------------------------

    async def _create(self, fields: dict[str, Any]) -> Room:
        if self._config is not None:
            raise RoomExistsError(self.key)
        gateway = self._deps.gateway
        livekit_sid: str | None = None
        try:
            livekit_sid = await gateway.create_room(
                RoomConfig(
                    name=self.key,
                    empty_timeout=fields["empty_timeout"],
                    departure_timeout=fields["departure_timeout"],
                    max_participants=fields["max_participants"],
                    metadata=fields.get("metadata"),
                )
            )
        except LiveKitUnreachableError:
            # LiveKit creates the room on the first join anyway, and the token
            # carries the configuration; room_started will bring the sid.
            log.warning("LiveKit unreachable; room %r created without a sid", self.key)
        session_sid = self.presence.session_sid
        try:
            room = await Room.create(
                name=self.key,
                **fields,
                livekit_sid=session_sid or livekit_sid,
                status=RoomStatus.LIVE if session_sid else RoomStatus.IDLE,
                num_participants=len(self.presence.identities()),
            )
        except Exception as error:
            if isinstance(error, IntegrityError) and name_taken(error):
                # Another process created it (any other constraint is not the client's conflict).
                raise RoomExistsError(self.key) from None
            if livekit_sid is not None and self.presence.session_sid is None:
                # No orphan LiveKit room for a row that was never stored (but
                # never end a meeting that is already running in it).
                with contextlib.suppress(LiveKitUnreachableError, LiveKitRefusedError):
                    await self._deps.gateway.delete_room(self.key)
            raise
        self._config = _Config.of(room)
        self.seats.reset(room.id)  # a new creation: nothing granted before counts
        self.bans.reset()
        self._roles = {}
        return room

    async def _update(self, changes: dict[str, Any]) -> Room:
        config = self._config
        if config is None:
            raise RoomNotFoundError(self.key)
        merged = replace(config, **changes)
        violation = access_rule_violation(
            merged.access_type,
            merged.token_address,
            merged.token_amount,
            merged.nft_address,
            merged.nft_standard,
            merged.nft_token_id,
        )
        if violation is not None:
            raise InvalidRoomConfigError(*violation)
        push_metadata = (
            "metadata" in changes
            and merged.metadata != config.metadata
            and self.presence.session_sid is not None
        )
        if push_metadata:
            # A live room must see its new metadata; if LiveKit says no, nothing changes.
            await self._deps.gateway.update_room_metadata(self.key, merged.metadata or "")
        try:
            room = await Room.get(id=config.id)
            room.update_from_dict(changes)
            await room.save()
        except Exception:
            if push_metadata:
                # Not stored: put LiveKit back, so the two still agree. (LiveKit
                # goes first because no database lock may wait on a network call.)
                with contextlib.suppress(LiveKitUnreachableError, LiveKitRefusedError):
                    await self._deps.gateway.update_room_metadata(self.key, config.metadata or "")
            raise
        self._config = merged
        return room

    async def _delete(self) -> None:
        if self._config is None:
            raise RoomNotFoundError(self.key)
        await self._delete_livekit_room(required=self.presence.session_sid is not None)
        async with transaction():
            await Room.filter(id=self._config.id).delete()
        self._config = None
        self.seats.reset(None)
        self.bans.reset()
        self._roles = {}

    async def _delete_livekit_room(self, *, required: bool) -> None:
        """DeleteRoom. LiveKit's not_found means it is gone already: fine either way.

        An unreachable LiveKit blocks deleting a live room (its participants
        would stay connected) but not an idle one.
        """
        try:
            await self._deps.gateway.delete_room(self.key)
        except LiveKitUnreachableError:
            if required:
                raise
        except LiveKitRefusedError as error:
            if error.code != "not_found":
                raise
