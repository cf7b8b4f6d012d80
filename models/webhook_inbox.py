"""The durable inbox: every verified webhook is stored here before it is acknowledged.

Its statements take lists, so one costs the same round trip for one row or
five hundred: concurrent deliveries share one insert, and many rooms share
one read of what is pending. One statement text serves any number of rows on
PostgreSQL (arrays through `unnest`), so it stays prepared.

What "pending" means is written once (`pending`, below) and every statement
that reads or counts pending events uses it. The functions here run within
their caller's deadline (Database.bounded, or a route's database_work), except
the insert and the committer's read, which carry their own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from tortoise import fields
from tortoise.models import Model

from models.db import Database, columns, connection, is_postgres, placeholder, timestamp


class WebhookInbox(Model):
    """One LiveKit event, unique by its id; applied by its room's actor, once."""

    id = fields.BigIntField(primary_key=True)
    event_id = fields.CharField(max_length=128, unique=True)
    event_type = fields.CharField(max_length=64)
    room_name = fields.CharField(max_length=128, null=True)
    room_sid = fields.CharField(max_length=64, null=True)
    # LiveKit's own timestamp (seconds): events are applied in this order, then arrival.
    livekit_created_at = fields.BigIntField(default=0)
    received_at = fields.DatetimeField(auto_now_add=True)
    payload = fields.TextField()
    # When the event's effects committed, by the database's clock, set by the
    # statement that writes them (models/webhook_effects.py: PROCESSED_NOW); an
    # event no room claims is stored processed, at its receipt. Null: not yet.
    processed_at = fields.DatetimeField(null=True)
    # Failed attempts to apply it; at WEBHOOK_MAX_ATTEMPTS it stops being pending.
    attempts = fields.IntField(default=0)
    last_error = fields.TextField(null=True)

    class Meta:
        table = "webhook_inbox"
        indexes = (("room_name", "processed_at"),)


def pending(max_attempts: str) -> str:
    """The one definition of a pending event, as a condition on webhook_inbox:
    not processed, and failed fewer than `max_attempts` (a placeholder) times."""
    return f"processed_at IS NULL AND attempts < {max_attempts}"


def failed(max_attempts: str) -> str:
    """Not processed and out of attempts: kept, with its last error, for ops."""
    return f"processed_at IS NULL AND NOT ({pending(max_attempts)})"


# Column sizes, for the route that refuses what could never be stored.
MAX_EVENT_ID = 128
MAX_EVENT_TYPE = 64
MAX_ROOM_NAME = 128
MAX_SID = 64
MAX_ERROR = 2000


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A verified event as the inbox stores it."""

    event_id: str
    event_type: str
    room_name: str | None
    room_sid: str | None
    livekit_created_at: int
    received_at: dt.datetime
    payload: str
    # Nothing to apply (no room claims it): stored as already processed.
    processed_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """A stored event not applied yet, as its room's rules read it."""

    id: int
    room_name: str
    event_type: str
    payload: str
    livekit_created_at: int
    received_at: dt.datetime
    attempts: int


@dataclass(frozen=True, slots=True)
class PendingQuery:
    """A room whose pending events to read: those received up to `as_of`."""

    room_name: str
    as_of: dt.datetime


@dataclass(frozen=True, slots=True)
class FailedAttempt:
    """An event that failed to decide or to write: one attempt more, and why."""

    id: int
    error: str


_INSERT_PG = (
    "INSERT INTO webhook_inbox (event_id, event_type, room_name, room_sid, livekit_created_at, "
    "received_at, payload, processed_at, attempts) "
    "SELECT *, 0 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], "
    "$6::timestamptz[], $7::text[], $8::timestamptz[]) ON CONFLICT (event_id) DO NOTHING"
)
_INSERT_SQLITE = (
    "INSERT INTO webhook_inbox (event_id, event_type, room_name, room_sid, livekit_created_at, "
    "received_at, payload, processed_at, attempts) VALUES {values} "
    "ON CONFLICT (event_id) DO NOTHING"
)


async def insert_events(database: Database, events: Sequence[StoredEvent]) -> None:
    """Store events in one statement; an event id already stored is skipped (a retry
    of one we have). Within the database's timeout."""
    if not events:
        return
    rows = [
        [
            e.event_id,
            e.event_type,
            e.room_name,
            e.room_sid,
            e.livekit_created_at,
            e.received_at,
            e.payload,
            e.processed_at,
        ]
        for e in events
    ]
    conn = connection()
    async with database.bounded():
        if is_postgres(conn):
            await conn.execute_query(_INSERT_PG, columns(rows, 8))
        else:
            values = ", ".join("(?, ?, ?, ?, ?, ?, ?, ?, 0)" for _ in rows)
            sql = _INSERT_SQLITE.format(values=values)
            await conn.execute_query(sql, [value for row in rows for value in row])


_PENDING_PG = (
    "SELECT id, room_name, event_type, payload, livekit_created_at, received_at, attempts "  # noqa: S608
    "FROM (SELECT w.*, ROW_NUMBER() OVER (PARTITION BY w.room_name "
    "ORDER BY w.livekit_created_at, w.id) AS place FROM webhook_inbox w "
    "JOIN unnest($3::text[], $4::timestamptz[]) AS r(name, as_of) "
    "ON w.room_name = r.name AND w.received_at <= r.as_of "
    f"WHERE {pending('$1')}) AS ranked "
    "WHERE place <= $2 ORDER BY livekit_created_at, id"
)


async def read_pending(
    database: Database, queries: Sequence[PendingQuery], *, max_attempts: int, per_room: int
) -> list[PendingEvent]:
    """The oldest pending events of these rooms, at most `per_room` of each.

    Oldest first by LiveKit's clock, then arrival, so a room whose backlog is
    cut keeps its order and no room's backlog crowds out the others. Events
    that failed `max_attempts` times are left for ops; events received after
    a room's `as_of` wait for its next round.
    """
    if not queries:
        return []
    conn = connection()
    if is_postgres(conn):
        sql = _PENDING_PG
        args: list[object] = [
            max_attempts,
            per_room,
            [q.room_name for q in queries],
            [q.as_of for q in queries],
        ]
    else:
        # julianday(): the ORM and raw statements write timestamps in two text forms.
        rooms = " OR ".join(
            f"(room_name = ?{3 + 2 * i} AND julianday(received_at) <= julianday(?{4 + 2 * i}))"
            for i in range(len(queries))
        )
        sql = (
            "SELECT id, room_name, event_type, payload, livekit_created_at, received_at, "  # noqa: S608
            "attempts FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY room_name "
            "ORDER BY livekit_created_at, id) AS place FROM webhook_inbox "
            f"WHERE {pending('?1')} AND ({rooms})"
            ") AS ranked WHERE place <= ?2 ORDER BY livekit_created_at, id"
        )
        args = [max_attempts, per_room]
        for q in queries:
            args += [q.room_name, q.as_of]
    async with database.bounded():
        rows = await conn.execute_query_dict(sql, args)
    return [
        PendingEvent(
            id=int(row["id"]),
            room_name=str(row["room_name"]),
            event_type=str(row["event_type"]),
            payload=str(row["payload"]),
            livekit_created_at=int(row["livekit_created_at"]),
            received_at=timestamp(row["received_at"]),
            attempts=int(row["attempts"]),
        )
        for row in rows
    ]


async def rooms_with_pending(max_attempts: int) -> list[str]:
    """Rooms with stored events still to apply."""
    conn = connection()
    p = placeholder(conn)
    rows = await conn.execute_query_dict(
        "SELECT DISTINCT room_name FROM webhook_inbox "  # noqa: S608
        f"WHERE room_name IS NOT NULL AND {pending(p + '1')}",
        [max_attempts],
    )
    return [str(row["room_name"]) for row in rows]


async def has_pending(room_name: str, max_attempts: int) -> bool:
    """Whether this room has stored events still to apply."""
    conn = connection()
    p = placeholder(conn)
    rows = await conn.execute_query_dict(
        f"SELECT 1 AS one FROM webhook_inbox WHERE room_name = {p}1 "  # noqa: S608
        f"AND {pending(p + '2')} LIMIT 1",
        [room_name, max_attempts],
    )
    return bool(rows)
