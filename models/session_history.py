"""A room's history from the sessions tables (models/sessions.py), page by page.

What the history route reads: a room name's LiveKit sessions, newest first,
each with its first participant sessions and how many it had. A page is a few
bounded queries, run within the caller's deadline.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tortoise.expressions import Q
from tortoise.functions import Count

from models.sessions import ParticipantSession, RoomSession


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
