"""The webhook inbox's writer: concurrent deliveries stored by one statement.

Every acknowledgement still waits for its own event's commit (stored before
the 200), but deliveries that arrive together share that commit: one insert
of many rows instead of one insert, one connection and one WAL flush each.
Under a burst this keeps pool connections free for the room actors and cuts
the database's work per event, so events are applied sooner after their ack.

A batch that fails for its data (not for the database being away) is retried
row by row, so one bad row answers 503 for itself alone.

Every wait is bounded by DATABASE_TIMEOUT_SECONDS: an insert that has not
committed by then counts as the database being away (503, LiveKit retries; if
it did commit, the retry is a duplicate), and a delivery waits for its
insert at most what is left of its request's budget. A delivery that gives up
before its insert began is left out of it: it was answered 503.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from actors.batching import TurnBatches
from models.db import Database, DatabaseUnavailableError
from models.webhook_inbox import StoredEvent, insert_events

log = logging.getLogger(__name__)

# Inserts in flight at once (each holds one pooled connection), and rows per insert.
MAX_IN_FLIGHT = 2
MAX_ROWS = 500


class NotStoredError(Exception):
    """The event was not stored (the database is away, or refused this row, or
    the service is shutting down)."""


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


@dataclass(slots=True, eq=False)
class _Waiting:
    row: StoredEvent
    stored: asyncio.Future[None]
    # Taken into an insert (which stores it, whoever still waits).
    begun: bool = False


class InboxWriter:
    """Stores entries in shared inserts; `store` returns once its entry is committed."""

    def __init__(self, now: Callable[[], dt.datetime], database: Database) -> None:
        self._now = now
        self._database = database
        # Deliveries handled in one turn of the loop share the insert.
        self._batches = TurnBatches(self._write, max_in_flight=MAX_IN_FLIGHT, max_batch=MAX_ROWS)
        # Deliveries not answered yet, so shutdown can answer every one of them.
        self._waiting: set[_Waiting] = set()
        self._closing = False
        self.inserts = 0  # for ops and tests: insert statements that committed
        # The latest receipt stamped: a moment that has truly passed, even if the
        # wall clock has since stepped back (see RoundPorts.received_until).
        self.latest_received: dt.datetime | None = None

    def received_until(self) -> dt.datetime | None:
        """The latest receipt stamped (None: none yet): a round reads up to it."""
        return self.latest_received

    async def store(self, entry: InboxEntry, within: float | None = None) -> None:
        """Commit `entry` (a duplicate event id counts as stored) within `within` seconds
        (default DATABASE_TIMEOUT_SECONDS); NotStoredError or TimeoutError if it is not."""
        received_at = self._now()
        if self.latest_received is None or received_at > self.latest_received:
            self.latest_received = received_at
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
        self._waiting.add(waiting)
        waiting.stored.add_done_callback(lambda _: self._waiting.discard(waiting))
        self._batches.add(waiting)
        wait = self._database.timeout_seconds if within is None else within
        try:
            if wait <= 0:
                raise TimeoutError  # no budget left: not even this turn's insert
            # Awaited directly (a shield would cost the answer a turn of the loop);
            # cancelling it only ever leaves this row out of an insert not begun,
            # never cuts a shared insert short.
            # (`asyncio.timeout`, not `wait_for`: a future and a callback fewer each.)
            async with asyncio.timeout(wait):
                await waiting.stored
        except TimeoutError:
            # Answered 503: if its insert has not begun, it is left out of it.
            waiting.stored.cancel()
            raise
        except asyncio.CancelledError:
            # The delivery itself was cancelled (its client went away): the event is
            # stored all the same, so LiveKit's retry finds it, though no one waits.
            if not waiting.begun and not self._closing:
                orphan = _Waiting(row, asyncio.get_running_loop().create_future())
                self._batches.add(orphan)
            raise

    async def close(self, grace_seconds: float | None = None) -> None:
        """Wait for inserts in flight (at shutdown, before the database closes), at most
        `grace_seconds` (default DATABASE_TIMEOUT_SECONDS); then they are cancelled,
        and every delivery still waiting is answered as not stored."""
        self._closing = True  # a delivery cancelled from here on is not put back
        grace = self._database.timeout_seconds if grace_seconds is None else grace_seconds
        try:
            async with asyncio.timeout(grace):
                await self._batches.close()
        except TimeoutError:
            log.warning("webhook inserts still running at shutdown were cancelled")
        _fail(list(self._waiting), NotStoredError("shutting down"))

    async def _write(self, batch: list[_Waiting]) -> None:
        # Deliveries that stopped waiting (answered 503 already) are left out.
        batch = [w for w in batch if not w.stored.done()]
        if not batch:
            return
        for waiting in batch:
            waiting.begun = True
        try:
            await self._insert(batch)
        except BaseException as error:
            # Whatever went wrong, no delivery may wait forever for its answer.
            _fail(batch, NotStoredError(repr(error)))
            raise

    async def _insert(self, batch: list[_Waiting]) -> bool:
        """Insert `batch`, answering each of it; False when the database is away."""
        try:
            # Within DATABASE_TIMEOUT_SECONDS, pool acquire included (SQLite's
            # "database is locked" counts as away, too).
            await insert_events(self._database, [w.row for w in batch])
            self.inserts += 1
        except DatabaseUnavailableError as error:
            _fail(batch, NotStoredError(str(error)))
            return False
        except Exception:
            if len(batch) == 1:
                log.exception("webhook %s could not be stored", batch[0].row.event_id)
                _fail(batch, NotStoredError("refused by the database"))
                return True
            log.warning("storing %d webhooks together failed; one by one", len(batch))
            for n, waiting in enumerate(batch):
                if waiting.stored.done():
                    continue  # gave up waiting meanwhile
                if not await self._insert([waiting]):
                    # Away now: the rest would each wait the whole timeout too.
                    _fail(batch[n + 1 :], NotStoredError("the database is unavailable"))
                    return False
            return True
        for waiting in batch:
            if not waiting.stored.done():
                waiting.stored.set_result(None)
        return True


def _fail(batch: list[_Waiting], error: Exception) -> None:
    for waiting in batch:
        if not waiting.stored.done():
            waiting.stored.set_exception(error)
            # Marked as seen: a delivery whose client went away never awaits it.
            waiting.stored.exception()
