"""LiveKit webhooks: store-then-ack against verification alone, then ack-to-applied lag.

For each database (a throwaway PostgreSQL database with the schema, dropped at
the end; a SQLite file), the bench app is served by a real Hypercorn process.
64 rooms are created through the API and each gets a `room_started`; then, from
64 concurrent senders, distinct signed `participant_joined` events (unique
participant sids, spread over the 64 rooms) go to:

- real: `POST /v1/livekit/webhook` (verify, store in the inbox, ack, tell the
  room's actor, which hands its events to the committer: one round writes the
  effects of every room with events waiting);
- baseline: `POST /bench/webhook-verify` (verify and ack; nothing stored).

Bodies are built and signed before each timed run. Runs alternate (verify,
real, ...); after each real run the bench waits until every inbox row has
`processed_at`. Lag is `processed_at - received_at` over the timed rows
(`received_at` is stamped as the route hands the event to the inbox writer;
`processed_at` by the committer's write-and-mark statement, the one that
writes the event's effects), with as
baseline the same lag for single events sent one at a
time to the idle server. Targets on PostgreSQL: accepted/s >= 0.60 of verification-only, lag
p99 < 100 ms.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import itertools
import json
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from google.protobuf.json_format import MessageToJson
from livekit import api
from livekit.protocol.models import ParticipantInfo, Room
from livekit.protocol.webhook import WebhookEvent

from bench.harness import (
    JSON_AUTH,
    LIVEKIT_KEY,
    LIVEKIT_SECRET,
    LoadResult,
    Request,
    Server,
    base_env,
    percentile,
    postgres_database,
    row,
    run_load,
)

ROOMS = 64
CONCURRENCY = 64
FACTORY = "bench.bench_app:create_bench_app"
REAL = "/v1/livekit/webhook"
VERIFY = "/bench/webhook-verify"
PG_ACCEPT_RATIO = 0.60
PG_LAG_P99_MS = 100.0
IDLE_EVENTS = 16
DRAIN_TIMEOUT = 120.0

# LiveKit's clock for created_at: increasing, as LiveKit's events are.
_created = itertools.count(int(time.time()))


# -- events, built and signed as LiveKit does ----------------------------------------


def sign(body: bytes) -> str:
    """LiveKit's webhook Authorization: a JWT whose `sha256` claim covers the body."""
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    return (
        api.AccessToken(LIVEKIT_KEY, LIVEKIT_SECRET)
        .with_sha256(digest)
        .with_ttl(dt.timedelta(minutes=30))
        .to_jwt()
    )


def delivery(event: WebhookEvent, path: str = REAL, tag: str = "") -> Request:
    body = MessageToJson(event, indent=None).encode()
    headers = {"Authorization": sign(body), "Content-Type": "application/webhook+json"}
    return Request("POST", path, body, headers, tag or event.event)


def make_event(
    kind: str,
    room: Room,
    event_id: str,
    who: ParticipantInfo | None = None,
) -> WebhookEvent:
    message = WebhookEvent(event=kind, room=room, id=event_id, created_at=next(_created))
    if who is not None:
        message.participant.CopyFrom(who)
    return message


def bench_room(n: int) -> Room:
    return Room(name=f"wh-room-{n:02d}", sid=f"RM_wh_{n:02d}", creation_time=int(time.time()))


def joins(prefix: str, count: int, path: str) -> list[Request]:
    """`count` distinct participant_joined deliveries, round-robin over the rooms."""
    out = []
    for i in range(count):
        who = ParticipantInfo(
            identity=f"{prefix}-user-{i}",
            sid=f"PA_{prefix}_{i}",
            name="Bench",
            joined_at=int(time.time()),
            state=ParticipantInfo.State.ACTIVE,
        )
        room = bench_room(i % ROOMS)
        out.append(delivery(make_event("participant_joined", room, f"{prefix}_{i}", who), path))
    return out


# -- reading the inbox -----------------------------------------------------------------


class Inbox:
    """Read-only access to the server's webhook_inbox table, from outside the server."""

    def __init__(self, database_url: str) -> None:
        # Query parameters are for Tortoise (e.g. `?maxsize=`), not for a plain connection.
        self._url = database_url.split("?", 1)[0]
        self._sqlite = database_url.startswith("sqlite://")
        self._pg: Any = None

    async def open(self) -> None:
        if not self._sqlite:
            import asyncpg

            self._pg = await asyncpg.connect(self._url, timeout=5)

    async def close(self) -> None:
        if self._pg is not None:
            await self._pg.close()

    async def _fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        if self._sqlite:
            path = self._url.removeprefix("sqlite://")
            with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn:
                return list(conn.execute(sql.replace("$1", "?"), args).fetchall())
        return [tuple(r) for r in await self._pg.fetch(sql, *args)]

    async def pending(self) -> int:
        rows = await self._fetch("SELECT count(*) FROM webhook_inbox WHERE processed_at IS NULL")
        return int(rows[0][0])

    async def wait_applied(self, timeout: float = DRAIN_TIMEOUT) -> float:
        """Seconds until every inbox row has processed_at; raises past `timeout`."""
        started = time.monotonic()
        while (left := await self.pending()) > 0:
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"{left} webhook rows still unapplied after {timeout:.0f} s")
            await asyncio.sleep(0.02)
        return time.monotonic() - started

    async def lags(self, id_prefix: str) -> list[float]:
        """processed_at - received_at, in seconds, of the rows whose event id has the prefix."""
        rows = await self._fetch(
            "SELECT received_at, processed_at FROM webhook_inbox WHERE event_id LIKE $1",
            id_prefix + "%",
        )

        def at(value: Any) -> dt.datetime:
            return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)

        return [(at(done) - at(got)).total_seconds() for got, done in rows if done is not None]

    async def count(self, id_prefix: str) -> int:
        rows = await self._fetch(
            "SELECT count(*) FROM webhook_inbox WHERE event_id LIKE $1", id_prefix + "%"
        )
        return int(rows[0][0])


# -- the bench --------------------------------------------------------------------------


async def _create_rooms(server: Server) -> None:
    requests = [
        Request(
            "POST",
            "/v1/rooms",
            json.dumps({"name": bench_room(n).name, "max_participants": 10_000}).encode(),
            JSON_AUTH,
        )
        for n in range(ROOMS)
    ]
    result = await run_load(server.base_url, requests, concurrency=16)
    if result.statuses() != {201: ROOMS}:
        raise RuntimeError(f"room creation failed: {result.summary()}")


def _expect_ok(result: LoadResult, what: str) -> None:
    bad = {k: v for k, v in result.statuses().items() if k != 200}
    if bad:
        raise RuntimeError(f"{what}: non-200 answers {bad}; {result.summary()}")


def med(runs: list[LoadResult], figure: str) -> float:
    return statistics.median(
        r.rps(r.ok(r.samples)) if figure == "ok_rps" else r.p99_ms for r in runs
    )


async def paced_load(base_url: str, requests: list[Request], rate: float) -> None:
    """Send `requests` at a steady `rate` per second (open loop), each on its own."""
    started = time.perf_counter()
    async with aiohttp.ClientSession(base_url) as session:

        async def send(i: int, request: Request) -> None:
            await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
            async with session.post(request.path, data=request.body, headers=request.headers) as r:
                if r.status != 200:
                    raise RuntimeError(f"paced event answered {r.status}")

        await asyncio.gather(*(send(i, request) for i, request in enumerate(requests)))


async def _bench_database(label: str, database_url: str, quick: bool) -> list[dict[str, Any]]:
    per_run = 1_000 if quick else 3_000
    rounds = 1 if quick else 2
    warmup = 200 if quick else 500
    run_id = uuid.uuid4().hex[:6]
    inbox = Inbox(database_url)
    async with Server(base_env(database_url), factory=FACTORY, name=f"webhooks-{label}") as server:
        await inbox.open()
        try:
            await _create_rooms(server)
            started = [
                delivery(make_event("room_started", bench_room(n), f"EVs{run_id}_{n}"))
                for n in range(ROOMS)
            ]
            _expect_ok(await run_load(server.base_url, started, concurrency=16), "room_started")
            await inbox.wait_applied()
            for path in (VERIFY, REAL):
                warm = joins(f"EVw{run_id}{path[1]}", warmup, path)
                _expect_ok(
                    await run_load(server.base_url, warm, concurrency=CONCURRENCY), "warm-up"
                )
            await inbox.wait_applied()

            verify_runs: list[LoadResult] = []
            real_runs: list[LoadResult] = []
            for n in range(rounds):
                for path, runs in ((VERIFY, verify_runs), (REAL, real_runs)):
                    prefix = f"EV{'r' if path == REAL else 'v'}{run_id}{n}"
                    requests = joins(prefix, per_run, path)  # signed before timing
                    result = await run_load(
                        server.base_url,
                        requests,
                        concurrency=CONCURRENCY,
                        cpu_probe=server.cpu_seconds,
                    )
                    _expect_ok(result, path)
                    runs.append(result)
                    drain = await inbox.wait_applied() if path == REAL else 0.0
                    kind = "real" if path == REAL else "verify"
                    extra = (
                        f"; drained {drain:.2f} s after: applied "
                        f"{per_run / (result.elapsed + drain):,.0f}/s overall"
                        if path == REAL
                        else ""
                    )
                    print(f"  webhooks {label} {kind}: {result.summary()}{extra}")

            # The same events offered at half the rate the server accepted flat out:
            # the lag a deployment sees while it keeps up.
            paced_rate = med(real_runs, "ok_rps") / 2
            paced_events = joins(f"EVp{run_id}", int(paced_rate * (3 if quick else 6)), REAL)
            await paced_load(server.base_url, paced_events, paced_rate)
            await inbox.wait_applied()

            # The idle baseline: one event at a time, the server otherwise quiet.
            for i, request in enumerate(joins(f"EVi{run_id}", IDLE_EVENTS, REAL)):
                _expect_ok(
                    await run_load(server.base_url, [request], concurrency=1), f"idle event {i}"
                )
                await inbox.wait_applied()
                await asyncio.sleep(0.05)

            loaded = await inbox.lags(f"EVr{run_id}")
            paced = await inbox.lags(f"EVp{run_id}")
            idle = await inbox.lags(f"EVi{run_id}")
            expected = rounds * per_run
            if len(loaded) != expected:
                raise RuntimeError(f"{len(loaded)} applied timed rows, expected {expected}")
        finally:
            await inbox.close()

    postgres = label == "postgresql"
    loaded_ms = [lag * 1000 for lag in loaded]
    idle_ms = [lag * 1000 for lag in idle]
    return [
        row(
            f"webhook {label}: accepted/s vs verify-only ({CONCURRENCY} senders)",
            med(real_runs, "ok_rps"),
            "ev/s",
            med(verify_runs, "ok_rps"),
            target=("ratio", ">=", PG_ACCEPT_RATIO) if postgres else None,
        ),
        row(
            f"webhook {label}: p99 ack latency vs verify-only",
            med(real_runs, "p99"),
            "ms",
            med(verify_runs, "p99"),
        ),
        row(
            f"webhook {label}: ack->applied lag p99 at half that rate, vs idle",
            percentile([lag * 1000 for lag in paced], 99),
            "ms",
            percentile(idle_ms, 99),
        ),
        row(
            f"webhook {label}: ack->applied lag p50, loaded vs idle",
            percentile(loaded_ms, 50),
            "ms",
            percentile(idle_ms, 50),
        ),
        row(
            f"webhook {label}: ack->applied lag p99, loaded vs idle",
            percentile(loaded_ms, 99),
            "ms",
            percentile(idle_ms, 99),
            target=("value", "<", PG_LAG_P99_MS) if postgres else None,
        ),
    ]


@contextlib.asynccontextmanager
async def _sqlite_database() -> AsyncIterator[str]:
    with tempfile.TemporaryDirectory(prefix="qari-bench-sqlite-") as folder:
        yield f"sqlite://{folder}/bench.sqlite3"


async def run_async(quick: bool = False) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    async with postgres_database() as url:
        rows += await _bench_database("postgresql", url, quick)
    async with _sqlite_database() as url:
        rows += await _bench_database("sqlite", url, quick)
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    return asyncio.run(run_async(quick))


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)
