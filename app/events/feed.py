"""The live feed's one reader per node: read numbered events once, fan them out.

Every open feed (GET /v1/events, app/blueprints/events.py) is a Subscription
of this node's FeedHub. The hub reads `outbox_events` in `seq` order, once
per wake (the sequencer's `on_numbered`, here or by another node's notice) or
per poll, whatever the number of feeds, and hands each event to every
subscription that wants it. A subscription has a bounded queue: one that
falls too far behind (a slow client) is dropped, never waited for, and its
client reconnects with Last-Event-ID.

Numbers are given in commit order, one run at a time, so the committed
events always form the prefix `seq <= last`: a reader at N never later finds
an event below N, and "the events after N" is a gapless range.

A feed that starts before the hub's position (a resume) subscribes first,
buffering what the hub fans out meanwhile, reads its backlog from the
database in pages up to the position the hub had when it subscribed, then
goes live by taking its buffer in one synchronous step: every event once,
in order, whichever of the two paths brought it.

Which rooms a wallet's feed sees is decided per event, in `seq` order (see
FeedFilter): the `room.*` events carry the Room object and so say who owns
the room; the other events belong to the rooms the wallet owned when the
feed opened, plus those a later `room.created`/`room.updated` gave it, less
those deleted. Two queries at connect (the second: a room whose current life
began after the feed's start point starts out not owned, so a resumed feed
never shows the events of its name's earlier life, another owner's), none per
event. The
rooms are read just after the feed subscribed: a room deleted in between
loses the few non-room events it had there (its `room.deleted` still shows).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncGenerator, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from models.db import Database, connection, is_postgres, placeholder
from models.outbox import StoredEvent, stored

log = logging.getLogger(__name__)

# These carry the Room object, owner included.
ROOM_TYPES = frozenset({"room.created", "room.updated", "room.deleted"})

# Events one read takes (a backlog, or a burst, goes in pages).
PAGE = 500
# Events a subscription may hold unsent; past this it is dropped. Above PAGE,
# so one page fanned out at once never drops a client that keeps up.
QUEUE_SIZE = 2000
KEEPALIVE_SECONDS = 15.0
POLL_SECONDS = 1.0


class FeedClosedError(Exception):
    """The node is shutting down: its feeds end, and no new one opens."""


@dataclass
class FeedFilter:
    """What one feed wants: rooms and types asked for, and, for a wallet, the rooms
    it owns, kept current by the events themselves (so applied in `seq` order,
    once per event)."""

    rooms: frozenset[str] | None = None
    types: frozenset[str] | None = None
    # None: a service, which sees every room.
    wallet: str | None = None
    owned: set[str] = field(default_factory=set)

    def admits(self, event: StoredEvent) -> bool:
        if self.wallet is not None and not self._owns(event):
            return False
        return (self.rooms is None or event.room in self.rooms) and (
            self.types is None or event.type in self.types
        )

    def _owns(self, event: StoredEvent) -> bool:
        if event.type not in ROOM_TYPES:
            return event.room in self.owned
        # The event says who owns the room: believe it, and remember it for the
        # room's other events. A deleted room's name may come back with anyone.
        mine = self.wallet is not None and _owner_of(event.data) == self.wallet.lower()
        if mine and event.type != "room.deleted":
            self.owned.add(event.room)
        else:
            self.owned.discard(event.room)
        return mine


def _owner_of(data: Any) -> str | None:
    room = data.get("room") if isinstance(data, dict) else None
    owner = room.get("owner") if isinstance(room, dict) else None
    # Addresses are stored checksummed; compared without case all the same.
    return owner.lower() if isinstance(owner, str) else None


class Subscription:
    """One open feed: what it wants, how far it has got, what waits to be sent.

    Until it goes live, the hub only buffers for it (`_raw`); its own task reads
    the backlog meanwhile. Live, the hub filters into `_ready` as it reads.
    """

    def __init__(self, hub: FeedHub, wanted: FeedFilter, after: int, upto: int) -> None:
        self._hub = hub
        self.wanted = wanted
        # Every seq up to here has been handled (sent, or not wanted).
        self.cursor = after
        # The hub's position when this subscribed: the backlog's end.
        self.upto = upto
        self._raw: list[StoredEvent] | None = []
        self._ready: deque[StoredEvent] = deque()
        self._signal = asyncio.Event()
        # Why it ended ("dropped", "closing", "error", "closed"), or None while it runs.
        self.ended: str | None = None

    @property
    def live(self) -> bool:
        return self._raw is None

    def offer(self, events: Iterable[StoredEvent]) -> None:
        """The hub's hand-over (and the buffer's, going live); never blocks."""
        if self.ended is not None:
            return
        if self._raw is not None:
            self._raw.extend(events)
            if len(self._raw) > self._hub.queue_size:
                self.end("dropped")
            return
        for event in events:
            if event.seq <= self.cursor:
                continue
            self.cursor = event.seq
            if self.wanted.admits(event):
                self._ready.append(event)
        if len(self._ready) > self._hub.queue_size:
            self.end("dropped")
        elif self._ready:
            self._signal.set()

    def end(self, reason: str) -> None:
        """Stop: what is queued is let go, and the feed says why in a last comment."""
        if self.ended is None:
            self.ended = reason
            self._raw = None
            self._ready.clear()
            self._hub.unsubscribe(self)
            self._signal.set()

    async def batches(self, keepalive_seconds: float) -> AsyncGenerator[list[StoredEvent], None]:
        """Backlog, then live events, in `seq` order, a batch at a time; an empty
        batch after `keepalive_seconds` without any. Ends when `ended` is set;
        database errors while catching up propagate (the feed then ends too)."""
        async with contextlib.aclosing(self._catch_up()) as pages:
            async for page in pages:
                if self.ended is not None:
                    return
                if page:
                    yield page
        if self.ended is not None:
            return
        self._go_live()
        while self.ended is None:
            if not self._ready:
                self._signal.clear()
                try:
                    # Not asyncio.wait_for: before 3.12 it can lose a cancellation.
                    async with asyncio.timeout(keepalive_seconds):
                        await self._signal.wait()
                except TimeoutError:
                    yield []
                    continue
            if self._ready:
                batch = list(self._ready)
                self._ready.clear()
                yield batch

    async def _catch_up(self) -> AsyncGenerator[list[StoredEvent], None]:
        database = self._hub.database
        if self.wanted.wallet is not None:
            self.wanted.owned = await _rooms_owned_at(database, self.wanted.wallet, self.cursor)
        cursor = self.cursor
        while cursor < self.upto and self.ended is None:
            events = await read_events(database, cursor, PAGE, upto=self.upto)
            if not events:
                break  # deleted by retention meanwhile: nothing more up to `upto`
            cursor = events[-1].seq
            # Admitted in order, before any live event: a wallet's rooms change with them.
            yield [event for event in events if self.wanted.admits(event)]
        self.cursor = max(self.cursor, cursor)

    def _go_live(self) -> None:
        # One synchronous step: no fan-out can come between taking the buffer and
        # filtering live, so nothing is missed or sent twice.
        raw, self._raw = self._raw or [], None
        self.offer(raw)
        self._signal.set()


class FeedHub:
    """Reads numbered events once per node and fans them out to open feeds."""

    def __init__(
        self,
        database: Database,
        poll_seconds: float = POLL_SECONDS,
        *,
        keepalive_seconds: float = KEEPALIVE_SECONDS,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.database = database
        # Public, so a test (or ops) can change them on a running hub.
        self.poll_seconds = poll_seconds
        self.keepalive_seconds = keepalive_seconds
        self.queue_size = queue_size
        self._woken = asyncio.Event()
        self._started = asyncio.Event()
        self._subscriptions: set[Subscription] = set()
        self._closed = False
        # The last seq read and fanned out (or, with nobody listening, known).
        self.position = 0
        # The highest seq known to be numbered (the wakes' hints).
        self.numbered = 0
        self.reads = 0  # reads of new events (ops, tests: one per wake, not per feed)
        self.dropped = 0  # subscriptions dropped for falling behind

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    @property
    def closed(self) -> bool:
        return self._closed

    def wake(self, seq: int | None = None) -> None:
        """Events up to `seq` are numbered: read them."""
        if seq is not None and seq > self.numbered:
            self.numbered = seq
        self._woken.set()

    async def wait_started(self, seconds: float) -> None:
        """Until the hub knows where "now" is; TimeoutError after `seconds`."""
        if not self._started.is_set():
            await asyncio.wait_for(self._started.wait(), seconds)

    def subscribe(self, wanted: FeedFilter, after: int | None = None) -> Subscription:
        """A feed from after `after` (None: from now, the last seq known numbered)."""
        if self._closed:
            raise FeedClosedError
        if not self._started.is_set():
            raise RuntimeError("subscribe after wait_started()")
        now = max(self.position, self.numbered)
        subscription = Subscription(self, wanted, now if after is None else after, self.position)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def close(self) -> None:
        """End every feed (each says so in its last comment) and open no more: at
        shutdown, so clients reconnect elsewhere at once with Last-Event-ID."""
        self._closed = True
        for subscription in list(self._subscriptions):
            subscription.end("closing")

    async def run_forever(self) -> None:
        try:
            await self._start()
            while True:
                hinted = False
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_seconds):
                        await self._woken.wait()
                    hinted = True
                self._woken.clear()
                # A wake for what was read already (this node's own run is heard
                # again by its notice): nothing to read. A poll reads anyway.
                if hinted and self.numbered <= self.position:
                    continue
                try:
                    while await self.read_once() >= PAGE:
                        pass
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    log.warning("reading events for the feed failed (%s)", type(error).__name__)
        finally:
            self.close()

    async def _start(self) -> None:
        while True:
            try:
                last = await last_numbered(self.database)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("the feed cannot read the last seq (%s)", type(error).__name__)
                await asyncio.sleep(self.poll_seconds)
                continue
            self.position = max(self.position, last)
            self._started.set()
            return

    async def read_once(self) -> int:
        """Read the events after the position and hand them out; how many."""
        if not self._subscriptions:
            # Nobody to read for: keep "now" current from the hints alone.
            self.position = max(self.position, self.numbered)
            return 0
        events = await read_events(self.database, self.position, PAGE)
        self.reads += 1
        if not events:
            return 0
        # Fan-out and position move together, with no await between: a feed
        # subscribing now sees either all of this page or none of it.
        self.position = events[-1].seq
        self.numbered = max(self.numbered, self.position)
        for subscription in list(self._subscriptions):
            subscription.offer(events)
            if subscription.ended == "dropped":
                self.dropped += 1
        return len(events)


# -- reads -------------------------------------------------------------------------------


async def read_events(
    database: Database, after: int, limit: int, *, upto: int | None = None
) -> list[StoredEvent]:
    """At most `limit` numbered events after `after` (and up to `upto`), by seq."""
    async with database.bounded():
        conn = connection()
        mark = placeholder(conn)
        values: list[object] = [after]
        bound = ""
        if upto is not None:
            values.append(upto)
            bound = f" AND seq <= {mark}2"
        values.append(limit)
        rows = await conn.execute_query_dict(
            "SELECT seq, room, type, data, occurred_at FROM outbox_events "  # noqa: S608
            f"WHERE seq > {mark}1{bound} ORDER BY seq LIMIT {mark}{len(values)}",
            values,
        )
    return [stored(row) for row in rows]


async def last_numbered(database: Database) -> int:
    """The last seq given (0 before any)."""
    async with database.bounded():
        rows = await connection().execute_query_dict(
            "SELECT last_seq FROM outbox_sequence ORDER BY id LIMIT 1"
        )
    return int(rows[0]["last_seq"]) if rows else 0


async def rooms_owned(database: Database, wallet: str, seconds: float | None = None) -> set[str]:
    """The names of the rooms `wallet` owns now."""
    async with database.bounded(seconds):
        conn = connection()
        rows = await conn.execute_query_dict(
            f"SELECT name FROM rooms WHERE owner = {placeholder(conn)}1",  # noqa: S608
            [wallet],
        )
    return {str(row["name"]) for row in rows}


async def _rooms_owned_at(database: Database, wallet: str, after: int) -> set[str]:
    """The rooms `wallet` owns now, as of just after `after`: less those whose
    current life began later (their `room.created` is after `after`, or not
    numbered yet), which that event adds in its place, so a feed resumed from
    before never shows it the events of the room's earlier life (another owner)."""
    owned = await rooms_owned(database, wallet)
    if not owned:
        return owned
    return owned - await _created_after(database, owned, after)


async def _created_after(database: Database, rooms: Collection[str], after: int) -> set[str]:
    async with database.bounded():
        conn = connection()
        if is_postgres(conn):
            rows = await conn.execute_query_dict(
                "SELECT DISTINCT room FROM outbox_events WHERE type = 'room.created' "
                "AND (seq IS NULL OR seq > $1) AND room = ANY($2::text[])",
                [after, list(rooms)],
            )
        else:
            marks = ", ".join("?" for _ in rooms)
            rows = await conn.execute_query_dict(
                "SELECT DISTINCT room FROM outbox_events WHERE type = 'room.created' "  # noqa: S608
                f"AND (seq IS NULL OR seq > ?) AND room IN ({marks})",
                [after, *rooms],
            )
    return {str(row["room"]) for row in rows}
