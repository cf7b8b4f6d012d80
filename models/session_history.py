"""A room's history from the sessions tables (models/sessions.py), page by page.

What the history route reads: a room name's LiveKit sessions, newest first,
each with its first participant sessions and how many it had. What the
attendance route reads: every participant session of one of them, in join
order. A page is a few bounded queries, run within the caller's deadline.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from tortoise.expressions import Q
from tortoise.functions import Count

from models.sessions import MAX_SID, ParticipantSession, RoomSession


@dataclass(frozen=True, slots=True)
class HistoryParticipant:
    """One participant session of a past or current room session."""

    identity: str
    name: str | None
    sid: str
    joined_at: dt.datetime | None
    left_at: dt.datetime | None
    disconnect_reason: str | None


@dataclass(frozen=True, slots=True)
class HistorySession:
    """One room session, with its first participant sessions (by join) and their total."""

    id: int  # the page's cursor
    sid: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    participants_total: int
    participants: list[HistoryParticipant]


@dataclass(frozen=True, slots=True)
class HistoryPage:
    sessions: list[HistorySession]
    more: bool  # whether sessions follow this page


async def room_history(
    room_name: str, limit: int, after_id: int | None, participants_per_session: int
) -> HistoryPage:
    """Sessions of `room_name` newest first (by start, then id), at most `limit`,
    after session `after_id` (None: from the newest). A session id that is not this
    room's gives an empty page."""
    sessions = RoomSession.filter(room_name=room_name)
    if after_id is not None:
        last = await RoomSession.get_or_none(room_name=room_name, id=after_id)
        if last is None:
            return HistoryPage([], more=False)
        sessions = sessions.filter(
            Q(started_at__lt=last.started_at) | Q(started_at=last.started_at, id__lt=last.id)
        )
    # One more than asked, to tell whether more follow.
    fetched = await sessions.order_by("-started_at", "-id").limit(limit + 1)
    page = fetched[:limit]
    totals = await _participant_totals([s.id for s in page])
    items = []
    for s in page:
        # One bounded query per session: a page costs at most `limit` of them.
        participants = (
            await ParticipantSession.filter(room_session_id=s.id)
            .order_by("joined_at", "id")
            .limit(participants_per_session)
        )
        items.append(
            HistorySession(
                id=s.id,
                sid=s.sid,
                started_at=s.started_at,
                ended_at=s.ended_at,
                participants_total=totals.get(s.id, 0),
                participants=[
                    HistoryParticipant(
                        identity=p.identity,
                        name=p.name,
                        sid=p.sid,
                        joined_at=p.joined_at,
                        left_at=p.left_at,
                        disconnect_reason=p.disconnect_reason,
                    )
                    for p in participants
                ],
            )
        )
    return HistoryPage(items, more=len(fetched) > limit)


async def _participant_totals(ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    counted = (
        await ParticipantSession.filter(room_session_id__in=ids)
        .annotate(total=Count("id"))
        .group_by("room_session_id")
        .values("room_session_id", "total")
    )
    return {int(row["room_session_id"]): int(row["total"]) for row in counted}


# -- attendance: every participant session of one room session ------------------------


@dataclass(frozen=True, slots=True)
class Attendee:
    """One participant session (one connection) of a room session."""

    id: int  # the page's cursor
    identity: str
    name: str | None
    sid: str
    kind: str
    joined_at: dt.datetime | None
    left_at: dt.datetime | None
    disconnect_reason: str | None
    track_count: int


@dataclass(frozen=True, slots=True)
class AttendancePage:
    attendees: list[Attendee]
    more: bool  # whether participant sessions follow this page


_COLUMNS = (
    "id",
    "identity",
    "name",
    "sid",
    "kind",
    "joined_at",
    "left_at",
    "disconnect_reason",
    "track_count",
)


async def session_attendance(
    room_name: str, session_sid: str, limit: int, after_id: int | None
) -> AttendancePage | None:
    """Participant sessions of room `room_name`'s session `session_sid` in join order,
    at most `limit`, after participant session `after_id` (None: from the first).

    None when the room name has no such session. Join order is (joined_at, id):
    a keyset, so a page never skips or repeats a row whatever joins meanwhile.
    The few rows without a join time (a leave whose join never came) follow all
    the others, by id: the same order on PostgreSQL and SQLite, which sort NULL
    at opposite ends. An id that is not this session's gives an empty page.
    """
    if len(session_sid) > MAX_SID:
        return None  # could never have been stored
    session = await RoomSession.get_or_none(sid=session_sid, room_name=room_name).only("id")
    if session is None:
        return None
    rows = ParticipantSession.filter(room_session_id=session.id)
    after: dict[str, Any] | None = None
    if after_id is not None:
        after = await rows.filter(id=after_id).first().values("id", "joined_at")
        if after is None:
            return AttendancePage([], more=False)
    # One more than asked, to tell whether more follow.
    fetched: list[dict[str, Any]] = []
    if after is None or after["joined_at"] is not None:
        joined = rows.filter(joined_at__isnull=False)
        if after is not None:
            at = after["joined_at"]
            joined = joined.filter(Q(joined_at__gt=at) | Q(joined_at=at, id__gt=after["id"]))
        fetched += await joined.order_by("joined_at", "id").limit(limit + 1).values(*_COLUMNS)
    if len(fetched) <= limit:
        unjoined = rows.filter(joined_at__isnull=True)
        if after is not None and after["joined_at"] is None:
            unjoined = unjoined.filter(id__gt=after["id"])
        fetched += await unjoined.order_by("id").limit(limit + 1 - len(fetched)).values(*_COLUMNS)
    return AttendancePage([Attendee(**row) for row in fetched[:limit]], more=len(fetched) > limit)
