"""Numbers committed events in commit order, and makes their deliveries.

Events are written unnumbered by the transactions that make their changes
(models/outbox.py). A run of the sequencer, one at a time across every node
(it holds the one `outbox_sequence` row FOR UPDATE until it commits), reads
the unnumbered events it can see, oldest insert first, and numbers them after
the last number given. Because runs are serial and each sees every event
committed before it began, numbers follow the order events became visible:
a reader at N never later finds a committed event below N. Events of one
room are written by one owner at a time, one transaction after another, so
they keep their order too.

In the same transaction a run makes one delivery per event and enabled
endpoint that wants it (app/events/delivery.py sends them), so an endpoint
gets the events numbered while it is enabled.

A run is nudged by this node's writers after they commit, and by nothing
else: every node also runs one every `poll_seconds`, which numbers events a
node wrote but did not get to (it died after its commit). After a run has
numbered events, `on_numbered` is called here and, on PostgreSQL, the other
nodes hear of it by a notice (`qari_events`), so their feeds and deliveries
wake within the notice's time, not the poll's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import asyncpg
from tortoise.backends.base.client import BaseDBAsyncClient

from models.db import Database, is_postgres
from models.outbox import SEQUENCE_ROW, now_sql

log = logging.getLogger(__name__)

EVENTS_CHANNEL = "qari_events"
# Events numbered by one run at most (a backlog goes in slices).
BATCH = 500
# Runs nudged within this of one another are one run: under load, commits come
# much faster than a run takes, and a run numbers everything visible anyway.
MIN_INTERVAL_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Wanted:
    """An enabled endpoint and what it asked for (None: everything)."""

    id: str
    types: frozenset[str] | None
    rooms: frozenset[str] | None

    def wants(self, room: str, type_: str) -> bool:
        return (self.types is None or type_ in self.types) and (
            self.rooms is None or room in self.rooms
        )


def _names(text: str | None) -> frozenset[str] | None:
    if text is None:
        return None
    return frozenset(str(v) for v in json.loads(text))


_UNNUMBERED = (
    f"SELECT id, room, type FROM outbox_events WHERE seq IS NULL ORDER BY id LIMIT {BATCH}"  # noqa: S608
)


class Sequencer:
    def __init__(
        self,
        database: Database,
        *,
        poll_seconds: float = 1.0,
        on_numbered: Sequence[Callable[[int], None]] = (),
    ) -> None:
        self._database = database
        self._poll_seconds = poll_seconds
        self.on_numbered: list[Callable[[int], None]] = list(on_numbered)
        self._nudged = asyncio.Event()
        self.last_seq = 0  # the last number this node has given or heard of
        self.runs = 0  # runs that numbered something (ops, tests)

    def nudge(self) -> None:
        """Events were committed here: number them soon."""
        self._nudged.set()

    async def run_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            # Not asyncio.wait_for: before Python 3.12 it can lose a cancellation
            # that comes as the event is set, and shutdown would wait on this task.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_seconds):
                    await self._nudged.wait()
            self._nudged.clear()
            started = loop.time()
            try:
                while await self.run_once() >= BATCH:
                    pass  # a backlog: the next slice at once
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("numbering events failed (%s); next try soon", type(error).__name__)
            # Coalesce the nudges of a burst of commits into the next run.
            await asyncio.sleep(max(0.0, MIN_INTERVAL_SECONDS - (loop.time() - started)))

    async def run_once(self) -> int:
        """Number the unnumbered events this run can see; how many it numbered
        (none if another node's run holds the sequence: that run numbers them)."""
        try:
            return await self._run()
        except Exception as error:
            if _locked_elsewhere(error):
                return 0
            raise

    async def _run(self) -> int:
        async with self._database.transaction() as conn:
            # Its own statement, so the next one's snapshot is taken once the
            # previous run (on any node) has committed: it sees that run's numbers.
            last = await _take_sequence(conn)
            if is_postgres(conn):
                rows = await conn.execute_query_dict(
                    _NUMBER_PG, [last, SEQUENCE_ROW, EVENTS_CHANNEL, BATCH]
                )
                count, last = int(rows[0]["numbered"]), int(rows[0]["last_seq"] or last)
            else:
                count, last = await _number_sqlite(conn, last)
        if count:
            self.runs += 1
            self.heard(last)
        return count

    def heard(self, seq: int) -> None:
        """Events up to `seq` are numbered (here, or by another node's notice)."""
        if seq > self.last_seq:
            self.last_seq = seq
        for callback in self.on_numbered:
            try:
                callback(seq)
            except Exception:
                log.exception("a numbered-events callback failed")

    def on_notice(self, payload: str) -> None:
        """Another node (or this one) numbered events up to `payload`."""
        try:
            seq = int(payload)
        except ValueError:
            return
        self.heard(seq)


def _locked_elsewhere(error: BaseException) -> bool:
    """Whether `error` (or what caused it) is the sequence row's NOWAIT refusal."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, asyncpg.LockNotAvailableError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def _take_sequence(conn: BaseDBAsyncClient) -> int:
    """The last number given, holding its row until this transaction ends.

    NOWAIT: a run never waits for another's lock. That run numbers what this one
    would have; and a holder that hangs (a stopped node) must not hold one of
    every node's pooled connections until PostgreSQL ends its transaction
    (idle_in_transaction_session_timeout), starving their requests."""
    lock = " FOR UPDATE NOWAIT" if is_postgres(conn) else ""
    mark = "$1" if is_postgres(conn) else "?"
    query = f"SELECT last_seq FROM outbox_sequence WHERE id = {mark}{lock}"  # noqa: S608
    rows = await conn.execute_query_dict(query, [SEQUENCE_ROW])
    if not rows:
        # A new database (or its tables emptied): the row appears once.
        await conn.execute_query(
            f"INSERT INTO outbox_sequence (id, last_seq) VALUES ({mark}, 0) "  # noqa: S608
            "ON CONFLICT (id) DO NOTHING",
            [SEQUENCE_ROW],
        )
        rows = await conn.execute_query_dict(query, [SEQUENCE_ROW])
    return int(rows[0]["last_seq"])


# PostgreSQL: one statement numbers the events after `$1`, moves the sequence,
# makes the deliveries of enabled endpoints that want them and tells every node
# (the notice is delivered at commit).
_NUMBER_PG = (
    "WITH todo AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM outbox_events "
    "WHERE seq IS NULL ORDER BY id LIMIT $4), "
    "numbered AS (UPDATE outbox_events e SET seq = $1 + t.n FROM todo t WHERE e.id = t.id "
    "RETURNING e.id, e.seq, e.room, e.type), "
    "moved AS (UPDATE outbox_sequence SET last_seq = $1 + (SELECT count(*) FROM todo) "
    "WHERE id = $2 AND EXISTS (SELECT 1 FROM todo) RETURNING last_seq), "
    "made AS (INSERT INTO outbox_deliveries (endpoint_id, event_id, event_seq, room, state, "
    "attempts, next_attempt_at) SELECT w.id, n.id, n.seq, n.room, 'pending', 0, "
    "clock_timestamp() FROM numbered n JOIN webhook_endpoints w ON w.enabled "
    "AND (w.events IS NULL OR w.events::jsonb ? n.type) "
    "AND (w.rooms IS NULL OR w.rooms::jsonb ? n.room)), "
    "told AS (SELECT pg_notify($3, last_seq::text) FROM moved) "
    "SELECT (SELECT count(*) FROM numbered) AS numbered, (SELECT last_seq FROM moved) "
    "AS last_seq, (SELECT count(*) FROM told) AS told"
)


async def _number_sqlite(conn: BaseDBAsyncClient, last: int) -> tuple[int, int]:
    """SQLite (one writer at a time): the same steps, one statement each."""
    rows = await conn.execute_query_dict(_UNNUMBERED)
    if not rows:
        return 0, last
    numbered = [(int(row["id"]), last + i + 1) for i, row in enumerate(rows)]
    last += len(rows)
    await conn.execute_many(
        "UPDATE outbox_events SET seq = ?2 WHERE id = ?1", [list(n) for n in numbered]
    )
    await conn.execute_query(
        "UPDATE outbox_sequence SET last_seq = ? WHERE id = ?", [last, SEQUENCE_ROW]
    )
    await _make_deliveries(conn, rows, numbered)
    return len(rows), last


async def _make_deliveries(
    conn: BaseDBAsyncClient,
    rows: Sequence[dict[str, object]],
    numbered: Sequence[tuple[int, int]],
) -> None:
    endpoints = [
        Wanted(str(row["id"]), _names(row["events"]), _names(row["rooms"]))
        for row in await conn.execute_query_dict(
            "SELECT id, events, rooms FROM webhook_endpoints WHERE enabled"
        )
    ]
    if not endpoints:
        return
    values: list[list[object]] = []
    for row, (event_id, seq) in zip(rows, numbered, strict=True):
        room, type_ = str(row["room"]), str(row["type"])
        values += [[e.id, event_id, seq, room] for e in endpoints if e.wants(room, type_)]
    if not values:
        return
    await conn.execute_many(
        "INSERT INTO outbox_deliveries (endpoint_id, event_id, event_seq, room, state, "  # noqa: S608
        f"attempts, next_attempt_at) VALUES (?, ?, ?, ?, 'pending', 0, {now_sql(conn)})",
        values,
    )
