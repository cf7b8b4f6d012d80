"""Tokens for seats already held while the database is stalled by a table lock.

`python -m app` is served by a real Hypercorn process on a throwaway
PostgreSQL database (DATABASE_TIMEOUT_SECONDS=5, the default). A room of 50 is
created and 50 identities get a token each (their seats are held). Then, from
8 connections, those identities ask for their token again for 10 s (5 s with
--quick), first with the database idle (the baseline), then while another
session holds `LOCK TABLE <t> IN ACCESS EXCLUSIVE MODE` for rooms,
participant_sessions and webhook_inbox in turn, and webhooks for the room
keep arriving from 4 more connections (each waits on the lock, or not,
depending on the table).

Target, per table: p99 of the held-seat tokens during the lock < 100 ms, and
none refused. Such a token needs no database (DESIGN.md section 5): what the
lock can slow is only a room actor that waits on the database in its mailbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from livekit.protocol.models import ParticipantInfo, Room

from bench.harness import (
    JSON_AUTH,
    LoadResult,
    Request,
    Server,
    base_env,
    postgres_database,
    row,
    run_load,
)
from bench.webhook_events import delivery, make_event

ROOM = "bench-stall"
SID = "RM_bench_stall"
SEATS = 50
CONCURRENCY = 8
WEBHOOK_SENDERS = 4
P99_TARGET_MS = 100.0
TABLES = ("rooms", "participant_sessions", "webhook_inbox")


def _tokens() -> list[Request]:
    """One token request per held seat; a timed run cycles through them."""
    return [
        Request(
            "POST",
            f"/v1/rooms/{ROOM}/token",
            json.dumps({"identity": f"held-{n:02d}"}).encode(),
            JSON_AUTH,
            "token",
        )
        for n in range(SEATS)
    ]


async def _hold_seats(server: Server) -> None:
    create = json.dumps({"name": ROOM, "max_participants": SEATS}).encode()
    created = await run_load(
        server.base_url, [Request("POST", "/v1/rooms", create, JSON_AUTH)], concurrency=1
    )
    if created.statuses() != {201: 1}:
        raise RuntimeError(f"room creation failed: {created.summary()}")
    held = await run_load(server.base_url, _tokens(), concurrency=8)
    if held.statuses() != {200: SEATS}:
        raise RuntimeError(f"holding seats failed: {held.summary()}")


def _webhooks(table: str) -> list[Request]:
    """Joins (each a new event id) and leaves for the room, as LiveKit would send them."""
    room = Room(name=ROOM, sid=SID)
    return [
        delivery(
            make_event(
                "participant_joined" if i % 2 == 0 else "participant_left",
                room,
                f"EV_stall_{table}_{i}",
                ParticipantInfo(identity=f"w{i // 2}", sid=f"PA_stall_{table}_{i // 2}"),
            )
        )
        for i in range(4_000)
    ]


@contextlib.asynccontextmanager
async def _locked(url: str, table: str) -> AsyncIterator[None]:
    conn = await asyncpg.connect(url)
    try:
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield
        await transaction.rollback()
    finally:
        await conn.close()


def _refused(result: LoadResult) -> int:
    return sum(n for status, n in result.statuses().items() if status != 200)


async def run_async(quick: bool = False) -> list[dict[str, Any]]:
    seconds = 5.0 if quick else 10.0
    rows: list[dict[str, Any]] = []
    async with (
        postgres_database() as url,
        Server(base_env(url), name="stall") as server,
    ):
        await _hold_seats(server)
        baseline = await run_load(
            server.base_url, _tokens(), concurrency=CONCURRENCY, duration=seconds
        )
        print(f"  tokens, database idle: {baseline.summary()}")
        for table in TABLES:
            async with _locked(url, table):
                stalled, hooks = await asyncio.gather(
                    run_load(server.base_url, _tokens(), concurrency=CONCURRENCY, duration=seconds),
                    run_load(
                        server.base_url,
                        _webhooks(table),
                        concurrency=WEBHOOK_SENDERS,
                        duration=seconds,
                    ),
                )
            print(f"  tokens, {table} locked: {stalled.summary()}")
            print(f"  webhooks, {table} locked: {hooks.summary()}")
            rows += [
                row(
                    f"stall: held-seat token p99, {table} locked {seconds:.0f} s vs idle",
                    stalled.p99_ms,
                    "ms",
                    baseline.p99_ms,
                    target=("value", "<", P99_TARGET_MS),
                ),
                row(
                    f"stall: held-seat tokens refused, {table} locked vs idle",
                    _refused(stalled),
                    "req",
                    _refused(baseline),
                    target=("value", "<=", 0),
                ),
                row(
                    f"stall: held-seat tokens/s, {table} locked vs idle",
                    stalled.rps(),
                    "req/s",
                    baseline.rps(),
                ),
            ]
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    return asyncio.run(run_async(quick))
