"""The feed's hub (app/events/feed.py): one read per wake for any number of feeds,
a slow feed let go without holding up the others, a resume that joins the live
events without a gap or a repeat; and the rule deciding which events a feed
gets, one row per case.

The hub tests drive a hub of their own on the app's database (both of them),
woken only by the test (its poll is an hour), so its reads can be counted
exactly; the events are written and numbered by the running app.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from app.events.feed import FeedClosedError, FeedFilter, FeedHub, Subscription
from models.outbox import Event, StoredEvent, append
from tests.conftest import Running

WITHIN = 5.0
AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
ALICE = "0xA11CE00000000000000000000000000000000001"
BOB = "0xB0B0000000000000000000000000000000000002"


async def write(running: Running, count: int, room: str = "hub") -> int:
    """Commit `count` events as a change does; once numbered, the last seq."""
    services = running.services
    async with services.database.transaction() as conn:
        await append(conn, [Event("participant.joined", room, {"n": i}, AT) for i in range(count)])
    services.events.committed()

    async def settled() -> int:
        while True:
            async with services.database.transaction() as conn:
                rows = await conn.execute_query_dict(
                    "SELECT (SELECT COUNT(*) FROM outbox_events WHERE seq IS NULL) AS waiting, "
                    "(SELECT last_seq FROM outbox_sequence) AS last"
                )
            if rows[0]["waiting"] == 0:
                return int(rows[0]["last"] or 0)
            await asyncio.sleep(0.01)

    return await asyncio.wait_for(settled(), WITHIN)


@contextlib.asynccontextmanager
async def own_hub(running: Running, **options: Any) -> AsyncIterator[FeedHub]:
    """A hub on the app's database that reads only when the test wakes it."""
    hub = FeedHub(running.services.database, poll_seconds=3600, **options)
    task = asyncio.create_task(hub.run_forever())
    try:
        await hub.wait_started(WITHIN)
        yield hub
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Reader:
    """A feed's consumer, keeping every seq it is given."""

    def __init__(self, subscription: Subscription) -> None:
        self.subscription = subscription
        self.seqs: list[int] = []
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for batch in self.subscription.batches(keepalive_seconds=60):
            self.seqs += [event.seq for event in batch]
            self._changed.set()

    async def until(self, seq: int) -> None:
        async def wait() -> None:
            while not self.seqs or self.seqs[-1] < seq:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), WITHIN)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.subscription.end("closed")


async def test_fifty_feeds_cost_one_read_per_wake(running: Running) -> None:
    async with own_hub(running) as hub:
        readers = [Reader(hub.subscribe(FeedFilter())) for _ in range(50)]
        start = hub.position
        for round_ in range(1, 4):
            last = await write(running, 5)
            hub.wake(last)
            await asyncio.gather(*(reader.until(last) for reader in readers))
            assert hub.reads == round_
        for reader in readers:
            assert reader.seqs == list(range(start + 1, last + 1))
            await reader.close()
        assert hub.subscribers == 0


async def test_with_no_feed_open_a_wake_reads_nothing(running: Running) -> None:
    async with own_hub(running) as hub:
        last = await write(running, 3)
        hub.wake(last)
        await until(lambda: hub.position == last)
        assert hub.reads == 0
        # ...and a feed opened now starts after what was numbered.
        reader = Reader(hub.subscribe(FeedFilter()))
        newer = await write(running, 2)
        hub.wake(newer)
        await reader.until(newer)
        assert reader.seqs == [newer - 1, newer]
        await reader.close()


async def test_from_now_means_after_what_is_numbered_even_if_the_hub_has_not_read_it(
    running: Running,
) -> None:
    async with own_hub(running) as hub:
        early = Reader(hub.subscribe(FeedFilter()))
        start = hub.position
        last = await write(running, 3)
        # Told of them, not read yet: a feed opening now is past them all the same,
        # and so is one resuming after a seq the hub has yet to reach.
        hub.wake(last)
        now = Reader(hub.subscribe(FeedFilter()))
        ahead = Reader(hub.subscribe(FeedFilter(), after=last - 1))
        await early.until(last)
        newer = await write(running, 2)
        hub.wake(newer)
        await asyncio.gather(*(reader.until(newer) for reader in (early, now, ahead)))
        assert early.seqs == list(range(start + 1, newer + 1))
        assert now.seqs == [newer - 1, newer]
        assert ahead.seqs == [last, newer - 1, newer]
        for reader in (early, now, ahead):
            await reader.close()


async def test_a_slow_feed_is_dropped_and_the_others_do_not_wait_for_it(running: Running) -> None:
    async with own_hub(running, queue_size=5) as hub:
        fast = Reader(hub.subscribe(FeedFilter()))
        slow = hub.subscribe(FeedFilter())
        slow_batches = slow.batches(keepalive_seconds=60)
        first = asyncio.create_task(anext(slow_batches))
        start = hub.position
        # Three rounds of three: the slow feed takes the first, then never reads again.
        for round_ in range(1, 5):
            last = await write(running, 3)
            hub.wake(last)
            await fast.until(last)
            if round_ == 1:
                assert [event.seq for event in await first] == [last - 2, last - 1, last]
            if round_ < 3:
                assert slow.ended is None
        assert slow.ended == "dropped"
        assert (hub.dropped, hub.subscribers) == (1, 1)
        assert fast.seqs == list(range(start + 1, last + 1))
        # What it is told next: that it ended (the feed then says so and stops).
        assert [batch async for batch in slow_batches] == []
        await fast.close()


async def test_a_resumed_feed_goes_live_without_a_gap_or_a_repeat(running: Running) -> None:
    base = await write(running, 0)
    # A backlog of three pages, then the hub starts after it.
    backlog_end = await write(running, 1100)
    async with own_hub(running) as hub:
        assert hub.position == backlog_end
        subscription = hub.subscribe(FeedFilter(), after=base)
        # Read by the hub before the feed has read its backlog: kept for it meanwhile.
        during = await write(running, 7)
        hub.wake(during)
        await until(lambda: hub.position == during)
        reader = Reader(subscription)
        await reader.until(during)
        assert subscription.live
        after = await write(running, 4)
        hub.wake(after)
        await reader.until(after)
        assert reader.seqs == list(range(base + 1, after + 1))
        # The backlog was the feed's own reads; the hub read twice, for everyone.
        assert hub.reads == 2
        await reader.close()


async def test_a_feed_on_a_closing_hub_ends_and_no_new_one_opens(running: Running) -> None:
    async with own_hub(running) as hub:
        subscription = hub.subscribe(FeedFilter())
        reader = Reader(subscription)
        hub.close()
        assert subscription.ended == "closing"
        with pytest.raises(FeedClosedError):
            hub.subscribe(FeedFilter())
        await reader.close()


async def until(condition: Any, timeout: float = WITHIN) -> None:
    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), timeout)


# -- which events a feed gets: one row per rule ------------------------------------------


def stored_event(type_: str, room: str, owner: str | None = None) -> StoredEvent:
    data: dict[str, Any] = (
        {"room": {"name": room, "owner": owner}} if type_.startswith("room.") else {"room": room}
    )
    return StoredEvent(seq=1, room=room, type=type_, data=data, at=AT)


# (rule, the feed's filter, rooms the wallet owns before, the event, admitted, owned after)
RULES: Sequence[tuple[str, FeedFilter, set[str], StoredEvent, bool, set[str]]] = [
    (
        "a service sees every room",
        FeedFilter(),
        set(),
        stored_event("participant.joined", "x"),
        True,
        set(),
    ),
    (
        "a wallet sees a room it owns",
        FeedFilter(wallet=ALICE),
        {"a"},
        stored_event("session.started", "a"),
        True,
        {"a"},
    ),
    (
        "a wallet does not see another's room",
        FeedFilter(wallet=ALICE),
        {"a"},
        stored_event("session.started", "b"),
        False,
        {"a"},
    ),
    (
        "a room made for it becomes its own",
        FeedFilter(wallet=ALICE),
        set(),
        stored_event("room.created", "n", ALICE),
        True,
        {"n"},
    ),
    (
        "owners are compared without case",
        FeedFilter(wallet=ALICE),
        set(),
        stored_event("room.created", "n", ALICE.lower()),
        True,
        {"n"},
    ),
    (
        "a room made for another is not",
        FeedFilter(wallet=ALICE),
        set(),
        stored_event("room.created", "n", BOB),
        False,
        set(),
    ),
    (
        "a name made again for another is no longer its own",
        FeedFilter(wallet=ALICE),
        {"n"},
        stored_event("room.created", "n", BOB),
        False,
        set(),
    ),
    (
        "a room without an owner is nobody's",
        FeedFilter(wallet=ALICE),
        {"n"},
        stored_event("room.updated", "n", None),
        False,
        set(),
    ),
    (
        "its room's change is shown",
        FeedFilter(wallet=ALICE),
        {"a"},
        stored_event("room.updated", "a", ALICE),
        True,
        {"a"},
    ),
    (
        "its room's deletion is shown, and the room is no longer its own",
        FeedFilter(wallet=ALICE),
        {"a"},
        stored_event("room.deleted", "a", ALICE),
        True,
        set(),
    ),
    (
        "ownership follows room events the types leave out",
        FeedFilter(wallet=ALICE, types=frozenset({"session.started"})),
        set(),
        stored_event("room.created", "n", ALICE),
        False,
        {"n"},
    ),
    (
        "rooms narrow a service's feed",
        FeedFilter(rooms=frozenset({"a"})),
        set(),
        stored_event("session.started", "b"),
        False,
        set(),
    ),
    (
        "types narrow a service's feed",
        FeedFilter(types=frozenset({"session.ended"})),
        set(),
        stored_event("session.started", "a"),
        False,
        set(),
    ),
    (
        "rooms narrow a wallet's feed too",
        FeedFilter(wallet=ALICE, rooms=frozenset({"a"})),
        {"a", "b"},
        stored_event("session.started", "b"),
        False,
        {"a", "b"},
    ),
]


@pytest.mark.parametrize(
    ("rule", "wanted", "owned", "event", "admitted", "owned_after"),
    RULES,
    ids=[r[0] for r in RULES],
)
def test_which_events_a_feed_gets(
    rule: str,
    wanted: FeedFilter,
    owned: set[str],
    event: StoredEvent,
    admitted: bool,
    owned_after: set[str],
) -> None:
    wanted.owned = set(owned)
    assert wanted.admits(event) is admitted, rule
    assert wanted.owned == owned_after, rule
