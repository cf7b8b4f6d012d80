"""Statements that write many webhook rows at once, for both dialects.

Concurrent webhook deliveries share one inbox insert, and many rooms share one
apply transaction; each must cost the same round trips for one row or five
hundred, so these statements take lists: one insert for every delivery in
flight, one claim for every room's pending events, one `executemany` per kind
of update. The ORM builds a statement per call and per list length; written
here once, they stay prepared. Statements are written with PostgreSQL's `$n`;
SQLite reads the same numbered parameters as `?n`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

_NUMBERED = re.compile(r"\$(\d+)")


def _is_postgres(conn: BaseDBAsyncClient) -> bool:
    return bool(conn.capabilities.dialect == "postgres")


def _for(conn: BaseDBAsyncClient, sql: str) -> str:
    return sql if _is_postgres(conn) else _NUMBERED.sub(r"?\1", sql)


def _in_list(conn: BaseDBAsyncClient, first: int, values: Sequence[Any], pg_type: str) -> str:
    """`= ANY($n::type[])` on PostgreSQL (one statement whatever the length), else `IN (...)`."""
    if _is_postgres(conn):
        return f"= ANY(${first}::{pg_type}[])"
    return "IN (" + ", ".join(f"${first + i}" for i in range(len(values))) + ")"


def _list_args(conn: BaseDBAsyncClient, values: Sequence[Any]) -> list[Any]:
    return [list(values)] if _is_postgres(conn) else list(values)


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows as one list per column (PostgreSQL's `unnest` takes one array each)."""
    return [[row[i] for row in rows] for i in range(width)]


# The inbox columns an insert sets, in order (id is serial; last_error starts null).
INBOX_COLUMNS = (
    "event_id",
    "event_type",
    "room_name",
    "room_sid",
    "livekit_created_at",
    "received_at",
    "payload",
    "processed_at",
)
_INBOX_PG_TYPES = ("text", "text", "text", "text", "bigint", "timestamptz", "text", "timestamptz")


async def insert_inbox_rows(conn: BaseDBAsyncClient, rows: Sequence[Sequence[Any]]) -> None:
    """Store webhook events (values in INBOX_COLUMNS order); an event id already stored
    is skipped: a retry of an event we have is ours already."""
    if not rows:
        return
    columns = ", ".join(INBOX_COLUMNS)
    if _is_postgres(conn):
        # One statement text for any number of rows: one array per column.
        arrays = ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(_INBOX_PG_TYPES))
        sql = (
            f"INSERT INTO webhook_inbox ({columns}, attempts) "  # noqa: S608
            f"SELECT *, 0 FROM unnest({arrays}) ON CONFLICT (event_id) DO NOTHING"
        )
        args: list[Any] = _columns(rows, len(INBOX_COLUMNS))
    else:
        width = len(INBOX_COLUMNS)
        values = ", ".join(
            "(" + ", ".join(f"?{n * width + i + 1}" for i in range(width)) + ", 0)"
            for n in range(len(rows))
        )
        sql = (
            f"INSERT INTO webhook_inbox ({columns}, attempts) "  # noqa: S608
            f"VALUES {values} ON CONFLICT (event_id) DO NOTHING"
        )
        args = [value for row in rows for value in row]
    await conn.execute_query(sql, args)


async def read_pending(
    conn: BaseDBAsyncClient,
    rooms: Sequence[str],
    max_attempts: int,
    per_room: int,
) -> list[dict[str, Any]]:
    """The oldest pending events of these rooms, at most `per_room` of each.

    Oldest first by LiveKit's clock, so a room whose backlog is cut keeps its
    order and no room's backlog crowds out the others. Rows that failed
    `max_attempts` times are left for ops. Read inside the apply transaction;
    a room's rows are only ever applied by its own actor, one batch at a time.
    """
    rooms_in = _in_list(conn, 3, rooms, "text")
    # Only placeholders are formatted in (here and below); values go as parameters.
    sql = (
        "SELECT id, room_name, event_type, payload, livekit_created_at, attempts, "  # noqa: S608
        "received_at "
        "FROM (SELECT *, ROW_NUMBER() OVER ("
        "PARTITION BY room_name ORDER BY livekit_created_at, id) AS place "
        "FROM webhook_inbox "
        f"WHERE processed_at IS NULL AND attempts < $1 AND room_name {rooms_in}"
        ") AS ranked WHERE place <= $2"
    )
    args = [max_attempts, per_room, *_list_args(conn, rooms)]
    return list(await conn.execute_query_dict(_for(conn, sql), args))


def read_timestamp(value: Any) -> dt.datetime:
    """A timestamp column as read by a raw query: asyncpg gives datetimes, SQLite text."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


async def mark_processed(conn: BaseDBAsyncClient, ids: Sequence[int], at: dt.datetime) -> int:
    """Mark applied rows processed: the last write before the commit, so `at` is
    when their effects were all written. Returns how many were still pending."""
    if not ids:
        return 0
    sql = (
        "UPDATE webhook_inbox SET processed_at = $1, attempts = attempts + 1 "  # noqa: S608
        f"WHERE processed_at IS NULL AND id {_in_list(conn, 2, ids, 'bigint')}"
    )
    count, _ = await conn.execute_query(_for(conn, sql), [at, *_list_args(conn, ids)])
    return int(count)


# The participant_sessions columns a shared apply inserts, in order.
PARTICIPANT_COLUMNS = (
    "sid",
    "room_session_id",
    "identity",
    "name",
    "kind",
    "state",
    "joined_at",
    "left_at",
    "disconnect_reason",
    "track_count",
)
_PARTICIPANT_PG_TYPES = (
    "text",
    "int",
    "text",
    "text",
    "text",
    "text",
    "timestamptz",
    "timestamptz",
    "text",
    "int",
)


async def write_and_mark_postgres(
    conn: BaseDBAsyncClient,
    opened: Sequence[Sequence[Any]],
    changed: Sequence[tuple[dt.datetime | None, str | None, int | None, str]],
    rooms: Sequence[tuple[str, int, str | None, int]],
    ids: Sequence[int],
    at: dt.datetime,
) -> int:
    """A shared apply's writes and its mark, as ONE statement (PostgreSQL).

    `opened`: participant rows in PARTICIPANT_COLUMNS order; `changed`:
    (left_at, disconnect_reason, track_count, sid), None where unchanged, at
    most one per sid (a statement may not update a row twice); `rooms`: as
    `sync_rooms`. Data-modifying CTEs all run, on one snapshot; the statement
    is what marks `ids` processed and returns how many were still pending.
    """
    opened_arrays = ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(_PARTICIPANT_PG_TYPES))
    n = len(PARTICIPANT_COLUMNS)
    sql = (
        f"WITH opened AS (INSERT INTO participant_sessions ({', '.join(PARTICIPANT_COLUMNS)}) "  # noqa: S608
        f"SELECT * FROM unnest({opened_arrays})), "
        "changed AS (UPDATE participant_sessions p SET "
        "left_at = COALESCE(u.left_at, p.left_at), "
        "disconnect_reason = COALESCE(u.reason, p.disconnect_reason), "
        "state = CASE WHEN u.left_at IS NULL THEN p.state ELSE 'disconnected' END, "
        "track_count = COALESCE(u.tracks, p.track_count) "
        f"FROM unnest(${n + 1}::timestamptz[], ${n + 2}::text[], ${n + 3}::int[], "
        f"${n + 4}::text[]) AS u(left_at, reason, tracks, sid) WHERE p.sid = u.sid), "
        "synced AS (UPDATE rooms r SET status = s.status, num_participants = s.count, "
        "livekit_sid = COALESCE(s.sid, r.livekit_sid) "
        f"FROM unnest(${n + 5}::text[], ${n + 6}::int[], ${n + 7}::text[], "
        f"${n + 8}::int[]) AS s(status, count, sid, id) WHERE r.id = s.id) "
        f"UPDATE webhook_inbox SET processed_at = ${n + 9}, attempts = attempts + 1 "
        f"WHERE processed_at IS NULL AND id = ANY(${n + 10}::bigint[]) RETURNING id"
    )
    args = [
        *_columns(opened, n),
        *_columns(changed, 4),
        *_columns(rooms, 4),
        at,
        list(ids),
    ]
    # Read as rows: Tortoise reports no count for a statement that starts with WITH.
    return len(await conn.execute_query_dict(sql, args))


async def close_participants(
    conn: BaseDBAsyncClient, closes: Sequence[tuple[dt.datetime, str, str]]
) -> None:
    """(left_at, disconnect_reason, sid) for each participant session to close."""
    if closes:
        sql = (
            "UPDATE participant_sessions SET left_at = $1, disconnect_reason = $2, "
            "state = 'disconnected' WHERE sid = $3"
        )
        await conn.execute_many(_for(conn, sql), [list(c) for c in closes])


async def set_track_counts(conn: BaseDBAsyncClient, counts: Sequence[tuple[int, str]]) -> None:
    """(track_count, sid) for each participant session whose tracks changed."""
    if counts:
        sql = "UPDATE participant_sessions SET track_count = $1 WHERE sid = $2"
        await conn.execute_many(_for(conn, sql), [list(c) for c in counts])


async def sync_rooms(
    conn: BaseDBAsyncClient, rooms: Sequence[tuple[str, int, str | None, int]]
) -> None:
    """(status, num_participants, livekit_sid or None to keep it, room id) per room row."""
    if rooms:
        sql = (
            "UPDATE rooms SET status = $1, num_participants = $2, "
            "livekit_sid = COALESCE($3, livekit_sid) WHERE id = $4"
        )
        await conn.execute_many(_for(conn, sql), [list(r) for r in rooms])
