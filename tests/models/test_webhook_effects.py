"""The processed mark (models/webhook_effects.py): the database's clock, and no attempt spent."""

from __future__ import annotations

import datetime as dt

from models import WebhookInbox
from models.webhook_effects import EffectBatch, write_and_mark
from models.webhook_inbox import FailedAttempt
from tests.conftest import Running
from tests.support.clock import EPOCH

# The database runs on this host: its clock and ours agree this closely.
CLOCK_SLACK = dt.timedelta(seconds=5)


async def stored_event(event_id: str) -> WebhookInbox:
    return await WebhookInbox.create(
        event_id=event_id,
        event_type="room_started",
        room_name=None,  # no room: no actor applies it meanwhile
        payload="{}",
        received_at=EPOCH,
    )


async def test_an_applied_event_is_stamped_by_the_database_clock_when_it_commits(
    running: Running,
) -> None:
    # The app's injected clock stands at EPOCH; the mark must not come from it.
    row = await stored_event("EV_applied")
    before = dt.datetime.now(dt.UTC)
    written = await write_and_mark(running.services.database, EffectBatch(applied=[row.id]), {})
    after = dt.datetime.now(dt.UTC)

    stored = await WebhookInbox.get(id=row.id)
    assert stored.processed_at is not None
    assert written.processed == {row.id: stored.processed_at}
    assert before - CLOCK_SLACK <= stored.processed_at <= after + CLOCK_SLACK
    assert stored.attempts == 0  # attempts count failures only

    # Written again (a retry of a write whose outcome was unknown): nothing changes.
    again = await write_and_mark(running.services.database, EffectBatch(applied=[row.id]), {})
    assert again.processed == {}
    assert (await WebhookInbox.get(id=row.id)).processed_at == stored.processed_at


async def test_a_failed_attempt_counts_and_leaves_the_event_unprocessed(running: Running) -> None:
    row = await stored_event("EV_failing")
    written = await write_and_mark(
        running.services.database, EffectBatch(failed=[FailedAttempt(row.id, "boom")]), {}
    )

    stored = await WebhookInbox.get(id=row.id)
    assert written.processed == {}
    assert (stored.processed_at, stored.attempts, stored.last_error) == (None, 1, "boom")
