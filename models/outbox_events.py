"""The events a room's changes put in the outbox (DESIGN.md section 7), built in one
place so every writer gives a type the same data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from models.outbox import Event
from models.sessions import Connection, ParticipantRow


def session_started(room: str, session: str, started_at: dt.datetime) -> Event:
    return Event(
        "session.started",
        room,
        {
            "room": room,
            "session": session,
            "started_at": started_at,
            "ended_at": None,
            "participants_total": 0,
        },
        started_at,
    )


def session_ended(room: str, session: str, started_at: dt.datetime, ended_at: dt.datetime) -> Event:
    """Its participants_total is counted by the write that ends the session."""
    return Event(
        "session.ended",
        room,
        {
            "room": room,
            "session": session,
            "started_at": started_at,
            "ended_at": ended_at,
            "participants_total": 0,
        },
        ended_at,
    )


def participant(
    type_: str,
    room: str,
    session: str,
    who: ParticipantRow | Connection,
    at: dt.datetime,
    *,
    left_at: dt.datetime | None = None,
    reason: str | None = None,
) -> Event:
    """`participant.joined` or `participant.left`."""
    return Event(
        type_,
        room,
        {
            "room": room,
            "session": session,
            "identity": who.identity,
            "name": who.name,
            "sid": who.sid,
            "joined_at": who.joined_at,
            "left_at": left_at,
            "disconnect_reason": reason,
        },
        at,
    )


def participant_refused(room: str, identity: str, sid: str, reason: str, at: dt.datetime) -> Event:
    return Event(
        "participant.refused",
        room,
        {"room": room, "identity": identity, "sid": sid, "reason": reason},
        at,
    )


def participant_removed(
    room: str, identity: str, *, reason: str | None, banned: bool, by: str, at: dt.datetime
) -> Event:
    """`by`: moderation, access_recheck or access_expired."""
    return Event(
        "participant.removed",
        room,
        {"room": room, "identity": identity, "reason": reason, "banned": banned, "by": by},
        at,
    )


def room_changed(type_: str, room: Mapping[str, Any], at: dt.datetime) -> Event:
    """`room.created`, `room.updated`, `room.deleted`: `room` is the Room object
    (the fields the rooms routes answer with)."""
    return Event(type_, str(room["name"]), {"room": dict(room)}, at)


def recording_started(recording: Mapping[str, Any], at: dt.datetime) -> Event:
    """`recording.started`: the Recording object (its `room` is the room's name),
    once LiveKit reports the egress active."""
    return Event("recording.started", str(recording["room"]), dict(recording), at)


def recording_ended(recording: Mapping[str, Any], at: dt.datetime) -> Event:
    """`recording.ended`: the Recording object, with its `files`, once it is
    complete, failed or aborted."""
    return Event("recording.ended", str(recording["room"]), dict(recording), at)


def lobby_event(
    type_: str,
    room: str,
    ticket: str,
    identity: str,
    name: str | None,
    at: dt.datetime,
    *,
    reason: str | None = None,
) -> Event:
    """`lobby.waiting` (a knock), `lobby.admitted`, `lobby.denied` (`reason`: the
    host's, or `banned`)."""
    data: dict[str, Any] = {"room": room, "ticket": ticket, "identity": identity, "name": name}
    if type_ == "lobby.denied":
        data["reason"] = reason
    return Event(type_, room, data, at)
