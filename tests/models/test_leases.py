"""Room leases and the fence (models/leases.py, models/db.py `room_write`), on PostgreSQL.

The fence is the database's: a write under an epoch that is no longer the
room's is refused inside its own transaction, and a takeover waits for a
write that passed the fence to commit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import asyncpg
import pytest

from models import Ban, Room, WebhookInbox
from models.db import Database, LeaseLostError, connection
from models.leases import Holder, Lease, claim, release, renew
from models.seats import Seat, SeatRow, upsert_seats_fenced
from models.webhook_effects import EffectBatch, write_and_mark
from tests.conftest import Running

NOW = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


async def _take_over(room: str, node: str) -> Lease | Holder:
    """`node` claims `room` as if its holder's lease had lapsed."""
    await connection().execute_query(
        "UPDATE room_leases SET expires_at = clock_timestamp() WHERE room = $1", [room]
    )
    return await claim(connection(), room, node, 10)


async def test_a_free_room_is_claimed_and_a_held_one_names_its_holder(running: Running) -> None:
    ours = await claim(connection(), "r1", "node-a", 10)
    assert ours == Lease("r1", 1)
    await renew(connection(), "node-b", "http://b", 10, {})  # node-b's row, for its url
    theirs = await claim(connection(), "r1", "node-b", 10)
    assert isinstance(theirs, Holder)
    assert theirs.node == "node-a"
    # The same node id claiming again (a restart) takes it over with a new epoch.
    assert await claim(connection(), "r1", "node-a", 10) == Lease("r1", 2)


async def test_a_lapsed_lease_changes_hands_with_a_new_epoch(running: Running) -> None:
    assert await claim(connection(), "r2", "node-a", 10) == Lease("r2", 1)
    assert await _take_over("r2", "node-b") == Lease("r2", 2)
    renewed = await renew(connection(), "node-a", "http://a", 10, {"r2": 1})
    assert "r2" not in renewed  # node-a no longer holds it


async def test_a_released_lease_is_taken_at_once(running: Running) -> None:
    await claim(connection(), "r3", "node-a", 10)
    assert await release(connection(), "node-a") == 1
    assert await claim(connection(), "r3", "node-b", 10) == Lease("r3", 2)


async def test_a_release_or_renewal_of_an_older_epoch_leaves_a_newer_lease(
    running: Running,
) -> None:
    assert await claim(connection(), "r4", "node-a", 10) == Lease("r4", 1)
    assert await claim(connection(), "r4", "node-a", 10) == Lease("r4", 2)  # taken again
    assert await release(connection(), "node-a", {"r4": 1}) == 0
    assert await renew(connection(), "node-a", "http://a", 10, {"r4": 1}) == {}
    assert isinstance(await claim(connection(), "r4", "node-b", 10), Holder)  # still held


async def test_a_write_with_a_stale_epoch_is_refused_by_the_database(running: Running) -> None:
    database: Database = running.services.database
    node = running.services.ownership.node_id
    room = await Room.create(name="fenced")
    lease = await claim(connection(), "fenced", node, 10)
    assert isinstance(lease, Lease)
    await _take_over("fenced", "node-b")

    with pytest.raises(LeaseLostError) as refused:
        async with database.room_write({"fenced": lease.epoch}) as conn:
            await Ban.create(room_id=room.id, identity="x", created_at=NOW, using_db=conn)
    assert refused.value.rooms == {"fenced"}
    assert await Ban.filter(room_id=room.id).count() == 0  # nothing written


async def test_a_takeover_waits_for_a_write_that_passed_the_fence(running: Running) -> None:
    database: Database = running.services.database
    node = running.services.ownership.node_id
    room = await Room.create(name="racing")
    lease = await claim(connection(), "racing", node, 10)
    assert isinstance(lease, Lease)
    passed = asyncio.Event()
    finish = asyncio.Event()

    async def write() -> None:
        async with database.room_write({"racing": lease.epoch}) as conn:
            passed.set()
            await asyncio.wait_for(finish.wait(), 5)
            await Ban.create(room_id=room.id, identity="y", created_at=NOW, using_db=conn)

    writer = asyncio.create_task(write())
    await asyncio.wait_for(passed.wait(), 5)
    taker = asyncio.create_task(_take_over("racing", "node-b"))
    await asyncio.sleep(0.2)
    assert not taker.done()  # the lease row is held for share by the write
    finish.set()
    await asyncio.wait_for(writer, 5)
    assert await asyncio.wait_for(taker, 5) == Lease("racing", lease.epoch + 1)
    assert await Ban.filter(room_id=room.id).count() == 1  # what passed the fence committed


async def test_a_webhook_round_s_statement_fences_itself_and_writes_nothing_when_stale(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    # The committer's write on PostgreSQL is one statement with its own fence
    # (models/webhook_effects.py), not a transaction's fence query: it refuses the
    # same way, and a lease lost that way is lost to this node too.
    caplog.set_level(logging.INFO, logger="app.cluster.leases")
    database: Database = running.services.database
    leases = running.services.ownership
    node = leases.node_id
    held = await claim(connection(), "kept-room", node, 10)
    gone = await claim(connection(), "taken-room", node, 10)
    assert isinstance(held, Lease)
    assert isinstance(gone, Lease)
    events = [
        await WebhookInbox.create(
            event_id=f"EV_fenced_{n}",
            event_type="room_started",
            room_name=None,  # no actor applies it meanwhile
            payload="{}",
            received_at=NOW,
        )
        for n in range(2)
    ]
    await _take_over("taken-room", "node-b")

    batch = EffectBatch(applied=[e.id for e in events])
    with pytest.raises(LeaseLostError) as refused:
        await write_and_mark(database, batch, {"kept-room": held.epoch, "taken-room": gone.epoch})
    assert refused.value.rooms == {"taken-room"}
    # Claimed here by SQL, not by the node's leases: a refusal under an epoch the
    # node does not hold is said, so one repeated round after round is seen.
    assert "write refused by its fence for room(s) ['taken-room']" in caplog.text
    marked = await WebhookInbox.filter(id__in=[e.id for e in events], processed_at__not_isnull=True)
    assert marked == []  # nothing written: not even the room whose lease held

    written = await write_and_mark(database, batch, {"kept-room": held.epoch})
    assert set(written.processed) == {e.id for e in events}


async def test_a_seat_written_by_a_statement_that_fences_itself_is_refused_when_stale(
    running: Running,
) -> None:
    # The seat writer's statement on PostgreSQL carries the fence too (models/seats.py).
    database: Database = running.services.database
    node = running.services.ownership.node_id
    room = await Room.create(name="seated")
    lease = await claim(connection(), "seated", node, 10)
    assert isinstance(lease, Lease)
    row = SeatRow(room.id, "ann", NOW, NOW + dt.timedelta(minutes=2), NOW + dt.timedelta(hours=1))
    await upsert_seats_fenced(database, connection(), [row], {"seated": lease.epoch})
    assert await Seat.filter(room_id=room.id).count() == 1

    await _take_over("seated", "node-b")
    later = SeatRow(room.id, "bob", NOW, NOW + dt.timedelta(minutes=2), NOW + dt.timedelta(hours=1))
    with pytest.raises(LeaseLostError) as refused:
        await upsert_seats_fenced(database, connection(), [later], {"seated": lease.epoch})
    assert refused.value.rooms == {"seated"}
    assert [s.identity for s in await Seat.filter(room_id=room.id)] == ["ann"]  # nothing written


async def test_a_takeover_waits_for_a_fenced_statement_that_passed_its_fence(
    running: Running,
) -> None:
    # The statement takes the lease rows for key share in its first CTE and keeps
    # them to its end: a takeover (FOR UPDATE) waits for it, as for room_write.
    database: Database = running.services.database
    node = running.services.ownership.node_id
    lease = await claim(connection(), "stalled", node, 10)
    assert isinstance(lease, Lease)
    event = await WebhookInbox.create(
        event_id="EV_stalled",
        event_type="room_started",
        room_name=None,
        payload="{}",
        received_at=NOW,
    )
    # Another transaction holds the event's row, so the statement, past its fence,
    # waits at its write of the processed mark.
    blocker = await asyncpg.connect(running.services.settings.database_url.split("?", 1)[0])
    try:
        blocking = blocker.transaction()
        await blocking.start()
        await blocker.execute("SELECT id FROM webhook_inbox WHERE id = $1 FOR UPDATE", event.id)
        writer = asyncio.create_task(
            write_and_mark(database, EffectBatch(applied=[event.id]), {"stalled": lease.epoch})
        )
        await _until_waiting_for_a_lock(blocker, 1)
        taker = asyncio.create_task(_take_over("stalled", "node-b"))
        await _until_waiting_for_a_lock(blocker, 2)
        assert not writer.done()
        assert not taker.done()  # the lease row is held for key share by the statement
        await blocking.rollback()
        written = await asyncio.wait_for(writer, 5)
        assert set(written.processed) == {event.id}  # what passed the fence committed
        assert await asyncio.wait_for(taker, 5) == Lease("stalled", lease.epoch + 1)
    finally:
        await blocker.close()


async def _until_waiting_for_a_lock(conn: asyncpg.Connection, count: int) -> None:
    """Until `count` backends wait for a lock (bounded: 5 s)."""
    async with asyncio.timeout(5):
        while (
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database()"
            )
            < count
        ):
            await asyncio.sleep(0.02)
