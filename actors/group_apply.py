"""Many rooms' webhook events applied in one transaction: a group commit for actors.

A room applying its own events costs a transaction of half a dozen round
trips, and on a busy event loop every round trip waits for a full turn of the
loop: with dozens of rooms receiving events at once, rooms queued behind each
other for seconds. Here every room with pending events joins the next shared
transaction, which costs the same few round trips for one room or hundreds:

1. one statement reads the pending events of all its rooms, oldest first;
2. each room's actor plans its events in memory (`plan`), recording writes;
3. the writes of all rooms go out together, with the mark that makes their
   events processed (so `processed_at` is when the effects were written, just
   before the commit): one statement on PostgreSQL, one per kind on SQLite;
4. commit, and every waiting actor learns how many of its events were applied.

The actor stays the only one touching its state: it is awaiting `apply` while
its plan runs, so the tick borrows its state the way a called function would.
A room whose events need the database to decide (a new room session, a room
that finished, an event that failed before) is handed back, its events left
pending, and applies on its own. If the shared transaction
fails, every room in it is told so and applies on its own, one event at a time
if it must; a plan that raises fails only its own room.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tortoise.backends.base.client import BaseDBAsyncClient

from actors.batch_sql import (
    PARTICIPANT_COLUMNS,
    close_participants,
    mark_processed,
    read_pending,
    read_timestamp,
    set_track_counts,
    sync_rooms,
    write_and_mark_postgres,
)
from actors.turn_batches import TurnBatches
from app.database import DATABASE_UNAVAILABLE, transaction
from models import ParticipantSession

log = logging.getLogger(__name__)

# Shared transactions in flight at once, each holding one pooled connection.
# More than one, so a room whose events arrive while a transaction is out does
# not wait for it to commit first (measured: 4 gave the lowest lag p99 at 64
# concurrent senders, see bench/webhook_bench.py).
MAX_IN_FLIGHT = 4
# Bounds on one transaction, so a backlog after an outage goes in slices: at
# most MAX_EVENTS_PER_ROOM events of each of at most MAX_ROOMS rooms.
MAX_ROOMS = 128
MAX_EVENTS_PER_ROOM = 100


class ApplyObserver(Protocol):
    """Told what the webhook write path did, for metrics (app/metrics.py implements it)."""

    def observe_applied(self, lags_seconds: Sequence[float]) -> None:
        """Events whose effects were committed; each lag is from receipt to commit."""

    def observe_failed(self, event_type: str) -> None:
        """One failed attempt to apply an event of this type."""


class Unobserved:
    """The observer when nothing watches (tests of the write path alone)."""

    def observe_applied(self, lags_seconds: Sequence[float]) -> None:
        pass

    def observe_failed(self, event_type: str) -> None:
        pass


@dataclass
class Writes:
    """What a plan records for the shared transaction to write."""

    opened: list[ParticipantSession] = field(default_factory=list)
    # (left_at, disconnect_reason, sid)
    closes: list[tuple[dt.datetime, str, str]] = field(default_factory=list)
    # (track_count, sid)
    tracks: list[tuple[int, str]] = field(default_factory=list)
    # (status, num_participants, livekit_sid or None, room id)
    rooms: list[tuple[str, int, str | None, int]] = field(default_factory=list)

    def extend(self, other: Writes) -> None:
        self.opened += other.opened
        self.closes += other.closes
        self.tracks += other.tracks
        self.rooms += other.rooms

    async def flush_and_mark(self, conn: BaseDBAsyncClient, ids: list[int], at: dt.datetime) -> int:
        """Write everything, then mark `ids` processed at `at`; how many were pending.

        On PostgreSQL in one statement (each round trip here is lag for every
        room in the transaction); elsewhere one statement per kind. A plan never
        closes or counts tracks of a row it opened in the same batch (it edits
        its own unsaved row), so the writes never touch the same row twice.
        """
        if not (ids or self.opened or self.closes or self.tracks or self.rooms):
            return 0
        if conn.capabilities.dialect == "postgres":
            return await write_and_mark_postgres(
                conn,
                [[getattr(row, column) for column in PARTICIPANT_COLUMNS] for row in self.opened],
                self._participant_changes(),
                list({room[3]: room for room in self.rooms}.values()),
                ids,
                at,
            )
        if self.opened:
            await ParticipantSession.bulk_create(self.opened, using_db=conn)
        await close_participants(conn, self.closes)
        await set_track_counts(conn, self.tracks)
        await sync_rooms(conn, self.rooms)
        return await mark_processed(conn, ids, at)

    def _participant_changes(self) -> list[tuple[dt.datetime | None, str | None, int | None, str]]:
        """Closes and track counts merged into one change per sid (the last count wins)."""
        changes: dict[str, list[Any]] = {}
        for left_at, reason, sid in self.closes:
            change = changes.setdefault(sid, [None, None, None])
            change[0], change[1] = left_at, reason
        for count, sid in self.tracks:
            changes.setdefault(sid, [None, None, None])[2] = count
        return [(c[0], c[1], c[2], sid) for sid, c in changes.items()]


# A room's plan: given its claimed rows (oldest first), apply them in memory and
# record the writes; False to hand them back for the room to apply on its own.
Plan = Callable[[list[dict[str, Any]], Writes], bool]


@dataclass(frozen=True, slots=True)
class Applied:
    """A room's share of a shared transaction."""

    count: int
    # The claim was cut at MAX_EVENTS_PER_ROOM: the room may have more pending.
    more: bool


class GroupApplyFailedError(Exception):
    """The shared transaction (or this room's plan) failed: memory may be ahead of the
    database, so the room reloads and applies on its own."""


@dataclass(slots=True)
class _Request:
    room: str
    plan: Plan
    done: asyncio.Future[Applied | None]


class GroupApplier:
    """Collects rooms with pending events and applies them in shared transactions."""

    def __init__(
        self,
        now: Callable[[], dt.datetime],
        max_attempts: int,
        observer: ApplyObserver | None = None,
    ) -> None:
        self._now = now
        self._max_attempts = max_attempts
        self.observer: ApplyObserver = observer or Unobserved()
        # Actors woken by the last commit ask again in the same turn of the loop,
        # and so share the next transaction.
        self._ticks = TurnBatches(self._tick, max_in_flight=MAX_IN_FLIGHT, max_batch=MAX_ROOMS)
        self.transactions = 0  # for ops and tests: shared transactions committed

    async def apply(self, room: str, plan: Plan) -> Applied | None:
        """Apply `room`'s pending events in the next shared transaction.

        None: the events need the room to apply them on its own. Raises
        GroupApplyFailedError, or one of DATABASE_UNAVAILABLE.
        """
        # An actor awaits its request, so a room is never waiting twice; one
        # cancelled before its transaction (its future done) is skipped there.
        request = _Request(room, plan, asyncio.get_running_loop().create_future())
        self._ticks.add(request)
        return await request.done

    async def close(self) -> None:
        """Wait for shared transactions in flight (at shutdown, before the database closes)."""
        await self._ticks.close()

    async def _tick(self, batch: list[_Request]) -> None:
        try:
            results = await self._run([r for r in batch if not r.done.done()])
        except Exception as error:
            unavailable = isinstance(error, DATABASE_UNAVAILABLE)
            if not unavailable:
                log.warning("a shared apply of %d rooms failed: %r", len(batch), error)
            for request in batch:
                if not request.done.done():
                    failure = error if unavailable else GroupApplyFailedError(repr(error))
                    request.done.set_exception(failure)
        else:
            self.transactions += 1
            for request in batch:
                if not request.done.done():
                    outcome = results[request.room]
                    if isinstance(outcome, Exception):
                        request.done.set_exception(outcome)
                    else:
                        request.done.set_result(outcome)

    async def _run(self, batch: list[_Request]) -> dict[str, Applied | Exception | None]:
        results: dict[str, Applied | Exception | None] = {}
        if not batch:
            return results
        async with transaction() as conn:
            rows = await read_pending(
                conn, [r.room for r in batch], self._max_attempts, MAX_EVENTS_PER_ROOM
            )
            by_room: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for row in rows:
                by_room[row["room_name"]].append(row)
            writes = Writes()
            applied: list[int] = []
            received: list[dt.datetime] = []
            for request in batch:
                mine = sorted(
                    by_room.get(request.room, ()),
                    key=lambda row: (row["livekit_created_at"], row["id"]),
                )
                own = Writes()
                if request.done.done():
                    continue  # its actor stopped waiting: its state is not ours to touch
                try:
                    planned = request.plan(mine, own) if mine else True
                except Exception as error:
                    log.exception("planning the events of room %r failed", request.room)
                    results[request.room] = GroupApplyFailedError(repr(error))
                    planned = False
                if planned:
                    writes.extend(own)
                    applied += [row["id"] for row in mine]
                    received += [read_timestamp(row["received_at"]) for row in mine]
                    results[request.room] = Applied(len(mine), len(mine) >= MAX_EVENTS_PER_ROOM)
                else:
                    results.setdefault(request.room, None)
            if await writes.flush_and_mark(conn, applied, self._now()) != len(applied):
                # Applied elsewhere meanwhile (never, with one actor per room):
                # roll back rather than apply anything twice.
                raise RuntimeError("inbox rows changed under a shared apply")
        if received:
            committed = self._now()
            self.observer.observe_applied([(committed - at).total_seconds() for at in received])
        return results
