"""Recordings: a room's LiveKit egresses, keyed by egress id, and their SQL.

A row is made when Qari starts an egress, or when LiveKit first reports one
(an egress started elsewhere is recorded too, under its room's name, as
sessions are). Its status then follows LiveKit's egress webhooks, which come
in no order with the room's events or each other: each carries the egress's
own `updated_at`, and `supersedes` (below) decides whether it changes the row.
That rule lives beside the table because only the write sees the row as
stored, under its lock. Every write also sets the `recording` flag of the
rows' rooms, in the same transaction, so the Room object never disagrees.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from models.db import Database, is_postgres, timestamp
from models.outbox import Event, append
from models.outbox_events import recording_ended, recording_started

MAX_EGRESS_ID = 64


class RecordingStatus(StrEnum):
    STARTING = "starting"
    ACTIVE = "active"
    ENDING = "ending"
    COMPLETE = "complete"
    FAILED = "failed"
    ABORTED = "aborted"


# While one of these, the room is recording (and may not start another).
RUNNING = (RecordingStatus.STARTING, RecordingStatus.ACTIVE)
ENDED = (RecordingStatus.COMPLETE, RecordingStatus.FAILED, RecordingStatus.ABORTED)
# LiveKit's egress statuses only move forward; so do ours, whatever order the
# webhooks arrive in (Qari's own `ending`, on a stop or a room's end, included).
_RANK = {
    RecordingStatus.STARTING: 0,
    RecordingStatus.ACTIVE: 1,
    RecordingStatus.ENDING: 2,
    RecordingStatus.COMPLETE: 3,
    RecordingStatus.FAILED: 3,
    RecordingStatus.ABORTED: 3,
}
# A recording reported active, or complete (it was active, whether or not that
# webhook arrived): its recording.started is due.
_WAS_ACTIVE = (RecordingStatus.ACTIVE, RecordingStatus.COMPLETE)


class Recording(Model):
    """One egress of a room, as LiveKit last reported it (or Qari set it ending)."""

    # The order Qari learned of recordings (newest first is by it): the page cursor.
    id = fields.BigIntField(primary_key=True)
    egress_id = fields.CharField(max_length=MAX_EGRESS_ID, unique=True)
    room_name = fields.CharField(max_length=128)
    # The LiveKit room sid of the session it records (null: LiveKit did not say).
    session_sid = fields.CharField(max_length=64, null=True)
    status = fields.CharField(max_length=16)
    audio_only = fields.BooleanField(default=False)
    started_at = fields.DatetimeField()
    ended_at = fields.DatetimeField(null=True)
    # LiveKit's updated_at of the state stored: an older report never overrides it.
    updated_at = fields.DatetimeField()
    # Whether recording.started has been written (once per recording).
    seen_active = fields.BooleanField(default=False)
    # The files LiveKit wrote (a JSON list of RecordingFile).
    files = fields.TextField(default="[]")
    error = fields.TextField(null=True)

    class Meta:
        table = "recordings"
        indexes = (("room_name", "id"),)


@dataclass(frozen=True, slots=True)
class RecordingFile:
    filename: str
    location: str
    size: int
    duration_seconds: float | None


@dataclass(frozen=True, slots=True)
class EgressUpdate:
    """An egress's state as LiveKit reported it (a webhook, or Start's answer)."""

    egress_id: str
    room_name: str
    session_sid: str | None
    status: RecordingStatus
    updated_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    audio_only: bool
    files: tuple[RecordingFile, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SessionOver:
    """A room's LiveKit session ended: its recordings still running are ending."""

    room_name: str
    session_sid: str


def supersedes(
    update: EgressUpdate, status: RecordingStatus | str, updated_at: dt.datetime
) -> bool:
    """Whether `update` replaces a recording stored with `status` at `updated_at`:
    only a newer report, and never one that would move the status back."""
    return update.updated_at > updated_at and _RANK[update.status] >= _RANK[RecordingStatus(status)]


@dataclass(frozen=True, slots=True)
class RecordingRow:
    """A recordings row as plain values."""

    id: int
    egress_id: str
    room_name: str
    session_sid: str | None
    status: str
    audio_only: bool
    started_at: dt.datetime
    ended_at: dt.datetime | None
    files: tuple[RecordingFile, ...]
    error: str | None

    @property
    def running(self) -> bool:
        return self.status in RUNNING

    def as_dict(self) -> dict[str, Any]:
        """The Recording object of the API (and of recording.* events)."""
        duration = None
        if self.ended_at is not None:
            duration = max(0.0, (self.ended_at - self.started_at).total_seconds())
        return {
            "id": self.egress_id,
            "room": self.room_name,
            "session": self.session_sid,
            "status": self.status,
            "audio_only": self.audio_only,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_seconds": duration,
            "files": [_file_dict(f) for f in self.files],
            "error": self.error,
        }

    @classmethod
    def of(cls, row: Recording) -> RecordingRow:
        return cls(
            id=row.id,
            egress_id=row.egress_id,
            room_name=row.room_name,
            session_sid=row.session_sid,
            status=row.status,
            audio_only=row.audio_only,
            started_at=timestamp(row.started_at),
            ended_at=None if row.ended_at is None else timestamp(row.ended_at),
            files=tuple(RecordingFile(**f) for f in json.loads(row.files or "[]")),
            error=row.error,
        )


def _file_dict(f: RecordingFile) -> dict[str, Any]:
    return {
        "filename": f.filename,
        "location": f.location,
        "size": f.size,
        "duration_seconds": f.duration_seconds,
    }


# -- writes (each inside its caller's fenced transaction) ----------------------------


async def apply_egress(
    conn: BaseDBAsyncClient,
    updates: Sequence[EgressUpdate],
    sessions_over: Sequence[SessionOver] = (),
) -> list[Event]:
    """Apply LiveKit's reports (in the order given) and the sessions' ends to the
    stored recordings, then their rooms' flags; the events written (recording.started
    when one is first known active, recording.ended when it first ends)."""
    first: dict[str, EgressUpdate] = {}
    for update in updates:
        first.setdefault(update.egress_id, update)
    # Rows made first (a start and a webhook round may both be first to know an
    # egress: the one that inserts makes the row, the other then updates it).
    fresh = {u.egress_id for u in first.values() if await _insert(conn, u)}
    stored: dict[str, Recording] = {}
    if first:
        # Locked (PostgreSQL) so a start and a webhook round on one egress take turns.
        rows = (
            await Recording.filter(egress_id__in=sorted(first)).using_db(conn).select_for_update()
        )
        stored = {r.egress_id: r for r in rows}
    events: list[Event] = []
    rooms: set[str] = set()
    for update in updates:
        row = stored[update.egress_id]
        if update.egress_id in fresh:
            fresh.discard(update.egress_id)  # this report is what the row was made of
            changed = ended_now = True
        else:
            changed = supersedes(update, row.status, timestamp(row.updated_at))
            ended_now = changed and row.status not in ENDED
            if changed:
                _take(row, update)
        started_now = update.status in _WAS_ACTIVE and not row.seen_active
        if started_now:
            row.seen_active = True
        if not (changed or started_now):
            continue
        await row.save(using_db=conn)
        rooms.add(row.room_name)
        recording = RecordingRow.of(row)
        if started_now:
            events.append(recording_started(recording.as_dict(), update.updated_at))
        if ended_now and row.status in ENDED:
            events.append(recording_ended(recording.as_dict(), update.updated_at))
    for over in sessions_over:
        await _end_session_recordings(conn, over)
        rooms.add(over.room_name)
    await refresh_room_flags(conn, rooms)
    await append(conn, events)
    return events


async def _insert(conn: BaseDBAsyncClient, update: EgressUpdate) -> bool:
    """The egress's row made of this report; False when it is stored already."""
    p = "$" if is_postgres(conn) else "?"
    marks = ", ".join(f"{p}{i}" for i in range(1, 11))
    rows = await conn.execute_query_dict(
        "INSERT INTO recordings (egress_id, room_name, session_sid, status, audio_only, "  # noqa: S608
        f"started_at, ended_at, updated_at, files, error, seen_active) VALUES ({marks}, false) "
        "ON CONFLICT (egress_id) DO NOTHING RETURNING id",
        [
            update.egress_id,
            update.room_name,
            update.session_sid,
            update.status.value,
            update.audio_only,
            update.started_at or update.updated_at,
            update.ended_at,
            update.updated_at,
            json.dumps([_file_dict(f) for f in update.files]),
            update.error,
        ],
    )
    return bool(rows)


def _take(row: Recording, update: EgressUpdate) -> None:
    """The report's state on the row; what it leaves out (LiveKit's zeros) stays."""
    row.status = update.status.value
    row.updated_at = update.updated_at
    row.session_sid = row.session_sid or update.session_sid
    if update.started_at is not None:
        row.started_at = update.started_at
    if update.ended_at is not None:
        row.ended_at = update.ended_at
    if update.files:
        row.files = json.dumps([_file_dict(f) for f in update.files])
    if update.error:
        row.error = update.error


async def _end_session_recordings(conn: BaseDBAsyncClient, over: SessionOver) -> None:
    p = "$" if is_postgres(conn) else "?"
    await conn.execute_query(
        f"UPDATE recordings SET status = 'ending' WHERE room_name = {p}1 "  # noqa: S608
        f"AND (session_sid = {p}2 OR session_sid IS NULL) "
        "AND status IN ('starting', 'active')",
        [over.room_name, over.session_sid],
    )


async def end_recording(conn: BaseDBAsyncClient, egress_id: str) -> None:
    """Qari stopped it: `ending` if it was still running (its egress_ended completes it)."""
    p = "$" if is_postgres(conn) else "?"
    rows = await conn.execute_query_dict(
        f"UPDATE recordings SET status = 'ending' WHERE egress_id = {p}1 "  # noqa: S608
        "AND status IN ('starting', 'active') RETURNING room_name",
        [egress_id],
    )
    await refresh_room_flags(conn, {str(r["room_name"]) for r in rows})


async def refresh_room_flags(conn: BaseDBAsyncClient, room_names: Iterable[str]) -> None:
    """Set `rooms.recording` of these rooms from their recordings, as they now stand."""
    names = sorted(set(room_names))
    if not names:
        return
    args: list[object]
    if is_postgres(conn):
        where, args = "name = ANY($1::text[])", [names]
    else:
        where, args = f"name IN ({', '.join('?' for _ in names)})", [*names]
    await conn.execute_query(
        "UPDATE rooms SET recording = EXISTS (SELECT 1 FROM recordings c "  # noqa: S608
        "WHERE c.room_name = rooms.name AND c.status IN ('starting', 'active')) "
        f"WHERE {where}",
        args,
    )


async def store_started(
    database: Database,
    fence: dict[str, int],
    update: EgressUpdate,
    seconds: float | None = None,
) -> RecordingRow:
    """A recording Qari started, fenced by its room's lease: applied as LiveKit's first
    report of it (a webhook that came first, and is newer, stays)."""
    async with database.room_write(fence, seconds) as conn:
        events = await apply_egress(conn, [update])
        row = await Recording.get(egress_id=update.egress_id, using_db=conn)
    if events:
        database.events_committed()
    return RecordingRow.of(row)


async def store_stopped(
    database: Database, fence: dict[str, int], egress_id: str, seconds: float | None = None
) -> RecordingRow:
    """A recording Qari stopped: ending, fenced by its room's lease."""
    async with database.room_write(fence, seconds) as conn:
        await end_recording(conn, egress_id)
        row = await Recording.get(egress_id=egress_id, using_db=conn)
    return RecordingRow.of(row)


# What a recording LiveKit no longer has is left with (the API's `error`).
LOST = "LiveKit no longer has this egress"


async def store_lost(
    database: Database,
    fence: dict[str, int],
    egress_id: str,
    at: dt.datetime,
    seconds: float | None = None,
) -> RecordingRow:
    """A running recording whose egress LiveKit no longer has: aborted at `at`, as if
    LiveKit had reported so (recording.ended written), fenced by its room's lease."""
    async with database.room_write(fence, seconds) as conn:
        row = await Recording.get(egress_id=egress_id, using_db=conn)
        if RecordingStatus(row.status) not in ENDED:
            # Later than anything LiveKit reported, whatever its clock said.
            later = max(at, timestamp(row.updated_at) + dt.timedelta(milliseconds=1))
            update = EgressUpdate(
                egress_id=egress_id,
                room_name=row.room_name,
                session_sid=row.session_sid,
                status=RecordingStatus.ABORTED,
                updated_at=later,
                started_at=None,
                ended_at=later,
                audio_only=row.audio_only,
                error=LOST,
            )
            events = await apply_egress(conn, [update])
            row = await Recording.get(egress_id=egress_id, using_db=conn)
        else:
            events = []
    if events:
        database.events_committed()
    return RecordingRow.of(row)


# -- reads -----------------------------------------------------------------------------


async def recording_running(room_name: str) -> bool:
    """Whether a recording of the room is starting or active."""
    return await Recording.exists(room_name=room_name, status__in=[s.value for s in RUNNING])


async def recording_of(room_name: str, egress_id: str) -> RecordingRow | None:
    """The room's recording with this egress id (None: none, or another room's)."""
    if len(egress_id) > MAX_EGRESS_ID:
        return None
    row = await Recording.get_or_none(egress_id=egress_id, room_name=room_name)
    return None if row is None else RecordingRow.of(row)


async def room_recordings(
    room_name: str, limit: int, after_id: int | None
) -> tuple[list[RecordingRow], bool]:
    """The room's recordings newest first, at most `limit`, after `after_id` (the
    previous page's last); and whether more follow."""
    query = Recording.filter(room_name=room_name)
    if after_id is not None:
        query = query.filter(id__lt=after_id)
    rows = await query.order_by("-id").limit(limit + 1)
    return [RecordingRow.of(r) for r in rows[:limit]], len(rows) > limit
