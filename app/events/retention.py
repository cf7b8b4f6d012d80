"""Events are kept EVENTS_RETENTION_HOURS, counted from when they were written.

An event older than that is deleted, with its deliveries and their attempts
(the foreign keys cascade), unless a delivery of it is still pending: an
endpoint still being retried keeps the event it is owed. Events not yet
numbered are never deleted (the sequencer has yet to see them). Deletion goes
in batches, each its own bounded statement, so a first run over a large
outbox neither holds a long transaction nor stalls on a slow database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from models.db import Database, is_postgres, is_unavailable, placeholder

log = logging.getLogger(__name__)

# How often expired events are looked for, and how many one statement deletes.
INTERVAL_SECONDS = 300.0
BATCH = 1000
# One node of a cluster deletes at a time (a transaction-scoped advisory lock):
# the others would only wait on its row locks to find the rows gone.
_RETENTION_LOCK = 0x0E7E_47DE


async def delete_expired_batch(database: Database, cutoff: dt.datetime, limit: int) -> int:
    """Delete at most `limit` events written before `cutoff` that no pending
    delivery needs; how many went."""
    async with database.transaction() as conn:
        if is_postgres(conn):
            rows = await conn.execute_query_dict(
                "SELECT pg_try_advisory_xact_lock($1) AS mine", [_RETENTION_LOCK]
            )
            if not rows[0]["mine"]:
                return 0
        mark = placeholder(conn)
        rows = await conn.execute_query_dict(
            # Oldest first, by the created_at index. The pending deliveries are
            # few next to the events (an endpoint's retries): NOT IN hashes them once.
            "DELETE FROM outbox_events WHERE id IN (SELECT id FROM outbox_events "  # noqa: S608
            f"WHERE created_at < {mark}1 AND seq IS NOT NULL AND id NOT IN "
            "(SELECT event_id FROM outbox_deliveries WHERE state = 'pending') "
            f"ORDER BY created_at LIMIT {mark}2) RETURNING id",
            # In UTC, as both databases hold created_at (SQLite compares its text).
            [cutoff.astimezone(dt.UTC), limit],
        )
    return len(rows)


class EventRetention:
    """The periodic deletion of events past EVENTS_RETENTION_HOURS."""

    def __init__(
        self,
        database: Database,
        retention_hours: float,
        now: Callable[[], dt.datetime],
        *,
        interval_seconds: float = INTERVAL_SECONDS,
        batch: int = BATCH,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._database = database
        self._retention = dt.timedelta(hours=retention_hours)
        self._now = now
        self._interval_seconds = interval_seconds
        self._batch = batch
        self._sleep = sleep

    async def run_once(self) -> int:
        """Delete every event past retention that may go; how many went."""
        cutoff = self._now() - self._retention
        deleted = 0
        while True:
            went = await delete_expired_batch(self._database, cutoff, self._batch)
            deleted += went
            if went < self._batch:
                return deleted

    async def run_forever(self) -> None:
        while True:
            try:
                deleted = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning(
                    "deleting expired events failed; next try in %ss",
                    self._interval_seconds,
                    exc_info=not is_unavailable(error),  # an outage needs no traceback
                )
            else:
                if deleted:
                    log.info("deleted %d event(s) past EVENTS_RETENTION_HOURS", deleted)
            await self._sleep(self._interval_seconds)
