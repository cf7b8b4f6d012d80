"""Wallet sign-in: SIWE logins per second, and the token route with a wallet session.

One real Hypercorn process on a SQLite file (the bench app: the real app plus
bare routes). In one run:

- SIWE logins (ordinary accounts, EIP-191): nonces are fetched and messages
  signed beforehand (signing is the wallet's work, not the server's), then
  `POST /v1/auth/siwe` from 64 connections: parse, every check, the nonce
  consumed, the session stored. Shown beside the token route's throughput
  with an API key, the route the dApp calls next.
- The token route with a wallet session (identity = the session's address)
  against the same route with the API key and the same identities, run
  alternately; the median of each. Target: wallet >= 0.90 of API key (the
  session is served from memory: no database query per request).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import statistics
import tempfile
import urllib.request
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct

from bench.bare_app import BARE_ROOM
from bench.harness import JSON_AUTH, LoadResult, Request, Server, base_env, row, run_load

CONCURRENCY = 64
DOMAIN = "bench.qari.test"
TARGET_RATIO = 0.90
FACTORY = "bench.bench_app:create_bench_app"
BENCH_RATE_LIMIT = "1000000/second"


def _post(base_url: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
    # Our own loopback server, over http.
    request = urllib.request.Request(base_url + path, data=body, headers=headers, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


def _siwe_text(address: str, nonce: str, issued_at: str) -> str:
    return (
        f"{DOMAIN} wants you to sign in with your Ethereum account:\n{address}\n\n"
        f"Sign in to Qari.\n\nURI: https://{DOMAIN}/login\nVersion: 1\nChain ID: 1\n"
        f"Nonce: {nonce}\nIssued At: {issued_at}"
    )


def _signed_logins(base_url: str, count: int) -> list[Request]:
    """`count` sign-in requests of fresh accounts, each with a nonce of its own.

    Made before the timed run: signing is the wallet's work, not the server's.
    """
    requests = []
    for _ in range(count):
        nonce = _post(base_url, "/v1/auth/nonce", b"", {})["nonce"]
        account = Account.create()
        text = _siwe_text(account.address, nonce, _now_rfc3339())
        signature = account.sign_message(encode_defunct(text=text)).signature
        body = json.dumps({"message": text, "signature": "0x" + bytes(signature).hex()}).encode()
        requests.append(
            Request("POST", "/v1/auth/siwe", body, {"Content-Type": "application/json"})
        )
    return requests


def _now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sign_in(base_url: str) -> tuple[str, str]:
    """A signed-in wallet: (address, bearer token)."""
    issued = _post(base_url, "/v1/auth/nonce", b"", {})
    account = Account.create()
    text = _siwe_text(account.address, issued["nonce"], _now_rfc3339())
    signature = "0x" + bytes(account.sign_message(encode_defunct(text=text)).signature).hex()
    body = json.dumps({"message": text, "signature": signature}).encode()
    answer = _post(base_url, "/v1/auth/siwe", body, {"Content-Type": "application/json"})
    return answer["address"], answer["token"]


def _check(result: LoadResult, what: str) -> None:
    bad = {k: v for k, v in result.statuses().items() if k != 200}
    if bad:
        raise RuntimeError(f"{what}: non-200 answers {bad}; {result.summary()}")


async def run_async(quick: bool = False) -> list[dict[str, Any]]:
    logins = 300 if quick else 1_000
    wallets = 200 if quick else 500
    per_run = 1_500 if quick else 4_000
    rounds = 2 if quick else 3
    path = f"/v1/rooms/{BARE_ROOM.name}/token"
    with tempfile.TemporaryDirectory(prefix="qari-bench-wallets-") as folder:
        env = base_env(
            f"sqlite://{folder}/bench.sqlite3",
            SIWE_DOMAIN=DOMAIN,
            SIWE_CHAIN_IDS="1",
            # Every request comes from 127.0.0.1: limits it never reaches, so the
            # limiter still counts each wallet request (its cost is measured).
            RATE_LIMIT_SIGNIN=BENCH_RATE_LIMIT,
            RATE_LIMIT_TOKENS=BENCH_RATE_LIMIT,
        )
        async with Server(env, factory=FACTORY, name="wallets") as server:
            room = json.dumps({"name": BARE_ROOM.name, "max_participants": 10_000}).encode()
            _post(server.base_url, "/v1/rooms", room, JSON_AUTH)

            login_requests = _signed_logins(server.base_url, logins)
            login = await run_load(
                server.base_url,
                login_requests,
                concurrency=CONCURRENCY,
                cpu_probe=server.cpu_seconds,
            )
            _check(login, "siwe logins")
            print(f"  siwe logins: {login.summary()}")

            signed_in = [_sign_in(server.base_url) for _ in range(wallets)]

            def as_wallet(count: int, offset: int) -> list[Request]:
                return [
                    Request(
                        "POST",
                        path,
                        b'{"name": "Bench User"}',
                        {
                            "Authorization": f"Bearer {signed_in[(offset + i) % wallets][1]}",
                            "Content-Type": "application/json",
                        },
                    )
                    for i in range(count)
                ]

            def as_service(count: int, offset: int) -> list[Request]:
                return [
                    Request(
                        "POST",
                        path,
                        json.dumps(
                            {"identity": signed_in[(offset + i) % wallets][0], "name": "Bench User"}
                        ).encode(),
                        JSON_AUTH,
                    )
                    for i in range(count)
                ]

            for make in (as_service, as_wallet):
                _check(
                    await run_load(server.base_url, make(per_run // 2, 0), concurrency=CONCURRENCY),
                    "warm-up",
                )
            service: list[LoadResult] = []
            wallet: list[LoadResult] = []
            for n in range(rounds):
                for make, results, label in (
                    (as_service, service, "api key"),
                    (as_wallet, wallet, "wallet"),
                ):
                    result = await run_load(
                        server.base_url,
                        make(per_run, n * per_run),
                        concurrency=CONCURRENCY,
                        cpu_probe=server.cpu_seconds,
                    )
                    _check(result, label)
                    results.append(result)
                    print(f"  token with {label}: {result.summary()}")

    def median(results: list[LoadResult]) -> float:
        return statistics.median(r.rps() for r in results)

    suffix = f"{CONCURRENCY} conns, median of {rounds}"
    return [
        row(
            f"siwe logins/s vs token route with an API key ({CONCURRENCY} conns)",
            login.rps(),
            "req/s",
            median(service),
        ),
        row(
            f"token: wallet session vs API key throughput ({suffix})",
            median(wallet),
            "req/s",
            median(service),
            target=("ratio", ">=", TARGET_RATIO),
        ),
        row(
            "token: wallet session vs API key p99 latency",
            statistics.median(r.p99_ms for r in wallet),
            "ms",
            statistics.median(r.p99_ms for r in service),
        ),
    ]


def run(quick: bool = False) -> list[dict[str, Any]]:
    return asyncio.run(run_async(quick))
