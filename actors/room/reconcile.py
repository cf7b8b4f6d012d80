"""Reconciling a room's presence with LiveKit's: what its ListParticipants answer means.

LiveKit drops webhooks (and gives up on them after ~15 s of our outage), so a
room's actor asks LiveKit who is in the room (reconciler.py) and turns the
difference into synthetic events, decided here, purely:

- a connection Qari has as live that LiveKit does not list left: a
  `participant_left` whose reason is RECONCILED, at the reconciliation's time;
- a participant LiveKit lists that Qari has never seen joined: a
  `participant_joined` carrying LiveKit's ParticipantInfo (its joined_at, kind
  and grant attribute), so admission judges it like any join;
- a room LiveKit no longer has: a `room_finished`; a newer LiveKit instance of
  the name: a `room_started` for it (the rules end ours when it starts).

How this never races a webhook. The synthetic events are stored in the
webhook inbox, like a delivery, and applied by the committer with the same
rules and the same fenced write-and-mark (so participant.left and the rest
are emitted by the one path, exactly once, and survive a crash). They are
ordered at the moment the ListParticipants call began: their LiveKit time is
that moment (the committer applies a room's events by LiveKit time, then
arrival), and what they say is decided from the room's state as it was then
(the snapshot the actor took when it began the call, after every event stored
before had been applied: the actor begins only with its webhook round
settled). So:

- a ghost is only ever a connection that was live at the call's start and is
  not listed: it had joined before LiveKit answered, so not being listed means
  it has gone. A join stored while the call was out is of a new sid, never in
  the snapshot, so never closed; a leave stored while out has closed the sid
  already (or closes it when applied), and a close applies once (the rules,
  and the write's "keeps its first reason");
- a join found is only a sid neither live nor closed in the snapshot, and the
  rules never open a closed sid: a leave stored while the call was out,
  applied before the synthetic join, makes it a no-op; applied after, it
  closes what the join opened. Either way the newer fact wins;
- a webhook stored before the call began was applied before it (the snapshot
  holds it) or, still pending, is an idempotent fact keyed by sid: applying it
  and a synthetic event about the same sid changes the row once.

A snapshot whose session has since ended (a room_finished or a newer room
while the call was out) produces events about an ended session, which the
rules treat as late: nothing changes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.json_format import MessageToJson
from livekit.protocol.models import ParticipantInfo, Room
from livekit.protocol.webhook import WebhookEvent

from actors.room.inbox import RECONCILED_PREFIX
from actors.room.presence import CurrentSession, RoomState
from models.sessions import Connection
from models.webhook_inbox import StoredEvent


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What reconciliations changed: counts, added up across rounds and rooms."""

    ghosts_closed: int = 0
    joins_found: int = 0
    sessions_ended: int = 0

    def __add__(self, other: Reconciled) -> Reconciled:
        return Reconciled(
            self.ghosts_closed + other.ghosts_closed,
            self.joins_found + other.joins_found,
            self.sessions_ended + other.sessions_ended,
        )

    def __bool__(self) -> bool:
        return bool(self.ghosts_closed or self.joins_found or self.sessions_ended)


NOTHING_RECONCILED = Reconciled()


@dataclass(frozen=True, slots=True)
class Answer:
    """What LiveKit said of a room, just after the call began."""

    participants: Sequence[ParticipantInfo] = ()
    # False: ListParticipants answered not_found, or an empty list and ListRooms
    # listed nothing for the name.
    found: bool = True
    # The room as ListRooms listed it (its sid: which instance LiveKit has); None
    # when it was not asked or did not answer.
    instance: Room | None = None


def needs_instance(state: RoomState, participants: Sequence[ParticipantInfo]) -> bool:
    """Whether to ask ListRooms which instance LiveKit has before deciding: when the
    list is empty (the room may be gone) or names someone Qari does not know (a
    join is only recorded in the instance it belongs to)."""
    return not participants or bool(_unknown(state, participants))


def plan(name: str, state: RoomState, answer: Answer, began: dt.datetime) -> list[WebhookEvent]:
    """The synthetic events that bring `state` (the room's, when the call began) in
    line with `answer`, in the order to apply them; event types carry the
    RECONCILED_PREFIX (`inbox_rows`)."""
    session = state.session
    if session is None:
        return []
    at = int(began.timestamp())
    ours = _room(name, session)
    if not answer.found:
        return [_event("room_finished", ours, at)]
    listed = {p.sid for p in answer.participants}
    ghosts = [c for c in state.live.values() if c.sid not in listed]
    joins = _unknown(state, answer.participants)
    newer: list[WebhookEvent] = []
    instance = answer.instance
    target = ours
    if instance is not None and instance.sid and instance.sid != session.sid:
        # LiveKit runs another instance of the name: ours is over, and whoever it
        # lists is in that one.
        target = Room(name=name, sid=instance.sid, creation_time=instance.creation_time)
        newer = [_event("room_started", target, at)]
        joins = list(answer.participants)
    elif instance is None:
        joins = []  # not known to be in our instance: the next reconciliation asks again
    # A reconnect found (its old connection a ghost) joins before that ghost leaves,
    # as LiveKit orders them, so it keeps its place in a full room; other ghosts
    # leave first, freeing theirs for whoever is found.
    rejoining = {p.identity for p in joins}
    first = [_leave(ours, c, at) for c in ghosts if c.identity not in rejoining]
    last = [_leave(ours, c, at) for c in ghosts if c.identity in rejoining]
    found = [_event("participant_joined", target, at, who=p) for p in joins]
    if newer:
        return first + last + newer + found
    return first + found + last


def inbox_rows(
    name: str, events: Sequence[WebhookEvent], received_at: dt.datetime
) -> list[StoredEvent]:
    """The events as inbox rows, stored like deliveries (unique ids of Qari's own)."""
    batch = uuid.uuid4().hex
    return [
        StoredEvent(
            event_id=f"qari-reconcile-{batch}-{index}",
            event_type=RECONCILED_PREFIX + event.event,
            room_name=name,
            room_sid=event.room.sid or None,
            livekit_created_at=event.created_at,
            received_at=received_at,
            payload=MessageToJson(event, indent=None),
        )
        for index, event in enumerate(events)
    ]


def _unknown(state: RoomState, participants: Sequence[ParticipantInfo]) -> list[ParticipantInfo]:
    """Listed, and neither live nor closed in Qari's current session."""
    return [p for p in participants if p.sid not in state.live and p.sid not in state.closed]


def _room(name: str, session: CurrentSession) -> Room:
    return Room(name=name, sid=session.sid, creation_time=int(session.started_at.timestamp()))


def _leave(room: Room, connection: Connection, at: int) -> WebhookEvent:
    who = ParticipantInfo(
        sid=connection.sid,
        identity=connection.identity,
        name=connection.name or "",
        state=ParticipantInfo.State.DISCONNECTED,
        joined_at=int(connection.joined_at.timestamp()) if connection.joined_at else 0,
    )
    return _event("participant_left", room, at, who=who)


def _event(kind: str, room: Room, at: int, who: ParticipantInfo | None = None) -> WebhookEvent:
    # `at` is LiveKit time for the committer's order, and the time the rules give
    # what the event changes (a ghost's left_at, a session's end).
    event = WebhookEvent(event=kind, room=room, created_at=at)
    if who is not None:
        event.participant.CopyFrom(who)
    return event
