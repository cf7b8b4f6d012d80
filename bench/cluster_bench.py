"""Two nodes against one (DESIGN.md section 11): tokens for 100 rooms.

One node serves 100 rooms on its own database; two nodes share another
database, each owning the 50 rooms it created. wrk asks for a held seat's token
in every room in turn, with 64 connections in all: to the one node; to each
room's owner (what HAProxy's hashing does), half the connections each; and to
each room's non-owner (the worst case: every request forwarded). Rounds are
interleaved, medians compared, all in this one run.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from bench.harness import API_KEY, Server, base_env, postgres_database, row

ROOMS = 100
CONNECTIONS = 64
OWNER_HEADER = "Qari-Room-Owner"

_ROOMS_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
wrk.body = '{{"identity": "user-00001", "name": "Bench User"}}'
local rooms = {{}}
local n = 0
init = function(args)
  for _, room in ipairs(args) do table.insert(rooms, room) end
end
request = function()
  n = n + 1
  return wrk.format(nil, "/v1/rooms/" .. rooms[(n % #rooms) + 1] .. "/token")
end
"""


def _env(database_url: str, node: str) -> dict[str, str]:
    # Actors (and their leases) stay for the whole bench; generous rate limits.
    return base_env(database_url, NODE_ID=node, ACTOR_IDLE_SECONDS="3600")


async def _create(server: Server, names: list[str]) -> list[str]:
    """Create rooms through `server`; the owners its answers name."""
    owners = []
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for name in names:
            async with session.post(
                f"{server.base_url}/v1/rooms", json={"name": name, "max_participants": 100}
            ) as answer:
                if answer.status != 201:
                    raise RuntimeError(f"creating {name}: {answer.status} {await answer.text()}")
                owners.append(answer.headers[OWNER_HEADER])
            async with session.post(
                f"{server.base_url}/v1/rooms/{name}/token", json={"identity": "user-00001"}
            ) as answer:
                if answer.status != 200:
                    raise RuntimeError(f"token in {name}: {answer.status}")
    return owners


async def _wrk(url: str, rooms: list[str], script: Path, seconds: float, conns: int) -> float:
    process = await asyncio.create_subprocess_exec(
        "wrk",
        "-t1",
        f"-c{conns}",
        f"-d{seconds:g}s",
        "-s",
        str(script),
        url,
        "--",
        *rooms,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await process.communicate())[0].decode()
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if found is None or bad is not None:
        raise RuntimeError(f"wrk against {url}: {output[-500:]}")
    return float(found.group(1))


async def _together(runs: list[tuple[str, list[str]]], script: Path, seconds: float) -> float:
    conns = CONNECTIONS // len(runs)
    rates = await asyncio.gather(*(_wrk(u, r, script, seconds, conns) for u, r in runs))
    return sum(rates)


async def run_async(quick: bool = False) -> list[dict[str, Any]]:
    seconds = 3.0 if quick else 10.0
    rounds = 3
    with tempfile.TemporaryDirectory(prefix="qari-bench-cluster-") as tmp:
        script = Path(tmp) / "rooms.lua"
        script.write_text(_ROOMS_LUA.format(key=API_KEY))
        async with (
            postgres_database() as solo_url,
            postgres_database() as pair_url,
            Server(_env(solo_url, "solo"), name="solo") as solo,
            Server(_env(pair_url, "node-1"), name="node-1") as one,
            Server(_env(pair_url, "node-2"), name="node-2") as two,
        ):
            names = [f"bench-room-{i:03d}" for i in range(ROOMS)]
            await _create(solo, names)
            nodes = {"node-1": one, "node-2": two}
            # Each node creates (and so owns) half of the rooms.
            owners = await _create(one, names[::2]) + await _create(two, names[1::2])
            mine: dict[str, list[str]] = {"node-1": [], "node-2": []}
            for name, owner in zip(names[::2] + names[1::2], owners, strict=True):
                mine[owner].append(name)
            other = {"node-1": "node-2", "node-2": "node-1"}
            plans = {
                "one node": [(f"{solo.base_url}/", names)],
                "two nodes, to the owner": [
                    (f"{nodes[n].base_url}/", mine[n]) for n in nodes if mine[n]
                ],
                "two nodes, all forwarded": [
                    (f"{nodes[other[n]].base_url}/", mine[n]) for n in nodes if mine[n]
                ],
            }
            for runs in plans.values():  # warm-up of every path
                await _together(runs, script, 1.0)
            rates: dict[str, list[float]] = {label: [] for label in plans}
            for _ in range(rounds):
                for label, runs in plans.items():
                    rate = await _together(runs, script, seconds)
                    rates[label].append(rate)
                    print(f"  cluster {label}: {rate:,.0f} tokens/s")
    solo_rate = statistics.median(rates["one node"])
    spread = f"{len(mine['node-1'])}/{len(mine['node-2'])} rooms"
    return [
        row(
            f"cluster: two nodes ({spread}), each request to its owner, vs one node",
            statistics.median(rates["two nodes, to the owner"]),
            "req/s",
            solo_rate,
            ("ratio", ">=", 1.6),
        ),
        row(
            "cluster: two nodes, every request forwarded, vs one node",
            statistics.median(rates["two nodes, all forwarded"]),
            "req/s",
            solo_rate,
            ("ratio", ">=", 0.5),
        ),
    ]


def run(quick: bool = False) -> list[dict[str, Any]]:
    return asyncio.run(run_async(quick))
