"""The inbox's one definition of pending (models/webhook_inbox.py), as every reader sees it."""

from __future__ import annotations

import datetime as dt

from models import WebhookInbox
from models.webhook_inbox import PendingQuery, has_pending, read_pending, rooms_with_pending
from models.webhook_inbox_ops import count_pending, inbox_backlog
from tests.conftest import Running
from tests.support.clock import EPOCH

MAX_ATTEMPTS = 3

# One row per case of the rule, each in a room of its own:
# (room, processed, failed attempts, pending, kept as failed).
CASES = [
    ("fresh", False, 0, True, False),
    ("retried", False, MAX_ATTEMPTS - 1, True, False),
    ("spent", False, MAX_ATTEMPTS, False, True),
    ("long-spent", False, MAX_ATTEMPTS + 2, False, True),
    ("applied", True, 0, False, False),
    ("applied-after-failing", True, MAX_ATTEMPTS - 1, False, False),
]


async def test_every_reader_of_the_inbox_agrees_on_what_is_pending(running: Running) -> None:
    # Rooms that do not exist, and a sweep that never runs: no actor touches these rows.
    for room, processed, attempts, _, _ in CASES:
        await WebhookInbox.create(
            event_id=f"EV_{room}",
            event_type="room_started",
            room_name=room,
            payload="{}",
            attempts=attempts,
            received_at=EPOCH,
            processed_at=EPOCH if processed else None,
        )
    pending = [room for room, _, _, is_pending, _ in CASES if is_pending]
    failed = [room for room, _, _, _, is_failed in CASES if is_failed]

    database = running.services.database
    async with database.bounded():
        assert sorted(await rooms_with_pending(MAX_ATTEMPTS)) == sorted(pending)
        for room, _, _, is_pending, _ in CASES:
            assert await has_pending(room, MAX_ATTEMPTS) is is_pending, room
        assert await count_pending(MAX_ATTEMPTS) == len(pending)
        backlog = await inbox_backlog(MAX_ATTEMPTS, shown=10)
    read = await read_pending(
        database,
        [PendingQuery(room, EPOCH + dt.timedelta(seconds=1)) for room, *_ in CASES],
        max_attempts=MAX_ATTEMPTS,
        per_room=10,
    )

    assert sorted(row.room_name for row in read) == sorted(pending)
    assert (backlog.pending, backlog.failed) == (len(pending), len(failed))
    # Newest first, with what ops are shown of each.
    assert [row.room_name for row in backlog.newest_failed] == failed[::-1]
    assert [row.attempts for row in backlog.newest_failed] == [MAX_ATTEMPTS + 2, MAX_ATTEMPTS]
    assert all(row.received_at == EPOCH for row in backlog.newest_failed)
