"""The sequencer numbers committed events in the order they became visible.

A reader that has seen number N must never later find a committed event
below N, though transactions draw insert ids in one order and commit in
another; two sequencers (two nodes) must never give one number twice or skip
one. Deliveries are made as events are numbered, for enabled endpoints whose
filters match.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import asyncpg
import pytest

from app.events.sequencer import Sequencer
from models.db import connection
from models.outbox import Event, WebhookEndpoint, append
from tests.conftest import Running, app_running
from tests.support.clock import FakeClock
from tests.support.outbox import numbered
from tests.support.postgres import truncate_tables
from tests.support.settings import make_settings

AT = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)


def _event(room: str, n: int) -> Event:
    return Event("participant.joined", room, {"room": room, "n": n}, AT)


async def _write(running: Running, *events: Event) -> None:
    async with running.services.database.transaction() as conn:
        await append(conn, events)


async def test_numbers_follow_commit_order_not_insert_order(
    postgres_url: str, clock: FakeClock
) -> None:
    """PostgreSQL only: SQLite has one writer at a time, so there insert order is
    commit order."""
    await truncate_tables(postgres_url)
    async with app_running(make_settings(postgres_url), clock) as running:
        await _commit_order(running, postgres_url.split("?", 1)[0])


async def _commit_order(running: Running, dsn: str) -> None:
    sequencer = running.services.events.sequencer
    first, second = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    insert = (
        "INSERT INTO outbox_events (room, type, data, occurred_at, created_at) "
        "VALUES ($1, 'participant.joined', '{}', now(), now())"
    )
    try:
        slow = first.transaction()
        await slow.start()
        await first.execute(insert, "early-insert")  # the lower id, committed last
        async with second.transaction():
            await second.execute(insert, "late-insert")
        await sequencer.run_once()
        seen = await numbered(running)
        assert [e.room for e in seen] == ["late-insert"]
        await slow.commit()
        after = await numbered(running)
        assert [e.room for e in after] == ["late-insert", "early-insert"]
        # A reader at the first number finds the second above it: nothing missed.
        assert after[1].seq > seen[-1].seq
    finally:
        await first.close()
        await second.close()


async def test_two_sequencers_racing_writers_give_each_number_once(running: Running) -> None:
    """Two sequencers (two nodes' worth) and concurrent writers: numbers are
    1..N, each event has exactly one, and each room's events keep their order."""
    database = running.services.database
    other = Sequencer(database)
    rooms = [f"room-{i}" for i in range(4)]

    async def writer(room: str) -> None:
        for n in range(25):
            await _write(running, _event(room, n))

    async def numbering(sequencer: Sequencer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await sequencer.run_once()
            await asyncio.sleep(0)

    stop = asyncio.Event()
    sequencers = [
        asyncio.create_task(numbering(running.services.events.sequencer, stop)),
        asyncio.create_task(numbering(other, stop)),
    ]
    async with asyncio.timeout(60):
        await asyncio.gather(*(writer(room) for room in rooms))
    stop.set()
    await asyncio.gather(*sequencers)
    events = await numbered(running)
    assert len(events) == 100
    assert [e.seq for e in events] == list(range(1, 101))
    for room in rooms:
        assert [e.data["n"] for e in events if e.room == room] == list(range(25))


async def test_deliveries_are_made_for_enabled_endpoints_that_want_the_event(
    running: Running,
) -> None:
    for id_, events, rooms, enabled in (
        ("ep_all", None, None, True),
        ("ep_joins_in_a", json.dumps(["participant.joined"]), json.dumps(["a"]), True),
        ("ep_rooms", json.dumps(["room.created"]), None, True),
        ("ep_off", None, None, False),
    ):
        await WebhookEndpoint.create(
            id=id_,
            url="https://example.com/h",
            events=events,
            rooms=rooms,
            enabled=enabled,
            secret="whsec_AAAA",
            created_at=AT,
        )
    await _write(running, _event("a", 1), _event("b", 2))
    events = await numbered(running)
    rows = await connection().execute_query_dict(
        "SELECT endpoint_id, event_seq, room, state, attempts FROM outbox_deliveries "
        "ORDER BY endpoint_id, event_seq"
    )
    by_seq = {e.room: e.seq for e in events}
    assert [(r["endpoint_id"], r["event_seq"], r["room"], r["state"]) for r in rows] == [
        ("ep_all", by_seq["a"], "a", "pending"),
        ("ep_all", by_seq["b"], "b", "pending"),
        ("ep_joins_in_a", by_seq["a"], "a", "pending"),
    ]


async def test_a_write_that_rolls_back_leaves_no_event(running: Running) -> None:
    class Refused(Exception):
        pass

    async def refused_change() -> None:
        async with running.services.database.transaction() as conn:
            await append(conn, [_event("gone", 1)])
            raise Refused

    with pytest.raises(Refused):
        await refused_change()
    await _write(running, _event("kept", 1))
    assert [e.room for e in await numbered(running)] == ["kept"]
