"""The seats table's writer: seats taken together are stored by one statement.

A token is returned only once its seat is committed, so a restart (SIGTERM or
SIGKILL) never forgets a seat whose token is out there. The room actor does
not wait for that commit (it would serialise a burst on the database's round
trips): it decides the seat in memory, hands the row here and goes on to the
next request; the route waits for the row's commit before it answers. Rows
handed over in one turn of the loop share one upsert, so a burst of 500 new
identities costs a few statements, not 500.

One statement is in flight at a time: a later row for the same (room,
identity) must never be overtaken by an earlier one, and within a batch only
the latest row for a key is written.
"""

from __future__ import annotations

import asyncio
import logging

from actors.batching import TurnBatches
from models.db import Database, DatabaseUnavailableError, connection
from models.seats import SeatRow, upsert_seats

log = logging.getLogger(__name__)

MAX_ROWS = 1000


class SeatNotStoredError(Exception):
    """The seat could not be made durable, so its token must not be returned."""


class SeatWriter:
    """`store(row)` returns a future that is done once `row` is committed."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._batches: TurnBatches[tuple[SeatRow, asyncio.Future[None]]] = TurnBatches(
            self._write, max_in_flight=1, max_batch=MAX_ROWS
        )
        self.statements = 0  # for ops and tests: upserts that committed

    def store(self, row: SeatRow) -> asyncio.Future[None]:
        """Queue `row` for the next shared upsert; the future fails if it is not stored."""
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._batches.add((row, stored))
        return stored

    async def close(self, grace_seconds: float | None = None) -> None:
        """Wait for the statement in flight and those queued (at shutdown, before the
        database closes), at most `grace_seconds`."""
        await self._batches.close(grace_seconds)

    async def _write(self, batch: list[tuple[SeatRow, asyncio.Future[None]]]) -> None:
        latest = {(row.room_id, row.identity): row for row, _ in batch}
        try:
            # Not answered within DATABASE_TIMEOUT_SECONDS counts as the database
            # being away: the tokens waiting on it are not returned (503).
            async with self._database.bounded():
                await upsert_seats(connection(), list(latest.values()))
        except DatabaseUnavailableError as error:
            _fail(batch, error)
        except Exception as error:
            if len(latest) == 1:
                log.warning("seat of %r not stored: %r", batch[0][0].identity, error)
                _fail(batch, SeatNotStoredError(repr(error)))
            else:
                # One bad row (its room deleted meanwhile) must not refuse the others.
                log.warning("storing %d seats together failed; one by one", len(latest))
                by_key: dict[tuple[int, str], list[tuple[SeatRow, asyncio.Future[None]]]] = {}
                for item in batch:
                    by_key.setdefault((item[0].room_id, item[0].identity), []).append(item)
                for items in by_key.values():
                    await self._write(items)
            return
        except BaseException:
            _fail(batch, SeatNotStoredError("not stored"))
            raise
        self.statements += 1
        for _, stored in batch:
            if not stored.done():
                stored.set_result(None)


def _fail(batch: list[tuple[SeatRow, asyncio.Future[None]]], error: Exception) -> None:
    for _, stored in batch:
        if not stored.done():
            stored.set_exception(error)
            # Marked as retrieved: a future nobody awaits (a repeat that found it
            # failed, a client gone) must not log "exception never retrieved".
            stored.exception()
