"""Join tokens of a gated room with a cached yes, against the same route on a public room.

One server process (`python -m app` on a SQLite file) reads a local anvil
(the suite's node and test ERC-20). Two rooms of 10,000 seats are created:
`bench-public` and `bench-gated`, whose `access` is an `any` of three leaves
on one chain (DESIGN.md section 10): an ERC-721 and an ERC-1155 token nobody
holds, then at least 1 base unit of the ERC-20. 500 addresses are minted a
balance, one transaction each. Every address asks once during the warm-up
(its three leaves read in one JSON-RPC batch), so its yes is cached
(GATING_CACHE_SECONDS is set past the run's length: what is measured is the
cached path, not the chain; the no's of the other two leaves have expired by
then, and one yes decides an `any` whatever else is unknown).
Then, from 64 connections and with the same bodies, the two routes run
alternately; the median of each is reported. Target: gated >= 0.90 of public.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from typing import Any

import httpx

from bench.harness import JSON_AUTH, LoadResult, Request, Server, base_env, row, run_load
from tests.support.chain import Chain, compile_contracts, running_anvil

CONCURRENCY = 64
HOLDERS = 500
TARGET_RATIO = 0.90  # DESIGN.md section 11
ROOMS = ("bench-public", "bench-gated")


def _holder(n: int) -> str:
    return f"0x{0xB0000 + n:040x}"


def _mint_all(chain: Chain, token: str) -> None:
    """Mint 1 base unit to every holder, one transaction after another (anvil mines
    each as it comes; a batch of them, answered together, lost some to nonce races)."""
    selector = "40c10f19"  # mint(address,uint256)
    with httpx.Client(timeout=30) as client:
        for n in range(HOLDERS):
            data = "0x" + selector + _holder(n)[2:].rjust(64, "0") + f"{1:064x}"
            call = {"from": chain.accounts[0], "to": token, "data": data}
            answer = client.post(
                chain.url,
                json={"jsonrpc": "2.0", "id": n, "method": "eth_sendTransaction", "params": [call]},
            ).json()
            if answer.get("error"):
                raise RuntimeError(f"minting failed: {answer['error']}")
    _wait_for_balances(chain, token)


def _wait_for_balances(chain: Chain, token: str, seconds: float = 60.0) -> None:
    """Until every holder's balance shows: anvil answers a batch of transactions
    before it has mined them all, and a warm-up asking earlier would cache a no."""
    deadline = time.monotonic() + seconds
    calls = [
        {
            "jsonrpc": "2.0",
            "id": n,
            "method": "eth_call",
            "params": [
                {"to": token, "data": "0x70a08231" + _holder(n)[2:].rjust(64, "0")},
                "latest",
            ],
        }
        for n in range(HOLDERS)
    ]
    while True:
        answers = httpx.post(chain.url, json=calls, timeout=30).json()
        if all(int(a.get("result") or "0x0", 16) >= 1 for a in answers):
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the holders' balances did not show in time")
        time.sleep(0.2)


def _bodies(count: int, offset: int) -> list[bytes]:
    return [
        json.dumps({"identity": _holder((offset + i) % HOLDERS), "name": "Bench"}).encode()
        for i in range(count)
    ]


def _requests(room: str, bodies: list[bytes]) -> list[Request]:
    return [Request("POST", f"/v1/rooms/{room}/token", body, JSON_AUTH) for body in bodies]


def _check(result: LoadResult, what: str) -> None:
    bad = {k: v for k, v in result.statuses().items() if k != 200}
    if bad:
        raise RuntimeError(f"{what}: non-200 answers {bad}; {result.summary()}")


async def _create_rooms(server: Server, token: str, nft: str, multi: str) -> None:
    access = {
        "any": [
            {"erc721": {"address": nft}},
            {"erc1155": {"address": multi, "token_id": "1"}},
            {"erc20": {"address": token, "min": "1"}},
        ]
    }
    rooms = [
        {"name": ROOMS[0], "max_participants": 10_000},
        {"name": ROOMS[1], "max_participants": 10_000, "access": access},
    ]
    requests = [Request("POST", "/v1/rooms", json.dumps(r).encode(), JSON_AUTH) for r in rooms]
    result = await run_load(server.base_url, requests, concurrency=1)
    if result.statuses() != {201: 2}:
        raise RuntimeError(f"room creation failed: {result.summary()}")


async def run_async(quick: bool = False) -> list[dict[str, Any]]:
    per_run = 1_500 if quick else 4_000
    rounds = 2 if quick else 3
    artifacts = compile_contracts()
    public: list[LoadResult] = []
    gated: list[LoadResult] = []
    with running_anvil() as url, tempfile.TemporaryDirectory(prefix="qari-bench-gated-") as folder:
        chain = Chain(url=url, chain_id=0, artifacts=artifacts, accounts=[])
        chain.chain_id = int(chain.rpc("eth_chainId"), 16)
        chain.accounts = list(chain.rpc("eth_accounts"))
        token = chain.deploy("TestToken")
        nft, multi = chain.deploy("TestNFT"), chain.deploy("TestMultiToken")
        _mint_all(chain, token)
        env = base_env(
            f"sqlite://{folder}/bench.sqlite3",
            CHAIN_RPC_URLS=f"{chain.chain_id}={url}",
            DEFAULT_CHAIN_ID=str(chain.chain_id),
            GATING_CACHE_SECONDS="3600",
        )
        async with Server(env, name="gated-tokens") as server:
            await _create_rooms(server, token, nft, multi)
            for room in ROOMS:
                warm = await run_load(
                    server.base_url, _requests(room, _bodies(HOLDERS * 2, 0)), concurrency=16
                )
                _check(warm, f"warm-up {room}")
            for n in range(rounds):
                bodies = _bodies(per_run, offset=n * 7)
                for room, results in ((ROOMS[0], public), (ROOMS[1], gated)):
                    result = await run_load(
                        server.base_url,
                        _requests(room, bodies),
                        concurrency=CONCURRENCY,
                        cpu_probe=server.cpu_seconds,
                    )
                    _check(result, room)
                    results.append(result)
                    print(f"  gated tokens {room}: {result.summary()}")

    suffix = f"{CONCURRENCY} conns, median of {rounds}"
    return [
        row(
            f"token: gated (any of 3, cached yes) vs public throughput ({suffix})",
            statistics.median(r.rps() for r in gated),
            "req/s",
            statistics.median(r.rps() for r in public),
            target=("ratio", ">=", TARGET_RATIO),
        ),
        row(
            "token: gated vs public p99 latency",
            statistics.median(r.p99_ms for r in gated),
            "ms",
            statistics.median(r.p99_ms for r in public),
        ),
    ]


def run(quick: bool = False) -> list[dict[str, Any]]:
    return asyncio.run(run_async(quick))


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)
