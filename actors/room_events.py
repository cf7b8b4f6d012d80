"""Applying stored LiveKit webhook events to one room: sessions and presence.

LiveKit delivers at least once, per room in order but with retries that can
land late, and sometimes not at all. So every effect is keyed by sid and
written to be idempotent and monotonic: a closed participant session is never
reopened by an older join, a finished room session never restarts, and a room
name reused with a new sid starts a new session.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from google.protobuf.json_format import Parse
from livekit.protocol.models import DisconnectReason, ParticipantInfo, TrackInfo, TrackType
from livekit.protocol.models import Room as RoomInfo
from livekit.protocol.webhook import WebhookEvent
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F

from actors.apply_slots import ApplySlots
from actors.group_apply import (
    ApplyObserver,
    GroupApplier,
    GroupApplyFailedError,
    Unobserved,
    Writes,
)
from actors.room_protocol import LiveParticipant, PublishedTrack
from app.database import DATABASE_UNAVAILABLE, transaction
from models import ParticipantSession, Room, RoomSession, RoomStatus, WebhookInbox

log = logging.getLogger(__name__)

# Events that change sessions or presence; the rest (egress_*, ingress_*) are kept
# in the inbox for later use and marked processed.
PRESENCE_EVENTS = frozenset(
    {
        "room_started",
        "room_finished",
        "participant_joined",
        "participant_left",
        "participant_connection_aborted",
        "track_published",
        "track_unpublished",
    }
)
# Events about participants of the current session, which a plan can apply
# from memory alone (see EventApplier.plan).
PARTICIPANT_EVENTS = frozenset(
    {
        "participant_joined",
        "participant_left",
        "participant_connection_aborted",
        "track_published",
        "track_unpublished",
    }
)
ROOM_CLOSED = "ROOM_CLOSED"
# A join Qari did not admit (actors/admission.py) is recorded as a connection
# closed at once: it is in the history, never in the room's presence.
NOT_ADMITTED = "NOT_ADMITTED"

# Asked of the room's actor for each join of its current session: whether the
# participant is admitted (False: recorded closed, and removed after commit).
Admit = Callable[[ParticipantInfo, dt.datetime], bool]


def _admit_all(info: ParticipantInfo, at: dt.datetime) -> bool:
    return True


def _at(seconds: int, fallback: dt.datetime) -> dt.datetime:
    if seconds <= 0:
        return fallback
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


def _close(row: ParticipantSession, at: dt.datetime, reason: str) -> None:
    row.left_at = at
    row.disconnect_reason = reason
    row.state = "disconnected"


def _live(row: ParticipantSession) -> LiveParticipant:
    """The presence entry of an open participant session."""
    return LiveParticipant(
        identity=row.identity,
        name=row.name,
        sid=row.sid,
        joined_at=row.joined_at,
        state=row.state,
        tracks=row.track_count,
    )


def _state_name(info: ParticipantInfo) -> str:
    return str(ParticipantInfo.State.Name(info.state)).lower()


class Presence:
    """The room's current LiveKit session and who is in it, as the actor keeps it."""

    def __init__(self) -> None:
        # The open session of the newest room instance, kept whole so applying
        # an event for it needs no lookup.
        self.session: RoomSession | None = None
        self.live: dict[str, LiveParticipant] = {}
        # Sids of the session's connections that have closed: a join for one of
        # them is late or repeated, and changes nothing.
        self.closed: set[str] = set()

    @property
    def session_sid(self) -> str | None:
        return None if self.session is None else self.session.sid

    def identities(self) -> set[str]:
        return {p.identity for p in self.live.values()}

    def connections(self, identity: str) -> list[LiveParticipant]:
        return [p for p in self.live.values() if p.identity == identity]

    def track_changed(self, participant_sid: str, track: TrackInfo, published: bool) -> None:
        """Keep which tracks a live participant publishes, by sid and kind."""
        current = self.live.get(participant_sid)
        if current is None or not track.sid:
            return
        kept = tuple(t for t in current.published if t.sid != track.sid)
        if published:
            kind = str(TrackType.Name(track.type)).lower()
            kept += (PublishedTrack(track.sid, kind, bool(track.muted)),)
        self.live[participant_sid] = replace(current, published=kept)

    def set_muted(self, participant_sid: str, track_sid: str, muted: bool) -> None:
        current = self.live.get(participant_sid)
        if current is not None:
            published = tuple(
                replace(t, muted=muted) if t.sid == track_sid else t for t in current.published
            )
            self.live[participant_sid] = replace(current, published=published)

    def describe(self, identity: str, *, role: str | None = None, name: str | None = None) -> None:
        """Set the role and/or name every connection of `identity` is shown with."""
        for sid, current in list(self.live.items()):
            if current.identity == identity:
                self.live[sid] = replace(
                    current,
                    role=current.role if role is None else role,
                    name=current.name if name is None else name,
                )

    def replace_session(self, session: RoomSession | None) -> None:
        self.session = session
        self.live = {}
        self.closed = set()

    async def load(self, room_name: str) -> None:
        """Rebuild from the database: the newest open session and its open participants."""
        self.session = (
            await RoomSession.filter(room_name=room_name, ended_at=None)
            .order_by("-started_at", "-id")
            .first()
        )
        self.live = {}
        self.closed = set()
        if self.session is None:
            return
        closed = ParticipantSession.filter(room_session_id=self.session.id, left_at__isnull=False)
        self.closed = {str(sid) for sid in await closed.values_list("sid", flat=True)}
        for row in await ParticipantSession.filter(room_session_id=self.session.id, left_at=None):
            self.live[row.sid] = _live(row)
        if self.live:
            await self._replay_tracks(self.session.sid)

    async def _replay_tracks(self, session_sid: str) -> None:
        """Which tracks the live participants publish: from the session's applied track
        events, in LiveKit's order (the count is stored; the tracks themselves are not).
        A mute set through Qari before the restart is not among them."""
        payloads = (
            await WebhookInbox.filter(
                room_sid=session_sid,
                event_type__in=["track_published", "track_unpublished"],
                processed_at__isnull=False,
            )
            .order_by("livekit_created_at", "id")
            .values_list("payload", flat=True)
        )
        for payload in payloads:
            event = Parse(str(payload), WebhookEvent(), ignore_unknown_fields=True)
            self.track_changed(event.participant.sid, event.track, event.event == "track_published")


class _AlreadyClaimed(Exception):
    """Some rows of a batch were applied elsewhere: roll back and go one by one."""


class EventApplier:
    """Applies a room's pending inbox rows in LiveKit's order, marking each processed
    in the same transaction as its effects."""

    def __init__(
        self,
        room_name: str,
        presence: Presence,
        now: Callable[[], dt.datetime],
        max_attempts: int,
        slots: ApplySlots,
        group: GroupApplier | None = None,
        admit: Admit = _admit_all,
    ) -> None:
        self._slots = slots
        self._admit = admit
        self._group = group
        # Metrics: the shared apply's observer, so both paths count alike.
        self._observer: ApplyObserver = group.observer if group is not None else Unobserved()
        self._room_name = room_name
        self._presence = presence
        self._now = now
        self._max_attempts = max_attempts
        self._joined: list[str] = []
        # Identities whose join was refused, for the actor to remove after commit.
        self._refused: list[str] = []
        # Participant sessions the batch being applied mentions, by sid; those it
        # opened wait in _unsaved until one bulk insert (joins come in bursts).
        self._participants: dict[str, ParticipantSession] = {}
        self._unsaved: dict[str, ParticipantSession] = {}
        # Set when a transaction failed and memory may be ahead of the database.
        self._stale = False
        # Set when this room must apply in its own transaction (see apply_pending).
        self._alone = False
        # What the rooms row was last set to, so an unchanged row is not written again.
        self._synced: tuple[int, str, int, str | None] | None = None

    def drain_joined_identities(self) -> list[str]:
        joined, self._joined = self._joined, []
        return joined

    def drain_refused_identities(self) -> list[str]:
        refused, self._refused = self._refused, []
        return refused

    async def apply_pending(self, room_id: int | None) -> int:
        """Apply every pending event of this room, oldest first; returns how many applied.

        Normally in a transaction shared with other rooms (actors/group_apply.py),
        planned from memory. Events that need the database to decide, or a
        shared transaction that failed, fall back to this room's own
        transaction. An unreachable database stops the round without counting
        against any event: the periodic sweep brings the room back to it.
        """
        if self._stale:
            await self._reload()
        applied = 0
        if self._group is not None and not self._alone:
            try:
                while True:
                    outcome = await self._group.apply(
                        self._room_name, lambda rows, writes: self.plan(rows, writes, room_id)
                    )
                    if outcome is None:
                        break  # handed back: this room applies them on its own
                    applied += outcome.count
                    if not outcome.more:
                        # A slot this room was woken with goes to the next room.
                        self._slots.forgo(self._room_name)
                        return applied
            except DATABASE_UNAVAILABLE:
                self._stale = True
                self._slots.forgo(self._room_name)  # a slot it was woken with goes on
                raise
            except GroupApplyFailedError as error:
                log.warning("room %r applies on its own after %s", self._room_name, error)
                # Memory holds the plan of a transaction that rolled back.
                self._stale = True
                await self._reload()
            # Until its own transaction has been through what is pending, this
            # room stays out of shared ones: an event that broke one would
            # break the next one too, for every room in it.
            self._alone = True
        return applied + await self._apply_alone(room_id)

    async def _apply_alone(self, room_id: int | None) -> int:
        """This room's pending events in its own transaction.

        The backlog goes in one transaction (a burst of webhooks costs one
        commit, not one each); if that fails, each event is retried alone so
        one bad event cannot hold back the others.
        """
        # Rooms apply a few at a time, so the webhook route's inserts keep pool
        # connections; a room without a slot returns at once (its actor goes on
        # serving tokens) and is woken when one frees up.
        if not self._slots.try_take(self._room_name):
            return 0
        try:
            rows = await WebhookInbox.filter(
                room_name=self._room_name, processed_at=None, attempts__lt=self._max_attempts
            ).order_by("livekit_created_at", "id")
            applied = await self._apply_backlog(rows, room_id) if rows else 0
            self._alone = False  # what failed here has its attempt counted: plan() skips it
            return applied
        finally:
            self._slots.give_back()

    async def _apply_backlog(self, rows: list[WebhookInbox], room_id: int | None) -> int:
        if len(rows) > 1:
            try:
                async with transaction() as conn:
                    await self._apply_rows(rows, room_id, conn)
                self._observe_applied(rows)
                return len(rows)
            except DATABASE_UNAVAILABLE:
                self._stale = True
                raise
            except Exception:
                log.warning(
                    "applying %d events of %r together failed; one by one",
                    len(rows),
                    self._room_name,
                )
                self._stale = True  # kept if the reload fails too
                await self._reload()
        applied = 0
        for row in rows:
            try:
                async with transaction() as conn:
                    await self._apply_rows([row], room_id, conn)
                self._observe_applied([row])
                applied += 1
            except _AlreadyClaimed:
                continue
            except DATABASE_UNAVAILABLE:
                self._stale = True
                raise
            except Exception as error:
                log.exception("event %s (%s) failed to apply", row.event_id, row.event_type)
                self._observer.observe_failed(row.event_type)
                self._stale = True
                await WebhookInbox.filter(id=row.id).update(
                    attempts=row.attempts + 1, last_error=f"{type(error).__name__}: {error}"[:2000]
                )
                await self._reload()
        return applied

    def _observe_applied(self, rows: list[WebhookInbox]) -> None:
        committed = self._now()
        self._observer.observe_applied(
            [(committed - row.received_at).total_seconds() for row in rows]
        )

    # -- applying from memory, in a shared transaction ----------------------------

    def plan(self, rows: list[dict[str, Any]], writes: Writes, room_id: int | None) -> bool:
        """Apply claimed rows in memory and record their writes, if memory suffices.

        It does when every event is about a participant of the room's current
        session (or changes nothing here: egress, ingress, a repeated
        room_started). Anything else, or an event that failed before, returns
        False before touching any state: the room applies those on its own.
        The effects are those of the database path below, decided from
        Presence: a sid that is live is open, a sid in `closed` has left, any
        other sid is new (a unique sid already stored elsewhere makes the
        shared insert fail, and the room then takes the database path).
        """
        session = self._presence.session
        events = []
        for row in rows:
            if row["attempts"] > 0:
                return False  # failed before: one by one, with its error kept
            event = Parse(row["payload"], WebhookEvent(), ignore_unknown_fields=True)
            if event.event in PARTICIPANT_EVENTS or event.event == "room_started":
                if session is None or event.room.sid != session.sid:
                    return False
            elif event.event in PRESENCE_EVENTS:
                return False  # room_finished
            events.append(event)
        if session is None:
            return True  # only events that change nothing here
        opened: dict[str, ParticipantSession] = {}
        for event in events:
            at = _at(event.created_at, self._now())
            info = event.participant
            match event.event:
                case "participant_joined":
                    self._plan_join(session, info, at, opened, writes)
                case "participant_left" | "participant_connection_aborted":
                    self._plan_leave(session, info, at, opened, writes)
                case "track_published" | "track_unpublished":
                    delta = 1 if event.event == "track_published" else -1
                    if (count := self._count_tracks(info.sid, delta, opened)) is not None:
                        writes.tracks.append((count, info.sid))
                    self._presence.track_changed(info.sid, event.track, delta > 0)
                case _:
                    pass  # room_started again, egress_*, ingress_*
        if room_id is not None and (synced := self._room_row(room_id)) != self._synced:
            self._synced = synced
            _, status, count, sid = synced
            writes.rooms.append((status, count, sid, room_id))
        return True

    def _plan_join(
        self,
        session: RoomSession,
        info: ParticipantInfo,
        at: dt.datetime,
        opened: dict[str, ParticipantSession],
        writes: Writes,
    ) -> None:
        presence = self._presence
        sid = info.sid
        if not sid or sid in presence.live or sid in presence.closed or sid in opened:
            return  # repeated, or late after its leave: an older join never undoes a leave
        if not self._admit(info, at):
            row = self._new_participant(session, info, at, left_at=at, reason=NOT_ADMITTED)
            opened[sid] = row
            writes.opened.append(row)
            presence.closed.add(sid)
            self._refused.append(row.identity)
            return
        row = self._new_participant(session, info, at)
        opened[sid] = row
        writes.opened.append(row)
        presence.live[sid] = _live(row)
        self._joined.append(row.identity)

    def _plan_leave(
        self,
        session: RoomSession,
        info: ParticipantInfo,
        at: dt.datetime,
        opened: dict[str, ParticipantSession],
        writes: Writes,
    ) -> None:
        presence = self._presence
        sid = info.sid
        if not sid:
            return
        reason = str(DisconnectReason.Name(info.disconnect_reason))
        unsaved = opened.get(sid)
        if unsaved is not None:
            if unsaved.left_at is None:
                _close(unsaved, at, reason)
        elif sid in presence.live:
            writes.closes.append((at, reason, sid))
        elif sid not in presence.closed:
            # The join was lost or is late: record the connection as closed.
            row = self._new_participant(session, info, at, left_at=at, reason=reason)
            opened[sid] = row
            writes.opened.append(row)
        presence.live.pop(sid, None)
        presence.closed.add(sid)

    def _count_tracks(
        self, sid: str, delta: int, unsaved: dict[str, ParticipantSession]
    ) -> int | None:
        """Change a live participant's track count in memory, and on its row if the
        batch has not stored it yet; returns the count a stored row must be given."""
        current = self._presence.live.get(sid)
        if current is None:
            return None
        tracks = max(0, current.tracks + delta)
        self._presence.live[sid] = replace(current, tracks=tracks)
        row = unsaved.get(sid)
        if row is None:
            return tracks
        row.track_count = tracks
        return None

    def _new_participant(
        self,
        session: RoomSession,
        info: ParticipantInfo,
        at: dt.datetime,
        *,
        left_at: dt.datetime | None = None,
        reason: str | None = None,
    ) -> ParticipantSession:
        """A participant session row for `info`, open, or closed at `left_at`."""
        if left_at is None:
            joined_at: dt.datetime | None = _at(info.joined_at, at)
            state = _state_name(info)
        else:
            joined_at = _at(info.joined_at, at) if info.joined_at else None
            state = "disconnected"
        return ParticipantSession(
            sid=info.sid,
            room_session=session,
            identity=info.identity,
            name=info.name or None,
            kind=str(ParticipantInfo.Kind.Name(info.kind)).lower(),
            state=state,
            joined_at=joined_at,
            left_at=left_at,
            disconnect_reason=reason,
        )

    async def _reload(self) -> None:
        # Memory may be ahead of a rolled-back transaction.
        await self._presence.load(self._room_name)
        self._joined.clear()
        self._refused.clear()
        self._synced = None
        self._stale = False

    async def _apply_rows(
        self, rows: list[WebhookInbox], room_id: int | None, conn: BaseDBAsyncClient
    ) -> None:
        claimed = (
            await WebhookInbox.filter(id__in=[row.id for row in rows], processed_at=None)
            .using_db(conn)
            .update(processed_at=self._now(), attempts=F("attempts") + 1)
        )
        if claimed != len(rows):
            raise _AlreadyClaimed
        events = [Parse(row.payload, WebhookEvent(), ignore_unknown_fields=True) for row in rows]
        # One query for every participant the batch mentions, not one per event.
        sids = {e.participant.sid for e in events if e.participant.sid}
        self._participants = (
            {p.sid: p for p in await ParticipantSession.filter(sid__in=list(sids)).using_db(conn)}
            if sids
            else {}
        )
        self._unsaved = {}
        try:
            for event in events:
                await self._apply(event, conn)
            await self._flush(conn)
            await self._sync_room(room_id, conn)
        finally:
            # Per batch only: an idle room keeps no rows in memory.
            self._participants = {}
            self._unsaved = {}

    async def _flush(self, conn: BaseDBAsyncClient) -> None:
        """Insert the participant sessions this batch opened, in one statement."""
        if self._unsaved:
            await ParticipantSession.bulk_create(list(self._unsaved.values()), using_db=conn)
            self._unsaved = {}

    async def _apply(self, event: WebhookEvent, conn: BaseDBAsyncClient) -> None:
        at = _at(event.created_at, self._now())
        match event.event:
            case "room_started":
                await self._session(event.room, at, conn)
            case "room_finished":
                await self._finish(event.room, at, conn)
            case "participant_joined":
                await self._join(event.room, event.participant, at, conn)
            case "participant_left" | "participant_connection_aborted":
                await self._leave(event.room, event.participant, at, conn)
            case "track_published":
                await self._track(event.participant, event.track, +1, conn)
            case "track_unpublished":
                await self._track(event.participant, event.track, -1, conn)
            case _:
                pass  # egress_* and ingress_*: stored for later use

    # -- room sessions -----------------------------------------------------------

    async def _session(
        self, room: RoomInfo, at: dt.datetime, conn: BaseDBAsyncClient
    ) -> RoomSession | None:
        """The session for this room sid, opened if new; it becomes current if newest."""
        if not room.sid:
            return None
        presence = self._presence
        current = presence.session
        if current is not None and current.sid == room.sid:
            return current
        session = await RoomSession.filter(sid=room.sid).using_db(conn).first()
        if session is not None:
            return session
        started_at = _at(room.creation_time, at)
        session = await RoomSession.create(
            sid=room.sid, room_name=self._room_name, started_at=started_at, using_db=conn
        )
        if current is not None:
            if started_at < current.started_at:
                # A late event of an older instance of this room name: it
                # ended when the newer one started at the latest.
                session.ended_at = current.started_at
                await session.save(using_db=conn, update_fields=["ended_at"])
                return session
            # A newer instance replaces one whose room_finished never came.
            await self._close_session(current, started_at, conn)
        presence.replace_session(session)
        return session

    async def _finish(self, room: RoomInfo, at: dt.datetime, conn: BaseDBAsyncClient) -> None:
        session = await self._session(room, at, conn)
        if session is not None:
            await self._close_session(session, at, conn)

    async def _close_session(
        self, session: RoomSession, at: dt.datetime, conn: BaseDBAsyncClient
    ) -> None:
        if session.ended_at is None:
            session.ended_at = at
            await session.save(using_db=conn, update_fields=["ended_at"])
        await self._flush(conn)
        await (
            ParticipantSession.filter(room_session_id=session.id, left_at=None)
            .using_db(conn)
            .update(left_at=at, disconnect_reason=ROOM_CLOSED, state="disconnected")
        )
        for row in self._participants.values():
            # Keep the batch's copies true to what was just written.
            if row.room_session_id == session.id and row.left_at is None:  # type: ignore[attr-defined]
                _close(row, at, ROOM_CLOSED)
        if self._presence.session is session:
            self._presence.replace_session(None)

    # -- participants --------------------------------------------------------------

    async def _join(
        self, room: RoomInfo, info: ParticipantInfo, at: dt.datetime, conn: BaseDBAsyncClient
    ) -> None:
        session = await self._session(room, at, conn)
        if session is None or not info.sid:
            return
        if session.ended_at is not None:
            return  # a join for a room instance that has already finished
        if info.sid in self._presence.live:
            return  # a repeated join
        if info.sid in self._participants:
            return  # already joined, or already left: an older join never undoes a leave
        current = self._presence.session_sid == session.sid
        if current and not self._admit(info, at):
            row = self._new_participant(session, info, at, left_at=at, reason=NOT_ADMITTED)
            self._participants[row.sid] = self._unsaved[row.sid] = row
            self._presence.closed.add(row.sid)
            self._refused.append(row.identity)
            return
        row = self._new_participant(session, info, at)
        self._participants[row.sid] = self._unsaved[row.sid] = row
        if self._presence.session_sid == session.sid:
            self._presence.live[row.sid] = _live(row)
            self._joined.append(row.identity)

    async def _leave(
        self, room: RoomInfo, info: ParticipantInfo, at: dt.datetime, conn: BaseDBAsyncClient
    ) -> None:
        if not info.sid:
            return
        reason = str(DisconnectReason.Name(info.disconnect_reason))
        existing = self._participants.get(info.sid)
        if existing is None:
            # The join was lost or is late: record the connection as closed, so
            # that join, when it comes, cannot reopen it.
            session = await self._session(room, at, conn)
            if session is None:
                return
            row = self._new_participant(session, info, at, left_at=at, reason=reason)
            self._participants[info.sid] = self._unsaved[info.sid] = row
        elif existing.left_at is None:
            _close(existing, at, reason)
            if info.sid not in self._unsaved:
                await (
                    ParticipantSession.filter(sid=info.sid)
                    .using_db(conn)
                    .update(left_at=at, disconnect_reason=reason, state="disconnected")
                )
        # By sid: a DUPLICATE_IDENTITY leave of the old connection keeps the new one.
        self._presence.live.pop(info.sid, None)
        self._presence.closed.add(info.sid)

    async def _track(
        self, info: ParticipantInfo, track: TrackInfo, delta: int, conn: BaseDBAsyncClient
    ) -> None:
        if (count := self._count_tracks(info.sid, delta, self._unsaved)) is not None:
            await ParticipantSession.filter(sid=info.sid).using_db(conn).update(track_count=count)
        self._presence.track_changed(info.sid, track, delta > 0)

    # -- the room row ----------------------------------------------------------------

    def _room_row(self, room_id: int) -> tuple[int, str, int, str | None]:
        """(room id, status, num_participants, livekit_sid or None to keep it) from presence."""
        sid = self._presence.session_sid
        status = RoomStatus.LIVE if sid else RoomStatus.IDLE
        return room_id, status.value, len(self._presence.identities()), sid

    async def _sync_room(self, room_id: int | None, conn: BaseDBAsyncClient) -> None:
        """Mirror presence into the rooms row, so reads need not ask the actor."""
        if room_id is None:
            return
        row = self._synced = self._room_row(room_id)
        _, status, count, sid = row
        updates: dict[str, object] = {"status": status, "num_participants": count}
        if sid:
            updates["livekit_sid"] = sid
        await Room.filter(id=room_id).using_db(conn).update(**updates)
