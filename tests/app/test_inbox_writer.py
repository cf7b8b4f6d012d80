"""The inbox writer: concurrent webhook deliveries stored by shared inserts, each
acknowledged only once its own event is committed."""

from __future__ import annotations

import asyncio

import pytest

from app.inbox_writer import InboxEntry, NotStoredError
from models import WebhookInbox
from tests.app.test_webhooks import deliver, make_room
from tests.conftest import Running, app_running
from tests.support.applied import apply_pending
from tests.support.clock import FakeClock
from tests.support.postgres import truncate_tables
from tests.support.settings import make_settings
from tests.support.webhooks import event, participant, room_info

ROOM = "writer-room"
SID = "RM_writer"


async def test_concurrent_deliveries_share_inserts_and_all_land(running: Running) -> None:
    client = running.client()
    await make_room(client, ROOM)
    assert await deliver(client, event("room_started", room_info(ROOM, SID))) == 200
    joins = [
        event("participant_joined", room_info(ROOM, SID), who=participant(f"u{i}", f"PA_w{i}"))
        for i in range(40)
    ]
    writer = running.services.inbox
    before = writer.inserts

    statuses = await asyncio.gather(*(deliver(client, message) for message in joins))

    assert statuses == [200] * len(joins)
    assert writer.inserts - before < len(joins)  # shared, not one each
    stored = await WebhookInbox.filter(event_type="participant_joined").count()
    assert stored == len(joins)
    await apply_pending(running.services.rooms, ROOM)
    assert await WebhookInbox.filter(processed_at=None).count() == 0


async def test_a_duplicate_within_one_insert_is_stored_once(running: Running) -> None:
    message = event("room_started", room_info(ROOM, SID))
    other = event("room_started", room_info("other", "RM_other"))
    statuses = await asyncio.gather(
        *(deliver(running.client(), m) for m in (message, other, message, message))
    )
    assert statuses == [200] * 4
    assert await WebhookInbox.filter(event_id=message.id).count() == 1
    assert await WebhookInbox.filter(event_id=other.id).count() == 1


async def test_one_row_the_database_refuses_fails_alone(
    postgres_url: str, clock: FakeClock
) -> None:
    """PostgreSQL text cannot hold NUL: that row fails, the rows stored with it do not."""
    await truncate_tables(postgres_url)
    async with app_running(make_settings(postgres_url), clock) as running:
        writer = running.services.inbox

        def entry(event_id: str, payload: str = "{}") -> InboxEntry:
            return InboxEntry(event_id, "room_started", ROOM, SID, 1, payload)

        results = await asyncio.gather(
            writer.store(entry("EV_ok_1")),
            writer.store(entry("EV_bad", payload="nul \x00 here")),
            writer.store(entry("EV_ok_2")),
            return_exceptions=True,
        )

        assert results[0] is None
        assert isinstance(results[1], Exception)
        assert results[2] is None
        stored = await WebhookInbox.all().values_list("event_id", flat=True)
        assert sorted(stored) == ["EV_ok_1", "EV_ok_2"]


async def test_one_delivery_at_a_time_still_serves_a_burst(
    database_url: str, clock: FakeClock
) -> None:
    """WEBHOOK_CONCURRENCY=1: deliveries queue for their turn, none is refused or lost."""
    async with app_running(make_settings(database_url, webhook_concurrency=1), clock) as running:
        client = running.client()
        messages = [event("room_started", room_info(f"room-{i}", f"RM_{i}")) for i in range(20)]
        statuses = await asyncio.gather(*(deliver(client, m) for m in messages))
        assert statuses == [200] * len(messages)
        assert await WebhookInbox.all().count() == len(messages)


async def test_a_delivery_never_waits_forever(database_url: str, clock: FakeClock) -> None:
    """Even with no database at all (the app has shut down), `store` answers: it raises."""
    async with app_running(make_settings(database_url), clock) as running:
        writer = running.services.inbox
    entry = InboxEntry("EV_late", "room_started", ROOM, SID, 1, "{}")
    # Not stored (Tortoise says no context is active), not wait_for's TimeoutError.
    with pytest.raises(NotStoredError):
        await asyncio.wait_for(writer.store(entry), 5)


async def test_a_delivery_cancelled_before_its_insert_is_stored_all_the_same(
    running: Running,
) -> None:
    """A delivery whose client went away (its task cancelled) before its insert began
    is still stored, once: LiveKit's retry then finds it."""
    writer = running.services.inbox
    before = writer.inserts
    entry = InboxEntry("EV_gone", "room_started", ROOM, SID, 1, "{}")
    delivery = asyncio.ensure_future(writer.store(entry))
    await asyncio.sleep(0)  # the delivery has handed its row over; no insert has begun
    assert writer.inserts == before
    delivery.cancel()
    with pytest.raises(asyncio.CancelledError):
        await delivery
    async with asyncio.timeout(5):
        while not await WebhookInbox.filter(event_id="EV_gone").exists():
            await asyncio.sleep(0.01)
    assert await WebhookInbox.filter(event_id="EV_gone").count() == 1
