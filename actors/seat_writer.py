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
from dataclasses import dataclass

from actors.batching import TurnBatches
from actors.room.errors import RoomUnavailableError
from models.db import Database, DatabaseUnavailableError, LeaseLostError, connection, is_postgres
from models.leases import Lease
from models.seats import SeatRow, upsert_seats, upsert_seats_fenced

log = logging.getLogger(__name__)

MAX_ROWS = 1000


class SeatNotStoredError(Exception):
    """The seat could not be made durable, so its token must not be returned."""


class SeatWriter:
    """`store(row, lease)` returns a future that is done once `row` is committed.

    Each batch is one fenced write (models/db.py `room_write`): a row whose
    room's lease is no longer the writer's is refused (RoomUnavailableError),
    and the rest of the batch is written without it."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._batches: TurnBatches[_Item] = TurnBatches(
            self._write, max_in_flight=1, max_batch=MAX_ROWS
        )
        self.statements = 0  # for ops and tests: upserts that committed

    def store(self, row: SeatRow, lease: Lease) -> asyncio.Future[None]:
        """Queue `row` (written under `lease`) for the next shared upsert; the future
        fails if it is not stored."""
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._batches.add(_Item(row, lease, stored))
        return stored

    async def close(self, grace_seconds: float | None = None) -> None:
        """Wait for the statement in flight and those queued (at shutdown, before the
        database closes), at most `grace_seconds`."""
        await self._batches.close(grace_seconds)

    async def _upsert(self, rows: list[SeatRow], leases: dict[str, int]) -> None:
        conn = connection()
        if self._database.fencing.node is not None and is_postgres(conn):
            # One statement fenced by itself: the token waits one round trip, not four.
            await upsert_seats_fenced(self._database, conn, rows, leases)
            return
        async with self._database.room_write(leases) as conn:
            await upsert_seats(conn, rows)

    async def _write(self, batch: list[_Item]) -> None:
        # A room's rows under an older epoch than others in the batch are an earlier
        # activation's (its lease was taken again since): never written, as the fence
        # checks one epoch per room.
        newest: dict[str, int] = {}
        for item in batch:
            newest[item.lease.room] = max(newest.get(item.lease.room, 0), item.lease.epoch)
        older = [item for item in batch if item.lease.epoch != newest[item.lease.room]]
        for item in older:
            _fail([item], RoomUnavailableError(item.lease.room))
        batch = [item for item in batch if item.lease.epoch == newest[item.lease.room]]
        if not batch:
            return
        latest = {(item.row.room_id, item.row.identity): item.row for item in batch}
        leases = {item.lease.room: item.lease.epoch for item in batch}
        try:
            # Not answered within DATABASE_TIMEOUT_SECONDS counts as the database
            # being away: the tokens waiting on it are not returned (503).
            await self._upsert(list(latest.values()), leases)
        except LeaseLostError as error:
            lost = [item for item in batch if item.lease.room in error.rooms]
            for item in lost:
                _fail([item], RoomUnavailableError(item.lease.room))
            rest = [item for item in batch if item.lease.room not in error.rooms]
            if rest:
                await self._write(rest)
            return
        except DatabaseUnavailableError as error:
            _fail(batch, error)
        except Exception as error:
            if len(latest) == 1:
                log.warning("seat of %r not stored: %r", batch[0].row.identity, error)
                _fail(batch, SeatNotStoredError(repr(error)))
            else:
                # One bad row (its room deleted meanwhile) must not refuse the others.
                log.warning("storing %d seats together failed; one by one", len(latest))
                by_key: dict[tuple[int, str], list[_Item]] = {}
                for item in batch:
                    by_key.setdefault((item.row.room_id, item.row.identity), []).append(item)
                for items in by_key.values():
                    await self._write(items)
            return
        except BaseException:
            _fail(batch, SeatNotStoredError("not stored"))
            raise
        self.statements += 1
        for item in batch:
            if not item.stored.done():
                item.stored.set_result(None)


@dataclass(frozen=True, slots=True)
class _Item:
    row: SeatRow
    lease: Lease
    stored: asyncio.Future[None]


def _fail(batch: list[_Item], error: Exception) -> None:
    for item in batch:
        stored = item.stored
        if not stored.done():
            stored.set_exception(error)
            # Marked as retrieved: a future nobody awaits (a repeat that found it
            # failed, a client gone) must not log "exception never retrieved".
            stored.exception()
