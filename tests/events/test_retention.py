"""Events are kept EVENTS_RETENTION_HOURS (app/events/retention.py), on both databases:
older ones go with their deliveries and attempts, except those a pending delivery
still needs; in batches; counted from the app's injected clock.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from app.events.retention import EventRetention
from app.settings import Settings
from models.outbox import Event, OutboxAttempt, OutboxDelivery, OutboxEvent, WebhookEndpoint, append
from tests.conftest import Running, app_running
from tests.support.clock import FakeClock

WITHIN = 5.0
HOURS = 24.0
# Past any clock here: the delivery worker leaves these deliveries alone.
NEVER = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


async def write(running: Running, count: int) -> list[int]:
    """Commit `count` events as a change does; once numbered, their seqs."""
    services = running.services
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    async with services.database.transaction() as conn:
        await append(conn, [Event("participant.left", "kept", {"n": i}, at) for i in range(count)])
    services.events.committed()

    async def numbered() -> list[int]:
        while await OutboxEvent.filter(seq__isnull=True).exists():
            await asyncio.sleep(0.01)
        seqs = await OutboxEvent.all().order_by("-seq").limit(count).values_list("seq", flat=True)
        return sorted(int(seq) for seq in seqs)

    return await asyncio.wait_for(numbered(), WITHIN)


async def written_at(seqs: list[int], moment: dt.datetime) -> None:
    await OutboxEvent.filter(seq__in=seqs).update(created_at=moment)


async def deliver(endpoint: str, seq: int, state: str) -> OutboxDelivery:
    event = await OutboxEvent.get(seq=seq)
    return await OutboxDelivery.create(
        endpoint_id=endpoint,
        event_id=event.id,
        event_seq=seq,
        room=event.room,
        state=state,
        next_attempt_at=NEVER,
    )


async def remaining() -> list[int]:
    return sorted(await OutboxEvent.all().values_list("seq", flat=True))


async def test_old_events_go_with_their_deliveries_unless_one_is_pending(
    running: Running, clock: FakeClock
) -> None:
    seqs = await write(running, 6)
    now = clock.now()
    await written_at(seqs[:4], now - dt.timedelta(hours=HOURS, minutes=1))
    await written_at(seqs[4:], now - dt.timedelta(hours=HOURS - 1))
    # Made after the events were numbered, so the sequencer made none for it.
    endpoint = await WebhookEndpoint.create(
        id="we_retention", url="https://hooks.example/x", secret="whsec_x", created_at=now
    )
    pending = await deliver(endpoint.id, seqs[0], "pending")
    delivered = await deliver(endpoint.id, seqs[1], "delivered")
    await deliver(endpoint.id, seqs[2], "failed")
    await OutboxAttempt.create(
        delivery_id=delivered.id,
        endpoint_id=endpoint.id,
        event_seq=seqs[1],
        type="participant.left",
        attempt=1,
        status_code=200,
        attempted_at=now,
    )
    retention = EventRetention(running.services.database, HOURS, clock.now)

    await retention.run_once()

    # The pending delivery's event stays, and the ones not old enough.
    assert await remaining() == [seqs[0], *seqs[4:]]
    assert await OutboxDelivery.all().values_list("id", flat=True) == [pending.id]
    assert await OutboxAttempt.all().count() == 0
    # Delivered at last: it goes at the next run.
    await OutboxDelivery.filter(id=pending.id).update(state="delivered")
    await retention.run_once()
    assert await remaining() == seqs[4:]
    # An hour on, so are the rest.
    clock.advance(3601)
    assert await retention.run_once() == 2
    assert await remaining() == []


async def test_a_large_backlog_goes_in_batches(running: Running, clock: FakeClock) -> None:
    seqs = await write(running, 7)
    await written_at(seqs[:5], clock.now() - dt.timedelta(hours=HOURS + 1))
    retention = EventRetention(running.services.database, HOURS, clock.now, batch=2)
    assert await retention.run_once() == 5
    assert await remaining() == seqs[5:]


async def test_the_app_deletes_expired_events_when_it_starts(
    settings: Settings, clock: FakeClock
) -> None:
    """Wired into the app's tasks: with EVENTS_RETENTION_HOURS and the app's clock."""
    async with app_running(settings, clock) as first:
        seqs = await write(first, 3)
        await written_at(
            seqs[:2], clock.now() - dt.timedelta(hours=settings.events_retention_hours, seconds=1)
        )
    async with app_running(settings, clock):

        async def deleted() -> None:
            while await remaining() != seqs[2:]:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(deleted(), WITHIN)
