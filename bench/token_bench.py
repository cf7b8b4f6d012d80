"""Join tokens: the real route against minting alone, in one server process.

The bench app (real app + bare routes) is served by a real Hypercorn process on
a SQLite file. A room with 10,000 seats is created through the API; then, from
64 concurrent connections and with the same bodies (identities from a pool of
5,000, so seats are reused):

- real: `POST /v1/rooms/bench-tokens/token` (API key, validation, the room's
  actor, seat bookkeeping, minting);
- baseline: `POST /bench/bare-token` (minting alone, the same room config).

Both are warmed up, then run alternately (bare, real, bare, real, ...); the
median of each is reported. Target: real throughput >= 0.70 of bare.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
from typing import Any

from bench.bench_app import BARE_ROOM
from bench.harness import JSON_AUTH, LoadResult, Request, Server, base_env, row, run_load

CONCURRENCY = 64
IDENTITIES = 5_000
TARGET_RATIO = 0.70
FACTORY = "bench.bench_app:create_bench_app"


def _bodies(count: int, offset: int) -> list[bytes]:
    return [
        json.dumps(
            {"identity": f"user-{(offset + i) % IDENTITIES:05d}", "name": "Bench User"}
        ).encode()
        for i in range(count)
    ]


def _requests(path: str, bodies: list[bytes]) -> list[Request]:
    return [Request("POST", path, body, JSON_AUTH) for body in bodies]


async def _create_room(server: Server) -> None:
    body = json.dumps(
        {
            "name": BARE_ROOM.name,
            "empty_timeout": BARE_ROOM.empty_timeout,
            "departure_timeout": BARE_ROOM.departure_timeout,
            "max_participants": BARE_ROOM.max_participants,
        }
    ).encode()
    result = await run_load(
        server.base_url, [Request("POST", "/v1/rooms", body, JSON_AUTH)], concurrency=1
    )
    if result.statuses() != {201: 1}:
        raise RuntimeError(f"room creation failed: {result.summary()}")


def _check(result: LoadResult, what: str) -> None:
    bad = {k: v for k, v in result.statuses().items() if k != 200}
    if bad:
        raise RuntimeError(f"{what}: non-200 answers {bad}; {result.summary()}")


async def run_async(quick: bool = False) -> list[dict[str, Any]]:
    per_run = 1_500 if quick else 4_000
    warmup = 500 if quick else 1_500
    rounds = 2 if quick else 3
    real_path = f"/v1/rooms/{BARE_ROOM.name}/token"
    with tempfile.TemporaryDirectory(prefix="qari-bench-tokens-") as folder:
        env = base_env(f"sqlite://{folder}/bench.sqlite3")
        async with Server(env, factory=FACTORY, name="tokens") as server:
            await _create_room(server)
            for path in ("/bench/bare-token", real_path):
                _check(
                    await run_load(
                        server.base_url,
                        _requests(path, _bodies(warmup, 0)),
                        concurrency=CONCURRENCY,
                    ),
                    f"warm-up {path}",
                )
            bare: list[LoadResult] = []
            real: list[LoadResult] = []
            for n in range(rounds):
                bodies = _bodies(per_run, offset=n * per_run)
                for path, results in (("/bench/bare-token", bare), (real_path, real)):
                    result = await run_load(
                        server.base_url,
                        _requests(path, bodies),
                        concurrency=CONCURRENCY,
                        cpu_probe=server.cpu_seconds,
                    )
                    _check(result, path)
                    results.append(result)
                    print(f"  tokens {'real' if results is real else 'bare'}: {result.summary()}")

    def median(results: list[LoadResult], figure: str) -> float:
        values = {
            "rps": [r.rps() for r in results],
            "p50": [r.p50_ms for r in results],
            "p99": [r.p99_ms for r in results],
        }[figure]
        return statistics.median(values)

    suffix = f"{CONCURRENCY} conns, median of {rounds}"
    return [
        row(
            f"token: real vs bare throughput ({suffix})",
            median(real, "rps"),
            "req/s",
            median(bare, "rps"),
            target=("ratio", ">=", TARGET_RATIO),
        ),
        row("token: real vs bare p50 latency", median(real, "p50"), "ms", median(bare, "p50")),
        row("token: real vs bare p99 latency", median(real, "p99"), "ms", median(bare, "p99")),
    ]


def run(quick: bool = False) -> list[dict[str, Any]]:
    return asyncio.run(run_async(quick))


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)
