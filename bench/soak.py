"""Soak: mixed load against a real `python -m app` Hypercorn process on PostgreSQL.

A throwaway PostgreSQL database (schema from the models, dropped at the end);
the server runs with ACTOR_IDLE_SECONDS=2 so idle rooms passivate, and
SEAT_HOLD_SECONDS=5 so a room that only got tokens is idle again soon (with
the default 120 s hold no such room could passivate within the soak). 200
rooms are created through the API; then 64 connections mix, for 8 s of
warm-up (past the seat hold plus the idle delay: the steady state, where rooms
passivate and reactivate) followed without a pause by N measured seconds:

- 2 creating new rooms (`POST /v1/rooms`);
- 22 asking tokens for random rooms of the 200 (`POST /v1/rooms/{name}/token`);
- 40 streaming signed webhooks, 5 rooms each, one room at a time, in cycles:
  room_started (a new sid), 4 participant_joined, 4 participant_left,
  room_finished. A stream ends at a cycle boundary, so no room is left live.

Reported, each against a same-run baseline: throughput and p99 latency of the
last 20 % against the first 20 % of the run; 5xx answers and transport errors
against all requests (target: none); the server's VmRSS at the end against the
start, after warm-up (target: growth < 10 %); the actors alive at the end.

"Actors alive" comes from `GET /v1/ops/actors` (`actors_alive`), read when
the load has stopped and the inbox is drained, and again after the seat hold
plus the idle delay, when every room without a seat or a participant should
have passivated. Against a server without that endpoint (404) the bench falls
back to a proxy: the rooms the API reports `live` (a lower bound, since a live
room never passivates).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import aiohttp
from livekit.protocol.models import DisconnectReason, ParticipantInfo, Room

from bench.harness import (
    AUTH,
    JSON_AUTH,
    LoadControl,
    LoadResult,
    Request,
    Server,
    base_env,
    percentile,
    postgres_database,
    row,
    run_load,
)
from bench.webhook_events import Inbox, delivery, make_event

ROOMS = 200
CREATORS = 2
TOKEN_WORKERS = 22
WEBHOOK_WORKERS = 40
CONCURRENCY = CREATORS + TOKEN_WORKERS + WEBHOOK_WORKERS
IDENTITIES_PER_ROOM = 40
JOINS_PER_CYCLE = 4
IDLE_SECONDS = 2.0
SEAT_HOLD_SECONDS = 5.0
RSS_TARGET_RATIO = 1.10
WINDOW = 0.2  # first and last fifth of the run


def room_name(n: int) -> str:
    return f"soak-room-{n:03d}"


class Mix:
    """The request streams of one soak; each connection gets one by its index."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.cycles = Counter[int]()  # per room: how many cycles so far (a new sid each)
        self.rooms_created = 0

    def __call__(self, worker: int, control: LoadControl) -> Iterator[Request]:
        if worker < CREATORS:
            return self._creator(worker, control)
        if worker < CREATORS + TOKEN_WORKERS:
            return self._tokens(worker, control)
        return self._webhooks(worker - CREATORS - TOKEN_WORKERS, control)

    def _creator(self, worker: int, control: LoadControl) -> Iterator[Request]:
        while not control.expired:
            self.rooms_created += 1
            name = f"soak-new-{self.run_id}-{worker}-{self.rooms_created}"
            body = json.dumps({"name": name, "max_participants": 100}).encode()
            yield Request("POST", "/v1/rooms", body, JSON_AUTH, "create")

    def _tokens(self, worker: int, control: LoadControl) -> Iterator[Request]:
        rng = random.Random(worker)
        while not control.expired:
            room = room_name(rng.randrange(ROOMS))
            identity = f"user-{rng.randrange(IDENTITIES_PER_ROOM)}"
            body = json.dumps({"identity": identity, "name": "Soak"}).encode()
            yield Request("POST", f"/v1/rooms/{room}/token", body, JSON_AUTH, "token")

    def _webhooks(self, worker: int, control: LoadControl) -> Iterator[Request]:
        mine = [n for n in range(ROOMS) if n % WEBHOOK_WORKERS == worker]
        while True:
            for n in mine:
                if control.expired:
                    return  # at a cycle boundary: this room is not left live
                yield from self._cycle(n)

    def _cycle(self, n: int) -> Iterator[Request]:
        cycle = self.cycles[n]
        self.cycles[n] += 1
        tag = f"{self.run_id}_{n}_{cycle}"
        room = Room(name=room_name(n), sid=f"RM_{tag}", creation_time=int(time.time()))
        yield delivery(make_event("room_started", room, f"EV_{tag}_s"), tag="webhook")
        people = [
            ParticipantInfo(
                identity=f"user-{j}",
                sid=f"PA_{tag}_{j}",
                name="Soak",
                joined_at=int(time.time()),
                state=ParticipantInfo.State.ACTIVE,
                disconnect_reason=DisconnectReason.CLIENT_INITIATED,
            )
            for j in range(JOINS_PER_CYCLE)
        ]
        for j, who in enumerate(people):
            event = make_event("participant_joined", room, f"EV_{tag}_j{j}", who)
            yield delivery(event, tag="webhook")
        for j, who in enumerate(people):
            event = make_event("participant_left", room, f"EV_{tag}_l{j}", who)
            yield delivery(event, tag="webhook")
        yield delivery(make_event("room_finished", room, f"EV_{tag}_f"), tag="webhook")


async def _create_rooms(server: Server) -> None:
    requests = [
        Request(
            "POST",
            "/v1/rooms",
            json.dumps({"name": room_name(n), "max_participants": 500}).encode(),
            JSON_AUTH,
        )
        for n in range(ROOMS)
    ]
    result = await run_load(server.base_url, requests, concurrency=16)
    if result.statuses() != {201: ROOMS}:
        raise RuntimeError(f"room creation failed: {result.summary()}")


async def _rooms_by_status(server: Server) -> Counter[str]:
    """Every room's status, through the paginated list API."""
    statuses: Counter[str] = Counter()
    cursor: str | None = None
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        for _ in range(10_000):  # bounded: 200 rooms a page
            query = f"?limit=200&cursor={cursor}" if cursor else "?limit=200"
            async with session.get(f"{server.base_url}/v1/rooms{query}", headers=AUTH) as r:
                if r.status != 200:
                    raise RuntimeError(f"GET /v1/rooms answered {r.status}")
                page = await r.json()
            statuses.update(room["status"] for room in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
    return statuses


async def _actors_alive(server: Server) -> tuple[int, int | None, str]:
    """(actors alive, activations so far, source): the ops report, else live rooms."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
        session.get(f"{server.base_url}/v1/ops/actors", headers=AUTH) as response,
    ):
        if response.status == 200:
            report = await response.json()
            return int(report["actors_alive"]), int(report["activations"]), "ops report"
        if response.status != 404:
            raise RuntimeError(f"GET /v1/ops/actors answered {response.status}")
    return (await _rooms_by_status(server))["live"], None, "proxy: live rooms"


async def _sample_rss(
    server: Server, warmup: float, start: list[int], into: list[int], stop: asyncio.Event
) -> None:
    """Wait out the warm-up, record VmRSS as the start, then sample it every second."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), warmup)
    start.append(server.rss_bytes())
    while not stop.is_set():
        into.append(server.rss_bytes())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


def _describe(result: LoadResult, lo: float, hi: float) -> list[str]:
    lines = []
    for tag in (None, "create", "token", "webhook"):
        chosen = result.window(lo, hi, tag)
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(result.statuses(chosen).items()))
        lines.append(
            f"    {tag or 'all':<8} {len(chosen):>7} req  {result.rps(chosen, hi - lo):>8,.0f}/s  "
            f"p50 {result.latency_ms(50, chosen):>7.1f} ms  "
            f"p99 {result.latency_ms(99, chosen):>7.1f} ms  statuses {{{statuses}}}"
        )
    if result.exceptions:
        lines.append(f"    transport errors (whole run): {dict(result.exceptions)}")
    return lines


async def run_async(quick: bool = False, seconds: float | None = None) -> list[dict[str, Any]]:
    duration = seconds if seconds is not None else (10.0 if quick else 60.0)
    # One continuous load: a warm-up past the seat hold plus the idle delay (rooms
    # have begun to passivate and reactivate: the steady state), then the measured
    # period. RSS "start" is read at that boundary, under load.
    warmup = SEAT_HOLD_SECONDS + IDLE_SECONDS + 1.0
    run_id = uuid.uuid4().hex[:6]
    mix = Mix(run_id)
    env = base_env(
        "",
        ACTOR_IDLE_SECONDS=str(IDLE_SECONDS),
        SEAT_HOLD_SECONDS=str(SEAT_HOLD_SECONDS),
    )
    async with postgres_database() as url:
        env["DATABASE_URL"] = url
        inbox = Inbox(url)
        async with Server(env, name="soak") as server:
            await inbox.open()
            try:
                await _create_rooms(server)
                rss_start: list[int] = []
                rss_samples: list[int] = []
                stop = asyncio.Event()
                sampler = asyncio.create_task(
                    _sample_rss(server, warmup, rss_start, rss_samples, stop)
                )
                try:
                    result = await run_load(
                        server.base_url,
                        mix,
                        concurrency=CONCURRENCY,
                        duration=warmup + duration,
                        cpu_probe=server.cpu_seconds,
                    )
                finally:
                    stop.set()
                    await sampler
                rss_end = server.rss_bytes()
                drain = await inbox.wait_applied()
                actors_end, _, source = await _actors_alive(server)
                live_at_end = (await _rooms_by_status(server))["live"]
                # Let every idle room without seats passivate, then look again.
                await asyncio.sleep(SEAT_HOLD_SECONDS + IDLE_SECONDS + IDLE_SECONDS / 4 + 1)
                actors_quiet, activations, _ = await _actors_alive(server)
                statuses = await _rooms_by_status(server)
                rss_quiet = server.rss_bytes()
                log = server.log_text()
            finally:
                await inbox.close()

    end = warmup + duration
    print(
        f"  soak: {warmup:.0f} s warm-up + {duration:.0f} s measured; whole run: {result.summary()}"
    )
    print(f"  measured {duration:.0f} s:")
    for line in _describe(result, warmup, end):
        print(line)
    warnings = sum(" WARNING " in line for line in log.splitlines())
    errors = sum(" ERROR " in line for line in log.splitlines())
    print(
        f"    inbox drained {drain:.2f} s after the load; RSS start {rss_start[0] / 2**20:.1f} "
        f"MiB, peak {max(rss_samples, default=rss_end) / 2**20:.1f} MiB, end "
        f"{rss_end / 2**20:.1f} MiB, after quiet period {rss_quiet / 2**20:.1f} MiB; rooms "
        f"live when the load stopped: {live_at_end}; actor activations: {activations}; "
        f"server log: {warnings} WARNING, {errors} ERROR lines"
    )

    # Windows of the measured period; the streams' last cycles after it are left out.
    span = WINDOW * duration
    windows = [
        result.window(warmup + i * span, warmup + (i + 1) * span) for i in range(round(1 / WINDOW))
    ]
    print(
        "    per window: "
        + ", ".join(
            f"{result.rps(w, span):,.0f}/s p99 {result.latency_ms(99, w):,.0f} ms" for w in windows
        )
    )
    first, last = windows[0], windows[-1]
    failures = sum(1 for s in result.samples if s[2] >= 500 or s[2] == 0)
    rooms_total = sum(statuses.values())
    return [
        row(
            f"soak: throughput, last vs first {WINDOW:.0%} of {duration:.0f} s",
            result.rps(last, span),
            "req/s",
            result.rps(first, span),
        ),
        row(
            "soak: p99 latency, last vs first window",
            percentile([s[1] for s in last], 99) * 1000,
            "ms",
            percentile([s[1] for s in first], 99) * 1000,
        ),
        row(
            "soak: 5xx + transport errors, of all requests",
            failures,
            "req",
            result.count,
            target=("value", "<=", 0),
        ),
        row(
            "soak: server RSS, end vs start (after warm-up)",
            rss_end / 2**20,
            "MiB",
            rss_start[0] / 2**20,
            target=("ratio", "<", RSS_TARGET_RATIO),
        ),
        row(
            f"soak: actors alive when the load stopped ({source}), of all rooms",
            actors_end,
            "actors",
            rooms_total,
        ),
        row(
            f"soak: actors alive after hold+idle delay ({source}), of all rooms",
            actors_quiet,
            "actors",
            rooms_total,
        ),
    ]


def run(quick: bool = False, seconds: float | None = None) -> list[dict[str, Any]]:
    return asyncio.run(run_async(quick, seconds))


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)
