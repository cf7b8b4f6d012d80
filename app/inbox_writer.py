"""The webhook inbox's writer: concurrent deliveries stored by one statement.

Every acknowledgement still waits for its own event's commit (stored before
the 200), but deliveries that arrive together share that commit: one insert
of many rows instead of one insert, one connection and one WAL flush each.
Under a burst this keeps pool connections free for the room actors and cuts
the database's work per event, so events are applied sooner after their ack.

A batch that fails for its data (not for the database being away) is retried
row by row, so one bad row answers 503 for itself alone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from actors.batching import TurnBatches
from models.db import DatabaseUnavailableError
from models.webhook_inbox import StoredEvent, insert_events

log = logging.getLogger(__name__)

# Inserts in flight at once (each holds one pooled connection), and rows per insert.
MAX_IN_FLIGHT = 2
MAX_ROWS = 500
# An insert that has not answered by then counts as the database being away
# (503, LiveKit retries; if it did commit, the retry is a duplicate): a dead
# connection must not hold deliveries until TCP gives up on it.
INSERT_TIMEOUT_SECONDS = 10.0
_UNAVAILABLE: tuple[type[Exception], ...] = (DatabaseUnavailableError, TimeoutError)


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """A verified event, as the inbox stores it."""

    event_id: str
    event_type: str
    room_name: str | None
    room_sid: str | None
    livekit_created_at: int
    payload: str
    # Nothing to apply (no room claims it): stored as already processed.
    done: bool = False


@dataclass(slots=True)
class _Waiting:
    row: StoredEvent
    stored: asyncio.Future[None]


class InboxWriter:
    """Stores entries in shared inserts; `store` returns once its entry is committed."""

    def __init__(self, now: Callable[[], dt.datetime]) -> None:
        self._now = now
        # Deliveries handled in one turn of the loop share the insert.
        self._batches = TurnBatches(self._write, max_in_flight=MAX_IN_FLIGHT, max_batch=MAX_ROWS)
        self.inserts = 0  # for ops and tests: insert statements that committed

    async def store(self, entry: InboxEntry) -> None:
        """Commit `entry` (a duplicate event id counts as stored); raises if it cannot be."""
        received_at = self._now()
        row = StoredEvent(
            event_id=entry.event_id,
            event_type=entry.event_type,
            room_name=entry.room_name,
            room_sid=entry.room_sid,
            livekit_created_at=entry.livekit_created_at,
            received_at=received_at,
            payload=entry.payload,
            processed_at=received_at if entry.done else None,
        )
        waiting = _Waiting(row, asyncio.get_running_loop().create_future())
        self._batches.add(waiting)
        # Shielded: a delivery whose client went away is still stored (LiveKit's
        # retry then finds it), and the shared insert is not cut short for others.
        await asyncio.shield(waiting.stored)

    async def close(self) -> None:
        """Wait for inserts in flight (at shutdown, before the database closes)."""
        await self._batches.close()

    async def _write(self, batch: list[_Waiting]) -> None:
        try:
            await self._insert(batch)
        except BaseException as error:
            # Whatever went wrong, no delivery may wait forever for its answer.
            _fail(batch, error if isinstance(error, Exception) else RuntimeError("not stored"))
            raise

    async def _insert(self, batch: list[_Waiting]) -> None:
        try:
            async with asyncio.timeout(INSERT_TIMEOUT_SECONDS):
                await insert_events([w.row for w in batch])
            self.inserts += 1
        except _UNAVAILABLE as error:
            _fail(batch, error)
            return
        except Exception:
            if len(batch) == 1:
                log.exception("webhook %s could not be stored", batch[0].row.event_id)
                _fail(batch, RuntimeError("not stored"))
                return
            log.warning("storing %d webhooks together failed; one by one", len(batch))
            for waiting in batch:
                await self._insert([waiting])
            return
        for waiting in batch:
            if not waiting.stored.done():
                waiting.stored.set_result(None)


def _fail(batch: list[_Waiting], error: Exception) -> None:
    for waiting in batch:
        if not waiting.stored.done():
            waiting.stored.set_exception(error)
            # Marked as seen: a delivery whose client went away never awaits it.
            waiting.stored.exception()
