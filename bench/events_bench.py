"""Events out under load: how soon a change reaches the live feed and a healthy endpoint.

One node on a throwaway PostgreSQL database, served by a real Hypercorn
process. This process runs a loopback receiver (a registered webhook endpoint
that answers 204 at once) and holds one live feed open (`GET /v1/events`).
Then 64 senders post signed `participant_joined` webhooks of identities that
got tokens beforehand, each join admitted, spread over 64 rooms: each join is
a `participant.joined` event, written by the committer's statement.

Each event's delay is counted from the moment its webhook was acknowledged
(the change commits after that, so the figure is an upper bound on
commit-to-arrival) to its arrival on the feed and at the endpoint. The
baseline is the same delay for single events sent one at a time to the idle
node. Target (DESIGN.md section 7 and issue 25): p99 < 1 s on both, loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
from livekit.protocol.models import ParticipantInfo

from bench.harness import (
    AUTH,
    JSON_AUTH,
    Request,
    Server,
    base_env,
    free_port,
    percentile,
    postgres_database,
    row,
    run_load,
)
from bench.webhook_bench import FACTORY, _create_rooms, _expect_ok, _tokens
from bench.webhook_events import ROOMS, Inbox, bench_room, delivery, joiner, make_event

CONCURRENCY = 64
TARGET_P99_MS = 1000.0
IDLE_EVENTS = 16
ARRIVAL_TIMEOUT = 60.0


class Arrivals:
    """When each participant sid's `participant.joined` arrived (perf_counter)."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.changed = asyncio.Event()

    def record(self, body: dict[str, Any]) -> None:
        if body.get("type") == "participant.joined":
            self.at.setdefault(body["data"]["sid"], time.perf_counter())
            self.changed.set()

    async def wait_for(self, sids: set[str], timeout: float = ARRIVAL_TIMEOUT) -> None:
        try:
            async with asyncio.timeout(timeout):
                while not sids <= self.at.keys():
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            missing = len(sids - self.at.keys())
            raise RuntimeError(
                f"{missing} of {len(sids)} events not in after {timeout} s"
            ) from None


@contextlib.asynccontextmanager
async def receiver(arrivals: Arrivals) -> AsyncIterator[str]:
    """A healthy endpoint: records and answers 204 at once."""

    async def hook(request: web.Request) -> web.Response:
        arrivals.record(json.loads(await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        await runner.cleanup()


async def read_feed(base_url: str, arrivals: Arrivals, opened: asyncio.Event) -> None:
    """The live feed, for as long as the bench runs."""
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with (
        aiohttp.ClientSession(base_url, timeout=timeout) as session,
        session.get("/v1/events?types=participant.joined", headers=AUTH) as response,
    ):
        if response.status != 200:
            raise RuntimeError(f"the feed answered {response.status}")
        opened.set()
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("data: "):
                arrivals.record(json.loads(line[len("data: ") :]))


def tagged_joins(prefix: str, count: int) -> list[Request]:
    """`count` joins (the identities of `_tokens(prefix, count)`), each tagged with its sid."""
    out = []
    for i in range(count):
        room, identity = joiner(prefix, i)
        sid = f"PA_{prefix}_{i}"
        who = ParticipantInfo(
            identity=identity,
            sid=sid,
            name="Bench",
            joined_at=int(time.time()),
            state=ParticipantInfo.State.ACTIVE,
        )
        out.append(delivery(make_event("participant_joined", room, f"{prefix}_{i}", who), tag=sid))
    return out


async def _register(server: Server, url: str) -> None:
    body = json.dumps({"url": url, "events": ["participant.joined"]}).encode()
    async with (
        aiohttp.ClientSession(server.base_url) as session,
        session.post("/v1/webhook-endpoints", data=body, headers=JSON_AUTH) as response,
    ):
        if response.status != 201:
            raise RuntimeError(f"endpoint registration answered {response.status}")


def _delays_ms(acked: dict[str, float], arrivals: Arrivals) -> list[float]:
    return [(arrivals.at[sid] - done) * 1000 for sid, done in acked.items()]


async def run_async(quick: bool = False) -> list[dict[str, Any]]:
    count = 2_000 if quick else 6_000
    run_id = uuid.uuid4().hex[:6]
    feed, endpoint = Arrivals(), Arrivals()
    async with postgres_database() as url:
        env = base_env(url, OUTBOUND_ALLOW_PRIVATE="true")
        inbox = Inbox(url)
        async with (
            receiver(endpoint) as hook_url,
            Server(env, factory=FACTORY, name="events") as server,
        ):
            await inbox.open()
            try:
                await _create_rooms(server)
                started = [
                    delivery(make_event("room_started", bench_room(n), f"EOs{run_id}_{n}"))
                    for n in range(ROOMS)
                ]
                _expect_ok(await run_load(server.base_url, started, concurrency=16), "started")
                await _register(server, hook_url)
                opened = asyncio.Event()
                reader = asyncio.create_task(read_feed(server.base_url, feed, opened))
                try:
                    await asyncio.wait_for(opened.wait(), 10)
                    # Idle: one event at a time.
                    idle_prefix = f"EOi{run_id}"
                    await _tokens(server, idle_prefix, IDLE_EVENTS)
                    idle_acked: dict[str, float] = {}
                    for request in tagged_joins(idle_prefix, IDLE_EVENTS):
                        result = await run_load(server.base_url, [request], concurrency=1)
                        _expect_ok(result, "idle event")
                        idle_acked[request.tag] = result.samples[0][0]
                        await feed.wait_for({request.tag})
                        await endpoint.wait_for({request.tag})
                    # Loaded: 64 senders.
                    prefix = f"EOl{run_id}"
                    await _tokens(server, prefix, count)
                    result = await run_load(
                        server.base_url, tagged_joins(prefix, count), concurrency=CONCURRENCY
                    )
                    _expect_ok(result, "loaded events")
                    acked = {sample[3]: sample[0] for sample in result.samples}
                    await feed.wait_for(set(acked))
                    await endpoint.wait_for(set(acked))
                    await inbox.wait_applied()
                finally:
                    reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                        await reader
            finally:
                await inbox.close()
    print(f"  events: {count} joins at {result.ok_rps:,.0f}/s; {result.summary()}")
    rows = []
    for where, arrivals in (("live feed", feed), ("webhook endpoint", endpoint)):
        loaded = _delays_ms(acked, arrivals)
        idle = _delays_ms(idle_acked, arrivals)
        rows.append(
            row(
                f"events: ack->{where} p99, {CONCURRENCY} webhook senders vs idle",
                percentile(loaded, 99),
                "ms",
                percentile(idle, 99),
                target=("value", "<", TARGET_P99_MS),
            )
        )
        rows.append(
            row(
                f"events: ack->{where} p50, {CONCURRENCY} webhook senders vs idle",
                percentile(loaded, 50),
                "ms",
                percentile(idle, 50),
            )
        )
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    return asyncio.run(run_async(quick))


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)
