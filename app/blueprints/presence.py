"""Who is in a room now (from its actor) and what happened before (from the database)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel
from quart import Blueprint
from quart_schema import validate_response

from actors.room_protocol import ListParticipants, LiveParticipant, RoomNotFoundError
from app.errors import documents_errors
from app.schemas import reject_impossible_room_names
from app.services import services
from models import ParticipantSession, Room, RoomSession

blueprint = Blueprint("presence", __name__)
blueprint.before_request(reject_impossible_room_names)

SESSIONS_LIMIT = 100


class TrackOut(BaseModel):
    sid: str
    kind: str
    muted: bool


class ParticipantOut(BaseModel):
    identity: str
    name: str | None
    sid: str
    joined_at: dt.datetime | None
    state: str
    # The role its token was issued with, or last set by a moderator (null: unknown,
    # e.g. after a restart: roles are kept in the room actor's memory).
    role: str | None
    tracks: list[TrackOut]

    @classmethod
    def of(cls, p: LiveParticipant) -> ParticipantOut:
        return cls(
            identity=p.identity,
            name=p.name,
            sid=p.sid,
            joined_at=p.joined_at,
            state=p.state,
            role=p.role,
            tracks=[TrackOut(sid=t.sid, kind=t.kind, muted=t.muted) for t in p.published],
        )


class ParticipantList(BaseModel):
    items: list[ParticipantOut]


class ParticipantSessionOut(BaseModel):
    identity: str
    name: str | None
    sid: str
    joined_at: dt.datetime | None
    left_at: dt.datetime | None
    duration_seconds: float | None
    disconnect_reason: str | None


class SessionOut(BaseModel):
    sid: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    duration_seconds: float | None
    participants: list[ParticipantSessionOut]


class SessionList(BaseModel):
    items: list[SessionOut]


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


async def _require_room(name: str) -> None:
    if not await Room.exists(name=name):
        raise RoomNotFoundError(name)


@blueprint.get("/v1/rooms/<string:name>/participants")
@validate_response(ParticipantList)
@documents_errors(401, 404, 503)
async def get_participants(name: str) -> ParticipantList:
    """Who is in the room now.

    Live participants as the room's actor knows them from LiveKit's webhooks.
    """
    live: list[LiveParticipant] = await services().rooms.ask(name, ListParticipants())
    return ParticipantList(items=[ParticipantOut.of(p) for p in live])


@blueprint.get("/v1/rooms/<string:name>/sessions")
@validate_response(SessionList)
@documents_errors(401, 404)
async def get_sessions(name: str) -> SessionList:
    """The room's history.

    Its LiveKit sessions, newest first (the latest 100), each with its
    participants and durations.
    """
    await _require_room(name)
    sessions = (
        await RoomSession.filter(room_name=name)
        .order_by("-started_at", "-id")
        .limit(SESSIONS_LIMIT)
    )
    by_session: dict[int, list[ParticipantSession]] = {s.id: [] for s in sessions}
    if sessions:
        rows = await ParticipantSession.filter(room_session_id__in=list(by_session)).order_by(
            "joined_at", "id"
        )
        for row in rows:
            by_session[row.room_session_id].append(row)  # type: ignore[attr-defined]
    return SessionList(
        items=[
            SessionOut(
                sid=s.sid,
                started_at=s.started_at,
                ended_at=s.ended_at,
                duration_seconds=_seconds(s.started_at, s.ended_at),
                participants=[
                    ParticipantSessionOut(
                        identity=p.identity,
                        name=p.name,
                        sid=p.sid,
                        joined_at=p.joined_at,
                        left_at=p.left_at,
                        duration_seconds=_seconds(p.joined_at, p.left_at),
                        disconnect_reason=p.disconnect_reason,
                    )
                    for p in by_session[s.id]
                ],
            )
            for s in sessions
        ]
    )
