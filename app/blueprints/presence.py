"""Who is in a room now (from its actor) and what happened before (from the database)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from quart import Blueprint
from quart_schema import validate_querystring, validate_response

from actors.room.protocol import ListParticipants, LiveParticipant, RoomNotFoundError
from app.http.auth import wallet_allowed
from app.http.database_budget import database_work
from app.http.errors import APIError, documents_errors
from app.http.room_access import acting_manager, require_room_manager
from app.http.schemas import reject_impossible_room_names
from app.services import services
from models.rooms import room_exists
from models.session_history import Attendee, HistorySession, room_history, session_attendance

blueprint = Blueprint("presence", __name__)
blueprint.before_request(reject_impossible_room_names)

DEFAULT_SESSIONS_PAGE = 20
MAX_SESSIONS_PAGE = 100
# A session of a large meeting has thousands of participant rows; one page of
# sessions stays small by listing the first ones of each, with the total.
PARTICIPANTS_PER_SESSION = 100
MAX_ID = 2**31 - 1
# Attendance: every participant session of one room session, page by page.
DEFAULT_ATTENDANCE_PAGE = 100
MAX_ATTENDANCE_PAGE = 500


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
    # How many participant sessions it had; `participants` lists the first 100.
    participants_total: int
    participants: list[ParticipantSessionOut]


class SessionPage(BaseModel):
    items: list[SessionOut]
    next_cursor: str | None


class AttendeeOut(ParticipantSessionOut):
    """One connection of a session; its duration runs until now while it is connected."""

    # standard, agent, egress, ingress, sip (LiveKit's participant kinds).
    kind: str
    # Tracks it publishes now; for one that left, those it published when it left.
    track_count: int


class AttendeePage(BaseModel):
    items: list[AttendeeOut]
    next_cursor: str | None


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


async def _require_room(name: str) -> None:
    async with database_work():
        found = await room_exists(name)
    if not found:
        raise RoomNotFoundError(name)


@blueprint.get("/v1/rooms/<string:name>/participants")
@wallet_allowed
@validate_response(ParticipantList)
@documents_errors(401, 403, 404, 503)
async def list_participants(name: str) -> ParticipantList:
    """Who is in the room now.

    Live participants as the room's actor knows them from LiveKit's webhooks.
    A wallet may ask only about rooms it owns.
    """
    manager = acting_manager()
    live: list[LiveParticipant] = await services().rooms.ask(name, ListParticipants(manager))
    return ParticipantList(items=[ParticipantOut.of(p) for p in live])


class _PageQuery(BaseModel):
    # A misspelt parameter is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid")

    # Opaque to clients; it is the id of the row the previous page ended at.
    cursor: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}$")] | None = None

    def after(self) -> int | None:
        return None if self.cursor is None else min(int(self.cursor), MAX_ID)


class SessionListQuery(_PageQuery):
    limit: Annotated[int, Field(ge=1, le=MAX_SESSIONS_PAGE)] = DEFAULT_SESSIONS_PAGE


@blueprint.get("/v1/rooms/<string:name>/sessions")
@wallet_allowed
@validate_querystring(SessionListQuery)
@validate_response(SessionPage)
@documents_errors(401, 403, 404, 422, 503)
async def list_sessions(name: str, query_args: SessionListQuery) -> SessionPage:
    """The room's history.

    Its LiveKit sessions, newest first, in pages: pass `next_cursor` back as
    `cursor` for the next page. Each session lists its first 100 participants
    (by join time); `participants_total` says how many there were in all. A
    wallet may ask only about rooms it owns.
    """
    await require_room_manager(name)
    await _require_room(name)
    after = query_args.after()
    # The whole page within what is left of the request's database budget.
    async with database_work():
        page = await room_history(name, query_args.limit, after, PARTICIPANTS_PER_SESSION)
    sessions = page.sessions
    return SessionPage(
        items=[_session_out(s) for s in sessions],
        next_cursor=str(sessions[-1].id) if page.more and sessions else None,
    )


def _session_out(s: HistorySession) -> SessionOut:
    return SessionOut(
        sid=s.sid,
        started_at=s.started_at,
        ended_at=s.ended_at,
        duration_seconds=_seconds(s.started_at, s.ended_at),
        participants_total=s.participants_total,
        participants=[
            ParticipantSessionOut(**asdict(p), duration_seconds=_seconds(p.joined_at, p.left_at))
            for p in s.participants
        ],
    )


class AttendanceQuery(_PageQuery):
    limit: Annotated[int, Field(ge=1, le=MAX_ATTENDANCE_PAGE)] = DEFAULT_ATTENDANCE_PAGE


@blueprint.get("/v1/rooms/<string:name>/sessions/<string:sid>/participants")
@wallet_allowed
@validate_querystring(AttendanceQuery)
@validate_response(AttendeePage)
@documents_errors(401, 403, 404, 422, 503)
async def list_session_participants(
    name: str, sid: str, query_args: AttendanceQuery
) -> AttendeePage:
    """Attendance of one session.

    Every participant session of the room's LiveKit session `sid` (each
    connection: one who left and came back appears twice), in join order, in
    pages: pass `next_cursor` back as `cursor` for the next page. 404
    `session_not_found` when the room has no session `sid`. A wallet may ask
    only about rooms it owns.
    """
    await require_room_manager(name)
    await _require_room(name)
    after = query_args.after()
    async with database_work():
        page = await session_attendance(name, sid, query_args.limit, after)
    if page is None:
        raise APIError(404, "session_not_found", "The room has no session with that sid.")
    now = services().now()
    attendees = page.attendees
    return AttendeePage(
        items=[_attendee_out(a, now) for a in attendees],
        next_cursor=str(attendees[-1].id) if page.more and attendees else None,
    )


def _attendee_out(a: Attendee, now: dt.datetime) -> AttendeeOut:
    fields = {k: v for k, v in asdict(a).items() if k != "id"}  # the id is the cursor
    return AttendeeOut(**fields, duration_seconds=_seconds(a.joined_at, a.left_at or now))
