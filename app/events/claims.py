"""Which deliveries a node attempts now, and what each attempt leaves: the SQL of
outbound webhooks (the sending is app/events/delivery.py).

A delivery is attempted by one node at a time: the node claims it
(`claimed_by`, `claimed_until`) in a short transaction, sends, and records the
outcome; a node that dies mid-attempt leaves a claim that lapses, and another
node (or this one, restarted) tries again. On PostgreSQL the candidates are
locked `FOR UPDATE SKIP LOCKED`, so two nodes claiming at once take different
rows; SQLite is one process, one transaction at a time.

Only the head of each (endpoint, room) queue is due: its pending delivery with
the lowest `event_seq`. The next is not sent before the one before it was
delivered or given up, so a room's events arrive in the order they happened.
Every time here is the database's clock, the one clock every node shares.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from models.db import is_postgres, timestamp
from models.outbox import StoredEvent, now_sql, stored

ERROR_LENGTH = 512  # outbox_attempts.error


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery this node claimed: what to send, where, and with which secrets."""

    delivery_id: int
    endpoint_id: str
    url: str
    secret: str
    previous_secret: str | None
    previous_until: dt.datetime | None
    event: StoredEvent
    attempt: int  # this attempt's number, 1 for the first
    claimed_at: dt.datetime  # the database's clock: the attempt's `attempted_at`


@dataclass(frozen=True, slots=True)
class _Dialect:
    now: str  # the clock in a comparison (PostgreSQL's is stable, so indexes serve)
    clock: str  # the clock as it ticks, for what is written
    mark: str  # a placeholder's prefix

    def later(self, param: int) -> str:
        """The clock plus parameter `param`'s seconds (SQLite: a '+N seconds' modifier)."""
        if self.mark == "$":
            return f"clock_timestamp() + make_interval(secs => ${param})"
        return f"strftime('%Y-%m-%d %H:%M:%f000+00:00', 'now', ?{param})"

    def seconds(self, value: float) -> float | str:
        return value if self.mark == "$" else f"{value:+.3f} seconds"

    def ids(self, param: int, kind: str) -> str:
        """A list parameter as a set to test membership in."""
        if self.mark == "$":
            return f"SELECT unnest(${param}::{kind}[])"
        return f"SELECT value FROM json_each(?{param})"  # noqa: S608

    def array(self, values: Collection[object]) -> object:
        return list(values) if self.mark == "$" else json.dumps(list(values))


def _dialect(conn: BaseDBAsyncClient) -> _Dialect:
    if is_postgres(conn):
        return _Dialect(now="now()", clock="clock_timestamp()", mark="$")
    sqlite_now = now_sql(conn)
    return _Dialect(now=sqlite_now, clock=sqlite_now, mark="?")


def _heads(d: _Dialect) -> str:
    """Each (endpoint, room) queue's head: its pending delivery of the lowest seq,
    due or not, claimed or not (the next is not sent before it ends)."""
    columns = "h.id, h.endpoint_id, h.next_attempt_at, h.event_seq, h.claimed_until"
    if d.mark == "$":
        # One pass over the pending rows in the partial index's order.
        return (
            f"SELECT DISTINCT ON (h.endpoint_id, h.room) {columns} "  # noqa: S608
            "FROM outbox_deliveries h WHERE h.state = 'pending' "
            "ORDER BY h.endpoint_id, h.room, h.event_seq"
        )
    return (
        f"SELECT {columns} FROM outbox_deliveries h WHERE h.state = 'pending' "  # noqa: S608
        "AND NOT EXISTS (SELECT 1 FROM outbox_deliveries b WHERE b.endpoint_id = h.endpoint_id "
        "AND b.room = h.room AND b.state = 'pending' AND b.event_seq < h.event_seq)"
    )


def _candidates(d: _Dialect, lock: str) -> str:
    # Heads of their queues, due and unclaimed, of enabled endpoints not busy here;
    # at most `per endpoint` ($2) of each endpoint, so one endpoint's backlog leaves
    # room for the others'; oldest due first, at most $3 in all.
    m = d.mark
    return f"""
    SELECT d.id, d.endpoint_id, d.attempts, e.url, e.secret, e.previous_secret,
           e.previous_until, v.seq, v.room, v.type, v.data, v.occurred_at
    FROM outbox_deliveries d
    JOIN webhook_endpoints e ON e.id = d.endpoint_id
    JOIN outbox_events v ON v.id = d.event_id
    WHERE d.id IN (
        SELECT id FROM (
            SELECT q.id, q.next_attempt_at, q.event_seq, row_number() OVER (
                PARTITION BY q.endpoint_id ORDER BY q.next_attempt_at, q.event_seq) AS nth
            FROM ({_heads(d)}) q JOIN webhook_endpoints he ON he.id = q.endpoint_id
            WHERE he.enabled AND q.next_attempt_at <= {d.now}
              AND (q.claimed_until IS NULL OR q.claimed_until <= {d.now})
              AND q.endpoint_id NOT IN ({d.ids(1, "text")})
        ) heads WHERE nth <= {m}2 ORDER BY next_attempt_at, event_seq LIMIT {m}3
    )
    -- Checked again on the row as locked: another node may have tried it, failed
    -- and put its next try later since the subquery's snapshot.
    AND d.state = 'pending' AND d.next_attempt_at <= {d.now}
    AND (d.claimed_until IS NULL OR d.claimed_until <= {d.now})
    ORDER BY d.next_attempt_at, d.event_seq
    {lock}
    """  # noqa: S608 - no value is formatted in, only the dialect's words


async def claim_due(
    conn: BaseDBAsyncClient,
    node_id: str,
    hold_seconds: float,
    *,
    limit: int,
    per_endpoint: Callable[[str], int],
    in_flight: Mapping[str, int],
    most: int,
    run_length: int = 1,
) -> list[list[Claimed]]:
    """Claim at most `limit` due deliveries for `hold_seconds`, no endpoint past
    `per_endpoint(it)` attempts in flight here (counting `in_flight`); `most` is
    the highest of those caps. Each claim is a run: a queue's head and, up to
    `run_length` in all, the deliveries after it, to be sent in that order."""
    d = _dialect(conn)
    busy = [endpoint for endpoint, n in in_flight.items() if n >= per_endpoint(endpoint)]
    lock = "FOR UPDATE OF d SKIP LOCKED" if d.mark == "$" else ""
    rows = await conn.execute_query_dict(_candidates(d, lock), [d.array(busy), most, limit])
    taken: dict[str, int] = dict(in_flight)
    chosen = []
    for row in rows:
        endpoint = str(row["endpoint_id"])
        if taken.get(endpoint, 0) < per_endpoint(endpoint):
            taken[endpoint] = taken.get(endpoint, 0) + 1
            chosen.append(row)
    if not chosen:
        return []
    runs = [[row] for row in chosen]
    if run_length > 1:
        await _add_followers(conn, d, runs, run_length)
    rows = [row for run in runs for row in run]
    m = d.mark
    claims = await conn.execute_query_dict(
        f"UPDATE outbox_deliveries SET claimed_by = {m}1, claimed_until = {d.later(2)} "  # noqa: S608
        f"WHERE id IN ({d.ids(3, 'bigint')}) RETURNING id, {d.clock} AS claimed_at",
        [node_id, d.seconds(hold_seconds), d.array([int(row["id"]) for row in rows])],
    )
    claimed_at = {int(c["id"]): timestamp(c["claimed_at"]) for c in claims}
    return [[_claimed(row, claimed_at[int(row["id"])]) for row in run] for run in runs]


def _claimed(row: Mapping[str, Any], claimed_at: dt.datetime) -> Claimed:
    return Claimed(
        delivery_id=int(row["id"]),
        endpoint_id=str(row["endpoint_id"]),
        url=str(row["url"]),
        secret=str(row["secret"]),
        previous_secret=row["previous_secret"],
        previous_until=None if row["previous_until"] is None else timestamp(row["previous_until"]),
        event=stored(row),
        attempt=int(row["attempts"]) + 1,
        claimed_at=claimed_at,
    )


def _followers(d: _Dialect, heads: str) -> str:
    # The pending deliveries after each head in its queue, at most $4 each, with
    # whether each may go now (due, unclaimed).
    return f"""
    SELECT * FROM (
        SELECT d.id, d.endpoint_id, d.attempts, e.url, e.secret, e.previous_secret,
               e.previous_until, v.seq, v.room, v.type, v.data, v.occurred_at,
               (d.next_attempt_at <= {d.now}
                AND (d.claimed_until IS NULL OR d.claimed_until <= {d.now})) AS free,
               row_number() OVER (PARTITION BY d.endpoint_id, d.room ORDER BY d.event_seq) AS k
        FROM outbox_deliveries d
        JOIN ({heads}) h ON d.endpoint_id = h.endpoint_id AND d.room = h.room
             AND d.event_seq > h.seq
        JOIN webhook_endpoints e ON e.id = d.endpoint_id
        JOIN outbox_events v ON v.id = d.event_id
        WHERE d.state = 'pending'
    ) f WHERE k <= {d.mark}4 ORDER BY endpoint_id, room, seq
    """  # noqa: S608 - no value is formatted in, only the dialect's words


async def _add_followers(
    conn: BaseDBAsyncClient, d: _Dialect, runs: list[list[Any]], run_length: int
) -> None:
    """Extend each head's run with the deliveries after it in its queue, while they
    may go now: one claim sends a room's backlog in order, one after another
    (the head is locked by this claim, so no other node claims in its queue)."""
    heads = [run[0] for run in runs]
    if d.mark == "$":
        rows = await conn.execute_query_dict(
            _followers(
                d,
                "SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) "
                "AS h(endpoint_id, room, seq)",
            ),
            [
                [str(h["endpoint_id"]) for h in heads],
                [str(h["room"]) for h in heads],
                [int(h["seq"]) for h in heads],
                run_length - 1,
            ],
        )
    else:
        rows = []
        for h in heads:
            rows += await conn.execute_query_dict(
                _followers(d, "SELECT ?1 AS endpoint_id, ?2 AS room, ?3 AS seq"),
                [str(h["endpoint_id"]), str(h["room"]), int(h["seq"]), run_length - 1],
            )
    after: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        after.setdefault((str(row["endpoint_id"]), str(row["room"])), []).append(row)
    for run in runs:
        head = run[0]
        for row in after.get((str(head["endpoint_id"]), str(head["room"])), []):
            if not row["free"]:
                break  # not past one that may not go: the queue's order holds
            run.append(row)


async def release(conn: BaseDBAsyncClient, node_id: str, ids: Sequence[int]) -> None:
    """Give back claims this node will not use (the rest of a run after a failure)."""
    if not ids:
        return
    d = _dialect(conn)
    await conn.execute_query(
        "UPDATE outbox_deliveries SET claimed_by = NULL, claimed_until = NULL "  # noqa: S608
        f"WHERE id IN ({d.ids(1, 'bigint')}) AND claimed_by = {d.mark}2 AND state = 'pending'",
        [d.array(list(ids)), node_id],
    )


async def release_claims(conn: BaseDBAsyncClient, node_id: str) -> int:
    """Drop the claims `node_id` holds (it starts: none of its attempts is in flight)."""
    m = _dialect(conn).mark
    rows = await conn.execute_query_dict(
        "UPDATE outbox_deliveries SET claimed_by = NULL, claimed_until = NULL "  # noqa: S608
        f"WHERE claimed_by = {m}1 AND state = 'pending' RETURNING id",
        [node_id],
    )
    return len(rows)


_DELIVERED_PG = (
    "WITH x AS (SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::bigint[], "
    "$5::text[], $6::timestamptz[], $7::int[]) "
    "AS x(id, attempt, endpoint_id, seq, type, attempted_at, status)), "
    "done AS (UPDATE outbox_deliveries d SET state = 'delivered', attempts = x.attempt, "
    "claimed_by = NULL, claimed_until = NULL FROM x WHERE d.id = x.id AND d.state = 'pending' "
    "RETURNING d.id) "
    "INSERT INTO outbox_attempts (delivery_id, endpoint_id, event_seq, type, attempt, "
    "status_code, error, attempted_at, next_attempt_at) "
    "SELECT x.id, x.endpoint_id, x.seq, x.type, x.attempt, x.status, NULL, x.attempted_at, "
    "NULL FROM x WHERE x.id IN (SELECT id FROM done)"
)


async def record_delivered(
    conn: BaseDBAsyncClient, node_id: str, delivered: Sequence[tuple[Claimed, int]]
) -> None:
    """Record many deliveries answered 2xx (with their status codes) at once: on
    PostgreSQL one statement, atomic by itself; elsewhere `conn` is a transaction."""
    if _dialect(conn).mark != "$":
        for claimed, status in delivered:
            await record_attempt(
                conn,
                node_id,
                claimed,
                state="delivered",
                status_code=status,
                error=None,
                retry_in=None,
            )
        return
    await conn.execute_query(
        _DELIVERED_PG,
        [
            [c.delivery_id for c, _ in delivered],
            [c.attempt for c, _ in delivered],
            [c.endpoint_id for c, _ in delivered],
            [c.event.seq for c, _ in delivered],
            [c.event.type for c, _ in delivered],
            [c.claimed_at for c, _ in delivered],
            [status for _, status in delivered],
        ],
    )


async def record_attempt(
    conn: BaseDBAsyncClient,
    node_id: str,
    claimed: Claimed,
    *,
    state: str,
    status_code: int | None,
    error: str | None,
    retry_in: float | None,
) -> bool:
    """Record an attempt's outcome: the delivery's new `state` (pending again for a
    retry `retry_in` seconds from now, delivered, failed) and the attempt's row.

    False, and nothing written, if the delivery is no longer this node's to record:
    delivered meanwhile, deleted, or (but for a success, which is true whoever
    claimed) claimed by another node after this claim lapsed.
    """
    d = _dialect(conn)
    m = d.mark
    args: list[object] = [claimed.delivery_id, state, claimed.attempt]
    next_at = "next_attempt_at"
    if retry_in is not None:
        args.append(d.seconds(retry_in))
        next_at = d.later(len(args))
    mine = ""
    if state != "delivered":
        args.append(node_id)
        mine = f" AND claimed_by = {m}{len(args)}"
    updated = await conn.execute_query_dict(
        f"UPDATE outbox_deliveries SET state = {m}2, attempts = {m}3, "  # noqa: S608
        f"next_attempt_at = {next_at}, claimed_by = NULL, claimed_until = NULL "
        f"WHERE id = {m}1 AND state = 'pending'{mine} RETURNING next_attempt_at",
        args,
    )
    if not updated:
        return False
    next_attempt_at = None if retry_in is None else timestamp(updated[0]["next_attempt_at"])
    await conn.execute_query(
        "INSERT INTO outbox_attempts (delivery_id, endpoint_id, event_seq, type, attempt, "  # noqa: S608
        "status_code, error, attempted_at, next_attempt_at) "
        f"VALUES ({', '.join(f'{m}{i}' for i in range(1, 10))})",
        [
            claimed.delivery_id,
            claimed.endpoint_id,
            claimed.event.seq,
            claimed.event.type,
            claimed.attempt,
            status_code,
            None if error is None else error[:ERROR_LENGTH],
            claimed.claimed_at,
            next_attempt_at,
        ],
    )
    return True
