"""Join tokens: our route against the shared bare app that only mints with livekit-api.

Real Hypercorn processes, each started as it is meant to be served:

- the headline baseline: `../shared/bench/bare_token_app.py` (bench/baselines.py),
  Quart parsing the body and minting with livekit-api's AccessToken, nothing else,
  on the same route (`POST /v1/rooms/<name>/token`);
- our own bare app, `bench/bare_app.py`: the same minting as our route (the
  gateway's), no route around it; a second row, the cost of the route alone;
- real on SQLite and real on PostgreSQL: `python -m app`, each with a room
  created through the API whose configuration the bare apps mint with.

Every real run is preceded by a run of the shared bare app with the same body
and Authorization header (rounds interleaved; medians of the rounds), and each
ratio is against the bare app measured in the same run. Targets (DESIGN.md
section 11):

- one identity asking again and again (its seat is held: no write), SQLite and
  PostgreSQL: >= 0.95 of the bare app;
- a new identity on every request (a durable seat each), PostgreSQL: >= 0.8;
- 500 concurrent new identities for a room of 50, on each database: exactly
  50 x 200 and 450 x 409, and the time until the last answer (target < 1 s),
  beside the bare app's time for 500 at once (on a busy machine the 500 new
  connections alone can take longer than that).

The load comes from wrk when it is installed (`apt-get install wrk`: a C
client leaves the shared cores to the servers; -t2 -c64, 10 s a run), else
from the harness's aiohttp generator. Each server's CPU per request is
reported too (the bare apps' worker process included).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench.bare_app import BARE_PATH, BARE_ROOM
from bench.baselines import bare_token_server
from bench.harness import JSON_AUTH, Request, Server, base_env, postgres_database, row, run_load
from bench.token_load import CONNECTIONS, Load, Run

BURST = 500
BURST_ROOM_SIZE = 50
# New identities take seats that must expire within the run: the room holds 10,000
# (the API's most), and at ~2,000 requests/s a 5 s hold filled it (409 room_full
# mid-run); 3 s keeps the seats held under two thirds of it.
NEW_IDENTITY_HOLD_SECONDS = "3"
BARE_FACTORY = "bench.bare_app:create_bare_app"
REAL_PATH = f"/v1/rooms/{BARE_ROOM.name}/token"


async def _create_room(server: Server, name: str, max_participants: int) -> None:
    body = json.dumps(
        {
            "name": name,
            "empty_timeout": BARE_ROOM.empty_timeout,
            "departure_timeout": BARE_ROOM.departure_timeout,
            "max_participants": max_participants,
        }
    ).encode()
    result = await run_load(
        server.base_url, [Request("POST", "/v1/rooms", body, JSON_AUTH)], concurrency=1
    )
    if result.statuses() != {201: 1}:
        raise RuntimeError(f"room creation failed: {result.summary()}")


def _burst_requests(path: str, prefix: str) -> list[Request]:
    return [
        Request("POST", path, json.dumps({"identity": f"{prefix}-{i}"}).encode(), JSON_AUTH)
        for i in range(BURST)
    ]


async def _burst(server: Server, name: str, bare: Server) -> tuple[float, dict[int, int], float]:
    """500 new identities at once for a room of 50: seconds to the last answer and the
    statuses; then the bare app's seconds for 500 at once (500 new connections each)."""
    await _create_room(server, name, BURST_ROOM_SIZE)
    path = f"/v1/rooms/{name}/token"
    result = await run_load(server.base_url, _burst_requests(path, name), concurrency=BURST)
    baseline = await run_load(bare.base_url, _burst_requests(path, name), concurrency=BURST)
    return result.elapsed, dict(result.statuses()), baseline.elapsed


def _check(run: Run, what: str) -> None:
    if run.bad:
        raise RuntimeError(f"{what}: {run.bad} answers other than 200")


def _median(runs: list[Run], figure: str) -> float:
    return float(statistics.median(getattr(r, figure) for r in runs))


async def run_async(quick: bool = False) -> list[dict[str, Any]]:
    rounds = 3
    seconds = 3.0 if quick else 10.0
    requests = 1_500 if quick else 4_000
    with tempfile.TemporaryDirectory(prefix="qari-bench-tokens-") as tmp:
        folder = Path(tmp)
        load = Load(folder, seconds, requests)
        sqlite_env = base_env(f"sqlite://{folder}/bench.sqlite3")
        async with postgres_database() as postgres_url:
            pg_env = base_env(postgres_url, SEAT_HOLD_SECONDS=NEW_IDENTITY_HOLD_SECONDS)
            async with (
                bare_token_server() as bare,
                Server(base_env("sqlite://unused"), factory=BARE_FACTORY, name="own-bare") as own,
                Server(sqlite_env, name="tokens-sqlite") as sqlite_server,
                Server(pg_env, name="tokens-postgres") as pg_server,
            ):
                for server in (sqlite_server, pg_server):
                    await _create_room(server, BARE_ROOM.name, BARE_ROOM.max_participants)
                # Warm-up of every path.
                await load.run(bare, REAL_PATH, new_identities=False)
                await load.run(own, BARE_PATH, new_identities=False)
                await load.run(sqlite_server, REAL_PATH, new_identities=False)
                await load.run(pg_server, REAL_PATH, new_identities=True)
                runs: dict[str, list[Run]] = {}
                # (label, server, path, new identities): each real run right after a
                # bare run with the same bodies, so both see the machine as it is then.
                plan = (
                    ("bare, one identity", bare, REAL_PATH, False),
                    ("one identity, SQLite", sqlite_server, REAL_PATH, False),
                    ("own bare app, one identity", own, BARE_PATH, False),
                    ("bare, one identity", bare, REAL_PATH, False),
                    ("one identity, PostgreSQL", pg_server, REAL_PATH, False),
                    ("bare, new identities", bare, REAL_PATH, True),
                    ("new identities, PostgreSQL", pg_server, REAL_PATH, True),
                )
                for _ in range(rounds):
                    for label, server, path, new in plan:
                        result = await load.run(server, path, new_identities=new)
                        _check(result, label)
                        runs.setdefault(label, []).append(result)
                        print(
                            f"  tokens {label}: {result.rps:,.0f}/s, "
                            f"{result.cpu_ms_per_request:.3f} ms CPU per request"
                        )
                bursts = {
                    "SQLite": await _burst(sqlite_server, "bench-burst", bare),
                    "PostgreSQL": await _burst(pg_server, "bench-burst", bare),
                }

    tool = "wrk -t2" if load.use_wrk else "aiohttp"
    suffix = f"{CONNECTIONS} conns, {tool}, {seconds:g} s, median of {rounds}"
    bare_one, bare_new = runs["bare, one identity"], runs["bare, new identities"]
    rows = []
    for label, baseline, target in (
        ("one identity, SQLite", bare_one, 0.95),
        ("one identity, PostgreSQL", bare_one, 0.95),
        ("new identities, PostgreSQL", bare_new, 0.8),
    ):
        rows.append(
            row(
                f"token: {label}, vs bare token app ({suffix})",
                _median(runs[label], "rps"),
                "req/s",
                _median(baseline, "rps"),
                target=("ratio", ">=", target),
            )
        )
    rows.append(
        row(
            "token: one identity, SQLite, vs own bare app (our minting, no route)",
            _median(runs["one identity, SQLite"], "rps"),
            "req/s",
            _median(runs["own bare app, one identity"], "rps"),
        )
    )
    for label, baseline in (
        ("one identity, SQLite", bare_one),
        ("one identity, PostgreSQL", bare_one),
        ("new identities, PostgreSQL", bare_new),
    ):
        rows.append(
            row(
                f"token: CPU per request, {label}, vs bare token app",
                _median(runs[label], "cpu_ms_per_request"),
                "ms",
                _median(baseline, "cpu_ms_per_request"),
            )
        )
    for database, (elapsed, statuses, bare_elapsed) in bursts.items():
        exact = statuses == {200: BURST_ROOM_SIZE, 409: BURST - BURST_ROOM_SIZE}
        print(f"  burst on {database}: {elapsed:.3f} s (bare {bare_elapsed:.3f} s), {statuses}")
        rows.append(
            row(
                f"token: {BURST} at once, room of {BURST_ROOM_SIZE}, {database}, vs bare's 500"
                + ("" if exact else f" (NOT EXACT: {statuses})"),
                elapsed if exact else float("nan"),
                "s",
                bare_elapsed,
                target=("value", "<", 1.0),
            )
        )
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    return asyncio.run(run_async(quick))


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)
