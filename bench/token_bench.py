"""Join tokens: our route against a bare Quart app that only mints the same token.

Three real Hypercorn processes, started as production starts them:

- bare: `bench/bare_app.py`, one route that mints the token (no auth, no
  validation, no actor, no database), the baseline;
- real on SQLite and real on PostgreSQL: `python -m app`, each with a room
  created through the API whose configuration the bare app mints with.

Rows, every ratio against the bare app measured in the same run, the runs
interleaved (bare, real, bare, real, ...), medians of the rounds:

- one identity asking again and again (its seat is held: no write), SQLite:
  target >= 0.85;
- a new identity on every request (a durable seat each), PostgreSQL:
  target >= 0.5;
- 500 concurrent new identities for a room of 50, on each database: exactly
  50 x 200 and 450 x 409, and the time until the last answer (target < 1 s),
  beside the bare app's time for 500 at once (on a busy machine the 500 new
  connections alone can take longer than that).

The load comes from wrk when it is installed (`apt-get install wrk`: a C
client leaves the shared cores to the servers), else from the harness's
aiohttp generator. Each server's CPU per request is reported too.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bare_app import BARE_PATH, BARE_ROOM
from bench.harness import (
    API_KEY,
    JSON_AUTH,
    Request,
    Server,
    base_env,
    postgres_database,
    row,
    run_load,
)

CONNECTIONS = 64
BURST = 500
BURST_ROOM_SIZE = 50
# New identities take seats that must expire within the run (the room holds 10,000).
NEW_IDENTITY_HOLD_SECONDS = "5"
BARE_FACTORY = "bench.bare_app:create_bare_app"
REAL_PATH = f"/v1/rooms/{BARE_ROOM.name}/token"

_ONE_IDENTITY_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
wrk.body = '{{"identity": "user-00001", "name": "Bench User"}}'
"""
_NEW_IDENTITY_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
local prefix = "run"
local n = 0
init = function(args) prefix = args[1] end
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil,
    string.format('{{"identity": "%s-%d", "name": "Bench User"}}', prefix, n))
end
"""


@dataclass(frozen=True, slots=True)
class Run:
    rps: float
    cpu_ms_per_request: float
    bad: int  # answers other than 200, and transport errors


async def _wrk(server: Server, path: str, script: Path, seconds: float, prefix: str) -> Run:
    cpu_before = server.cpu_seconds()
    process = await asyncio.create_subprocess_exec(
        "wrk",
        "-t1",
        f"-c{CONNECTIONS}",
        f"-d{seconds:g}s",
        "-s",
        str(script),
        f"{server.base_url}{path}",
        "--",
        prefix,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await process.communicate())[0].decode()
    cpu = server.cpu_seconds() - cpu_before
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    failed = (int(bad.group(1)) if bad else 0) + (
        sum(int(g) for g in errors.groups()) if errors else 0
    )
    return Run(rps, cpu / max(total, 1) * 1000, failed)


async def _aiohttp(server: Server, path: str, bodies: list[bytes]) -> Run:
    result = await run_load(
        server.base_url,
        [Request("POST", path, body, JSON_AUTH) for body in bodies],
        concurrency=CONNECTIONS,
        cpu_probe=server.cpu_seconds,
    )
    bad = sum(n for status, n in result.statuses().items() if status != 200)
    cpu_ms = result.server_cpu * result.elapsed / max(result.count, 1) * 1000
    return Run(result.rps(), cpu_ms, bad)


class Load:
    """Drives one server path with wrk when installed, else with aiohttp."""

    def __init__(self, folder: Path, seconds: float, requests: int) -> None:
        self.use_wrk = shutil.which("wrk") is not None
        self._seconds = seconds
        self._requests = requests
        self._one = folder / "one.lua"
        self._new = folder / "new.lua"
        self._one.write_text(_ONE_IDENTITY_LUA.format(key=API_KEY))
        self._new.write_text(_NEW_IDENTITY_LUA.format(key=API_KEY))
        self._runs = 0

    async def run(self, server: Server, path: str, *, new_identities: bool) -> Run:
        self._runs += 1
        prefix = f"r{self._runs}"
        if self.use_wrk:
            script = self._new if new_identities else self._one
            return await _wrk(server, path, script, self._seconds, prefix)
        bodies = [
            json.dumps(
                {"identity": f"{prefix}-{i}" if new_identities else "user-00001", "name": "B"}
            ).encode()
            for i in range(self._requests)
        ]
        return await _aiohttp(server, path, bodies)


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
    baseline = await run_load(bare.base_url, _burst_requests(BARE_PATH, name), concurrency=BURST)
    return result.elapsed, dict(result.statuses()), baseline.elapsed


def _check(run: Run, what: str) -> None:
    if run.bad:
        raise RuntimeError(f"{what}: {run.bad} answers other than 200")


async def run_async(quick: bool = False) -> list[dict[str, Any]]:
    rounds = 3 if quick else 5
    seconds = 3.0 if quick else 5.0
    requests = 1_500 if quick else 4_000
    with tempfile.TemporaryDirectory(prefix="qari-bench-tokens-") as tmp:
        folder = Path(tmp)
        load = Load(folder, seconds, requests)
        sqlite_env = base_env(f"sqlite://{folder}/bench.sqlite3")
        async with postgres_database() as postgres_url:
            pg_env = base_env(postgres_url, SEAT_HOLD_SECONDS=NEW_IDENTITY_HOLD_SECONDS)
            async with (
                Server(base_env("sqlite://unused"), factory=BARE_FACTORY, name="bare") as bare,
                Server(sqlite_env, name="tokens-sqlite") as sqlite_server,
                Server(pg_env, name="tokens-postgres") as pg_server,
            ):
                for server in (sqlite_server, pg_server):
                    await _create_room(server, BARE_ROOM.name, BARE_ROOM.max_participants)
                # Warm-up of every path.
                await load.run(bare, BARE_PATH, new_identities=False)
                await load.run(sqlite_server, REAL_PATH, new_identities=False)
                await load.run(pg_server, REAL_PATH, new_identities=True)
                bare_runs: list[Run] = []
                one_runs: list[Run] = []
                new_runs: list[Run] = []
                for _ in range(rounds):
                    for server, path, new, runs, label in (
                        (bare, BARE_PATH, False, bare_runs, "bare"),
                        (sqlite_server, REAL_PATH, False, one_runs, "one identity, SQLite"),
                        (bare, BARE_PATH, False, bare_runs, "bare"),
                        (pg_server, REAL_PATH, True, new_runs, "new identities, PostgreSQL"),
                    ):
                        result = await load.run(server, path, new_identities=new)
                        _check(result, label)
                        runs.append(result)
                        print(
                            f"  tokens {label}: {result.rps:,.0f}/s, "
                            f"{result.cpu_ms_per_request:.3f} ms CPU per request"
                        )
                bursts = {
                    "SQLite": await _burst(sqlite_server, "bench-burst", bare),
                    "PostgreSQL": await _burst(pg_server, "bench-burst", bare),
                }

    def median(runs: list[Run], figure: str) -> float:
        return statistics.median(getattr(r, figure) for r in runs)

    tool = "wrk" if load.use_wrk else "aiohttp"
    suffix = f"{CONNECTIONS} conns, {tool}, median of {rounds}"
    rows = [
        row(
            f"token: one identity, SQLite, vs bare app ({suffix})",
            median(one_runs, "rps"),
            "req/s",
            median(bare_runs, "rps"),
            target=("ratio", ">=", 0.85),
        ),
        row(
            f"token: new identity each, PostgreSQL, vs bare app ({suffix})",
            median(new_runs, "rps"),
            "req/s",
            median(bare_runs, "rps"),
            target=("ratio", ">=", 0.5),
        ),
        row(
            "token: CPU per request, one identity, SQLite, vs bare",
            median(one_runs, "cpu_ms_per_request"),
            "ms",
            median(bare_runs, "cpu_ms_per_request"),
        ),
        row(
            "token: CPU per request, new identities, PostgreSQL, vs bare",
            median(new_runs, "cpu_ms_per_request"),
            "ms",
            median(bare_runs, "cpu_ms_per_request"),
        ),
    ]
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
