"""The webhook inbox as ops and upkeep see it: the backlog, failed events, retention.

Counts use the inbox's one definition of pending (models/webhook_inbox.py).
Each function runs within its caller's deadline.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from models.db import Database, connection, is_postgres, placeholder, timestamp
from models.webhook_inbox import WebhookInbox, failed, pending


async def count_pending(max_attempts: int) -> int:
    """How many stored events are still to apply, in all rooms."""
    conn = connection()
    rows = await conn.execute_query_dict(
        f"SELECT COUNT(*) AS n FROM webhook_inbox WHERE {pending(placeholder(conn) + '1')}",  # noqa: S608
        [max_attempts],
    )
    return int(rows[0]["n"])


@dataclass(frozen=True, slots=True)
class FailedEventRow:
    """An event kept after failing `max_attempts` times, as ops read it."""

    event_id: str
    event_type: str
    room_name: str | None
    attempts: int
    last_error: str | None
    received_at: dt.datetime


@dataclass(frozen=True, slots=True)
class InboxBacklog:
    """What the inbox holds unprocessed: pending and failed counts, the newest failed."""

    pending: int
    failed: int
    newest_failed: list[FailedEventRow]


async def inbox_backlog(max_attempts: int, shown: int) -> InboxBacklog:
    """Counts of pending and failed events, and the newest `shown` failed ones."""
    conn = connection()
    limit = placeholder(conn) + "1"
    counts = await conn.execute_query_dict(
        f"SELECT COUNT(CASE WHEN {pending(limit)} THEN 1 END) AS pending, "  # noqa: S608
        f"COUNT(CASE WHEN {failed(limit)} THEN 1 END) AS failed "
        "FROM webhook_inbox WHERE processed_at IS NULL",
        [max_attempts],
    )
    rows = await conn.execute_query_dict(
        "SELECT event_id, event_type, room_name, attempts, last_error, received_at "  # noqa: S608
        f"FROM webhook_inbox WHERE {failed(limit)} ORDER BY id DESC "
        f"LIMIT {placeholder(conn)}2",
        [max_attempts, shown],
    )
    return InboxBacklog(
        pending=int(counts[0]["pending"]),
        failed=int(counts[0]["failed"]),
        newest_failed=[
            FailedEventRow(
                event_id=str(row["event_id"]),
                event_type=str(row["event_type"]),
                room_name=None if row["room_name"] is None else str(row["room_name"]),
                attempts=int(row["attempts"]),
                last_error=None if row["last_error"] is None else str(row["last_error"]),
                received_at=timestamp(row["received_at"]),
            )
            for row in rows
        ],
    )


# Any one node of a cluster prunes at a time (a transaction-scoped advisory lock).
_PRUNING_LOCK = 0x51A7_1E7E


async def blank_payloads_processed_before(
    database: Database, cutoff: dt.datetime, limit: int
) -> int:
    """Blank the payloads of at most `limit` events processed before `cutoff`; how many
    (0 too when another node of the cluster is pruning right now).

    The rows stay, with their event ids, so a late retry of an old event is
    still recognised as a duplicate. Unprocessed events keep theirs for ops.
    """
    async with database.transaction() as conn:
        if is_postgres(conn):
            rows = await conn.execute_query_dict(
                "SELECT pg_try_advisory_xact_lock($1) AS mine", [_PRUNING_LOCK]
            )
            if not rows[0]["mine"]:
                return 0
        ids = (
            await WebhookInbox.filter(processed_at__lt=cutoff)
            .using_db(conn)
            .exclude(payload="")
            .limit(limit)
            .values_list("id", flat=True)
        )
        if not ids:
            return 0
        return await WebhookInbox.filter(id__in=list(ids)).using_db(conn).update(payload="")
