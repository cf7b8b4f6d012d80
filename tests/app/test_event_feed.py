"""GET /v1/events over HTTP (DESIGN.md section 7): the SSE framing, where a feed
starts and resumes, its filters, who sees which rooms, its heartbeat, and how it
ends; on SQLite and PostgreSQL.

Events are written as their changes write them (`models.outbox.append` in a
transaction, then the sequencer's nudge); the rooms a wallet owns are made
through the real route.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from quart.testing import connections

from app.settings import Settings
from models.outbox import Event, append
from tests.conftest import Client, Running
from tests.support.clock import FakeClock
from tests.support.settings import AUTH, make_settings
from tests.support.wallets import SIWE_DOMAIN, sign_in

WITHIN = 5.0  # every wait's bound: a failure shows as a timeout, never a hang


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The app of these tests: wallets sign in for its domain."""
    return make_settings(database_url, siwe_domain=SIWE_DOMAIN)


# -- writing events ----------------------------------------------------------------------


def event(room: str, type_: str = "participant.joined", n: int = 0, **data: Any) -> Event:
    return Event(
        type_, room, {"room": room, "n": n, **data}, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )


def room_event(type_: str, name: str, owner: str | None) -> Event:
    """A room.* event as the room's writes make it: the Room object, its owner in it."""
    return Event(type_, name, {"room": {"name": name, "owner": owner}}, dt.datetime.now(dt.UTC))


async def write(running: Running, events: Sequence[Event]) -> int:
    """Commit `events` as a change does, and wait until they are numbered; the last seq."""
    services = running.services
    async with services.database.transaction() as conn:
        await append(conn, events)
    services.events.committed()
    return await numbered(running)


async def numbered(running: Running) -> int:
    """Until no event waits for its number; the last seq given."""
    services = running.services

    async def settled() -> int:
        while True:
            async with services.database.transaction() as conn:
                rows = await conn.execute_query_dict(
                    "SELECT (SELECT COUNT(*) FROM outbox_events WHERE seq IS NULL) AS waiting, "
                    "(SELECT last_seq FROM outbox_sequence) AS last"
                )
            if rows[0]["waiting"] == 0:
                return int(rows[0]["last"] or 0)
            services.events.committed()
            await asyncio.sleep(0.01)

    return await asyncio.wait_for(settled(), WITHIN)


# -- reading a feed ----------------------------------------------------------------------


@dataclass
class Frame:
    """One block of the stream: an event's fields, or comment lines."""

    id: str | None = None
    event: str | None = None
    data: Any = None
    comments: list[str] = field(default_factory=list)


@dataclass
class Feed:
    """An open feed through the test client, read frame by frame."""

    connection: connections.TestHTTPConnection
    buffer: str = ""
    ended: bool = False
    raw: list[str] = field(default_factory=list)

    @property
    def status(self) -> int | None:
        return self.connection.status_code

    async def frame(self, timeout: float = WITHIN) -> Frame:
        """The next block; TimeoutError if none comes, EOFError once the stream ended."""
        while "\n\n" not in self.buffer:
            if self.ended:
                raise EOFError(self.buffer)
            chunk = await asyncio.wait_for(self.connection.receive(), timeout)
            if chunk == b"":
                self.ended = True
                continue
            text = chunk.decode()
            self.raw.append(text)
            self.buffer += text
        block, self.buffer = self.buffer.split("\n\n", 1)
        frame = Frame()
        for line in block.split("\n"):
            if line.startswith(":"):
                frame.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(": ")
            if name == "id":
                frame.id = value
            elif name == "event":
                frame.event = value
            elif name == "data":
                frame.data = json.loads(value)
            else:
                raise AssertionError(f"unexpected line {line!r}")
        return frame

    async def events(self, count: int, timeout: float = WITHIN) -> list[Frame]:
        """The next `count` events (comments in between are skipped)."""
        found: list[Frame] = []
        while len(found) < count:
            frame = await self.frame(timeout)
            if frame.id is not None:
                found.append(frame)
        return found

    async def quiet(self, seconds: float = 0.3) -> list[Frame]:
        """Events that come within `seconds` (to show that none do)."""
        found: list[Frame] = []
        with contextlib.suppress(TimeoutError):
            while True:
                frame = await self.frame(seconds)
                if frame.id is not None:
                    found.append(frame)
        return found

    async def comment(self, text: str, timeout: float = WITHIN) -> Frame:
        while True:
            frame = await self.frame(timeout)
            if any(c.startswith(text) for c in frame.comments):
                return frame


@contextlib.asynccontextmanager
async def open_feed(
    client: Client, query: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> AsyncIterator[Feed]:
    """GET /v1/events, open once its first comment came; the client goes away on exit."""
    async with client.request(
        "/v1/events", query_string=query or {}, headers=headers or AUTH
    ) as connection:
        await connection.send_complete()
        feed = Feed(connection)
        try:
            first = await feed.frame()
            assert feed.status == 200, feed.raw
            assert first.comments == ["open"], first
            yield feed
        finally:
            await connection.disconnect()


async def refused(
    client: Client, query: dict[str, str], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    response = await client.get("/v1/events", query_string=query, headers=headers or AUTH)
    return response.status_code, await response.get_json()


async def until(condition: Any, timeout: float = WITHIN) -> None:
    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), timeout)


def seqs(frames: Sequence[Frame]) -> list[int]:
    return [int(f.id or 0) for f in frames]


# -- the tests ---------------------------------------------------------------------------


async def test_each_event_is_an_sse_block_with_its_seq_type_and_body(running: Running) -> None:
    client = running.client()
    async with open_feed(client) as feed:
        headers = feed.connection.headers
        assert headers is not None
        assert headers["Content-Type"].startswith("text/event-stream")
        assert headers["Cache-Control"] == "no-cache"
        at = dt.datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=dt.UTC)
        last = await write(running, [Event("session.started", "framed", {"room": "framed"}, at)])
        (frame,) = await feed.events(1)
    assert frame.id == str(last)
    assert frame.event == "session.started"
    assert frame.data == {
        "id": f"evt_{last}",
        "type": "session.started",
        "timestamp": "2026-03-04T05:06:07.890000Z",
        "data": {"room": "framed"},
    }
    # Exactly the three fields, each on its line, then a blank line.
    data = json.dumps(frame.data, separators=(",", ":"))
    block = f"id: {last}\nevent: session.started\ndata: {data}\n\n"
    assert block in "".join(feed.raw)


async def test_without_last_event_id_a_feed_starts_from_now(running: Running) -> None:
    before = await write(running, [event("early", n=i) for i in range(3)])
    client = running.client()
    async with open_feed(client) as feed:
        later = await write(running, [event("late", n=i) for i in range(2)])
        frames = await feed.events(2)
        assert seqs(frames) == [later - 1, later]
        assert [f.data["data"]["room"] for f in frames] == ["late", "late"]
        assert await feed.quiet() == []
    assert later == before + 2


async def test_a_dropped_feed_resumes_after_last_event_id_missing_nothing_and_repeating_nothing(
    running: Running,
) -> None:
    client = running.client()
    async with open_feed(client) as feed:
        first = await write(running, [event("resumed", n=i) for i in range(5)])
        seen = await feed.events(3)
    # Gone after three of five; more happen while it is away.
    last_seen = seen[-1].id
    assert last_seen is not None
    await until(lambda: running.services.events.feed.subscribers == 0)
    last = await write(running, [event("resumed", n=i) for i in range(5, 10)])
    async with open_feed(client, headers={**AUTH, "Last-Event-ID": last_seen}) as feed:
        rest = await feed.events(7)
        assert await feed.quiet() == []
    assert seqs(seen + rest) == list(range(first - 4, last + 1))
    assert [f.data["data"]["n"] for f in seen + rest] == list(range(10))
    # `?after=` resumes the same way (an EventSource's first connection).
    async with open_feed(client, {"after": str(last - 2)}) as feed:
        assert seqs(await feed.events(2)) == [last - 1, last]


async def test_last_event_id_wins_over_after(running: Running) -> None:
    last = await write(running, [event("both", n=i) for i in range(4)])
    client = running.client()
    headers = {**AUTH, "Last-Event-ID": str(last - 1)}
    async with open_feed(client, {"after": str(last - 3)}, headers) as feed:
        assert seqs(await feed.events(1)) == [last]
        assert await feed.quiet() == []


async def test_rooms_and_types_narrow_the_feed(running: Running) -> None:
    client = running.client()
    query = {"rooms": "kitchen, hall", "types": "participant.joined,session.ended"}
    async with open_feed(client, query) as feed:
        await write(
            running,
            [
                event("kitchen", "participant.joined", 1),
                event("kitchen", "participant.left", 2),
                event("cellar", "participant.joined", 3),
                event("hall", "session.ended", 4),
                event("hall", "session.started", 5),
                event("kitchen", "participant.joined", 6),
            ],
        )
        frames = await feed.events(3)
        assert await feed.quiet() == []
    assert [(f.event, f.data["data"]["n"]) for f in frames] == [
        ("participant.joined", 1),
        ("session.ended", 4),
        ("participant.joined", 6),
    ]


async def test_a_wallet_sees_only_the_rooms_it_owns(running: Running, clock: FakeClock) -> None:
    client = running.client()
    alice, bob = await sign_in(client, clock.now()), await sign_in(client, clock.now())
    for name, wallet in (("alices", alice), ("bobs", bob)):
        response = await client.post("/v1/rooms", json={"name": name}, headers=wallet.auth)
        assert response.status_code == 201
    await numbered(running)
    only_joins = {"types": "participant.joined,room.created,room.deleted"}
    async with (
        open_feed(client, only_joins, alice.auth) as alices,
        open_feed(client, only_joins, AUTH) as services_feed,
    ):
        await write(
            running,
            [
                event("alices", n=1),
                event("bobs", n=2),
                # Rooms made after the feed opened: the event says whose they are.
                room_event("room.created", "alices-new", alice.address),
                room_event("room.created", "bobs-new", bob.address),
                event("alices-new", n=3),
                event("bobs-new", n=4),
                # Deleted, then taken by bob: no longer alice's.
                room_event("room.deleted", "alices-new", alice.address),
                room_event("room.created", "alices-new", bob.address),
                event("alices-new", n=5),
            ],
        )
        mine = await alices.events(4)
        assert await alices.quiet() == []
        everything = await services_feed.events(9)
    assert [(f.event, f.data["data"].get("n")) for f in mine] == [
        ("participant.joined", 1),
        ("room.created", None),
        ("participant.joined", 3),
        ("room.deleted", None),
    ]
    # A service's feed has every one of them.
    assert len(everything) == 9


async def test_a_wallet_resuming_from_before_a_room_was_its_own_sees_none_of_its_past(
    running: Running, clock: FakeClock
) -> None:
    client = running.client()
    alice, bob = await sign_in(client, clock.now()), await sign_in(client, clock.now())
    before = await write(running, [room_event("room.created", "reused", bob.address)])
    await write(running, [event("reused", n=1), room_event("room.deleted", "reused", bob.address)])
    # Now the name is alice's (the route writes its room.created).
    response = await client.post("/v1/rooms", json={"name": "reused"}, headers=alice.auth)
    assert response.status_code == 201
    await write(running, [event("reused", n=2)])
    headers = {**alice.auth, "Last-Event-ID": str(before)}
    async with open_feed(client, {"types": "participant.joined"}, headers) as feed:
        frames = await feed.events(1)
        assert await feed.quiet() == []
    assert [f.data["data"]["n"] for f in frames] == [2]


async def test_a_wallet_naming_a_room_not_its_own_or_missing_is_refused(
    running: Running, clock: FakeClock
) -> None:
    client = running.client()
    alice, bob = await sign_in(client, clock.now()), await sign_in(client, clock.now())
    for name, wallet in (("alice-1", alice), ("bob-1", bob)):
        response = await client.post("/v1/rooms", json={"name": name}, headers=wallet.auth)
        assert response.status_code == 201
    for rooms in ("bob-1", "alice-1,bob-1", "nowhere"):
        status, body = await refused(client, {"rooms": rooms}, alice.auth)
        assert (status, body["code"]) == (403, "forbidden"), rooms
        assert set(body) == {"detail", "code"}
    async with open_feed(client, {"rooms": "alice-1"}, alice.auth) as feed:
        await write(running, [event("alice-1", n=1), event("bob-1", n=2)])
        assert [f.data["data"]["n"] for f in await feed.events(1)] == [1]
    # A service may name any room, even one not made yet.
    async with open_feed(client, {"rooms": "nowhere"}):
        pass


async def test_a_wallets_feed_ends_with_its_session(running: Running, clock: FakeClock) -> None:
    running.services.events.feed.keepalive_seconds = 0.05
    client = running.client()
    alice = await sign_in(client, clock.now())
    # Opened with a fraction of a second of its session left.
    clock.advance(running.services.settings.wallet_session_seconds - 0.3)
    async with open_feed(client, headers=alice.auth) as feed:
        await feed.comment("expired")
        with contextlib.suppress(EOFError):
            await feed.frame()
        assert feed.ended
    await until(lambda: running.services.events.feed.subscribers == 0)


async def test_unknown_types_a_bad_last_event_id_and_unknown_parameters_are_422(
    running: Running,
) -> None:
    client = running.client()
    cases: list[tuple[dict[str, str], dict[str, str], list[str]]] = [
        ({"types": "room.created,room.exploded"}, AUTH, ["query", "types"]),
        ({"types": "ping"}, AUTH, ["query", "types"]),
        ({"types": " , "}, AUTH, ["query", "types"]),
        ({"rooms": ","}, AUTH, ["query", "rooms"]),
        ({"after": "-1"}, AUTH, ["query", "after"]),
        ({"after": "evt_3"}, AUTH, ["query", "after"]),
        ({}, {**AUTH, "Last-Event-ID": "abc"}, ["header", "Last-Event-ID"]),
        ({}, {**AUTH, "Last-Event-ID": "1" * 19}, ["header", "Last-Event-ID"]),
        ({"room": "misspelt"}, AUTH, ["query", "room"]),
    ]
    for query, headers, loc in cases:
        status, body = await refused(client, query, headers)
        assert (status, body["code"]) == (422, "validation_error"), (query, headers, body)
        assert [e["loc"] for e in body["errors"]] == [loc], body
    response = await client.get("/v1/events")
    assert response.status_code == 401


async def test_a_comment_keeps_an_idle_feed_open(running: Running) -> None:
    running.services.events.feed.keepalive_seconds = 0.05
    client = running.client()
    async with open_feed(client) as feed:
        for _ in range(3):
            assert (await feed.frame()).comments == ["keep-alive"]
        last = await write(running, [event("idle")])
        assert seqs(await feed.events(1)) == [last]


async def test_a_client_going_away_ends_its_feed(running: Running) -> None:
    hub = running.services.events.feed
    client = running.client()
    async with open_feed(client), open_feed(client), open_feed(client):
        assert hub.subscribers == 3
    await until(lambda: hub.subscribers == 0)


async def test_a_feed_that_falls_behind_is_ended_with_a_comment_and_resumes(
    running: Running,
) -> None:
    hub = running.services.events.feed
    client = running.client()
    async with open_feed(client) as feed:
        kept = await write(running, [event("burst", n=0)])
        assert seqs(await feed.events(1)) == [kept]
        # More than it may hold, in one read: it is let go rather than waited for.
        hub.queue_size = 3
        last = await write(running, [event("burst", n=i) for i in range(1, 11)])
        ending = await feed.comment("dropped")
        assert "Last-Event-ID" in ending.comments[0]
        with contextlib.suppress(EOFError):
            await feed.frame()
        assert feed.ended
    hub.queue_size = 2000
    async with open_feed(client, headers={**AUTH, "Last-Event-ID": str(kept)}) as feed:
        assert seqs(await feed.events(10)) == list(range(kept + 1, last + 1))


async def test_at_shutdown_every_feed_ends_and_no_new_one_opens(running: Running) -> None:
    hub = running.services.events.feed
    client = running.client()
    async with open_feed(client) as feed:
        hub.close()
        await feed.comment("closing")
    status, body = await refused(client, {})
    assert (status, body["code"]) == (503, "busy")
