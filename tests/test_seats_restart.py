"""Seats survive a restart of a real Hypercorn process, graceful (SIGTERM) or not (SIGKILL).

A red team's test: fill a room, restart the service, ask for more. Before
seats were durable, a room of 20 handed out 40 valid tokens that way.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.support.server import free_port, serving
from tests.support.settings import AUTH

ROOM = "restart-room"
HOLD_SECONDS = 3.0
# Longer than any test here: a seat taken before a restart is still held after it.
LONG_HOLD = "120"
SHORT_HOLD = str(HOLD_SECONDS)


def url(port: int) -> str:
    # Each start gets a port of its own: during a restart the old one is free,
    # and another process on the machine may take it.
    return f"http://127.0.0.1:{port}"


async def stop(process: asyncio.subprocess.Process, signum: int) -> None:
    process.send_signal(signum)
    await asyncio.wait_for(process.wait(), 20)


def absolute(database_url: str, tmp: Path) -> str:
    # The server runs in tmp_path: give SQLite an absolute file path.
    return f"sqlite://{tmp}/seats.sqlite3" if database_url.startswith("sqlite://") else database_url


async def token(client: httpx.AsyncClient, identity: str) -> int:
    response = await client.post(f"/v1/rooms/{ROOM}/token", json={"identity": identity})
    return response.status_code


async def seat_holds(database_url: str) -> dict[str, str]:
    """identity -> held_until as stored, read behind the server's back."""
    sql = "SELECT identity, held_until FROM seats"
    if database_url.startswith("sqlite://"):
        with sqlite3.connect(database_url.removeprefix("sqlite://")) as conn:
            return {r[0]: str(r[1]) for r in conn.execute(sql)}
    conn = await asyncpg.connect(database_url)
    try:
        return {r[0]: str(r[1]) for r in await conn.fetch(sql)}
    finally:
        await conn.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_a_full_room_stays_full_across_a_restart(
    database_url: str, tmp_path: Path, signum: int
) -> None:
    """Refused after the restart, holders served, the holds' schedule unchanged.

    The hold is long here, so a slow restart on a busy machine cannot let a
    seat expire mid-test; that the seats then expire on time after a restart
    is tests/app/test_seats.py's, on the injected clock.
    """
    database_url = absolute(database_url, tmp_path)
    async with (
        serving(
            database_url, (port := free_port()), tmp_path, SEAT_HOLD_SECONDS=LONG_HOLD
        ) as process,
        httpx.AsyncClient(base_url=url(port), headers=AUTH, timeout=10) as client,
    ):
        response = await client.post("/v1/rooms", json={"name": ROOM, "max_participants": 4})
        assert response.status_code == 201
        assert [await token(client, f"holder-{i}") for i in range(4)] == [200] * 4
        assert await token(client, "newcomer") == 409
        await stop(process, signum)
    held = await seat_holds(database_url)
    assert sorted(held) == [f"holder-{i}" for i in range(4)]

    async with (
        serving(database_url, (port := free_port()), tmp_path, SEAT_HOLD_SECONDS=LONG_HOLD),
        httpx.AsyncClient(base_url=url(port), headers=AUTH, timeout=10) as client,
    ):
        assert await token(client, "newcomer") == 409
        assert await token(client, "another-newcomer") == 409
        assert [await token(client, f"holder-{i}") for i in range(4)] == [200] * 4
        # Asking again reused each seat: the holds still end when they did.
        assert await seat_holds(database_url) == held


async def test_seats_expire_on_time_after_a_restart(database_url: str, tmp_path: Path) -> None:
    """With a short hold: a newcomer gets in once the holds taken before the restart end."""
    database_url = absolute(database_url, tmp_path)
    async with (
        serving(
            database_url, (port := free_port()), tmp_path, SEAT_HOLD_SECONDS=SHORT_HOLD
        ) as process,
        httpx.AsyncClient(base_url=url(port), headers=AUTH, timeout=10) as client,
    ):
        response = await client.post("/v1/rooms", json={"name": ROOM, "max_participants": 1})
        assert response.status_code == 201
        first_asked = time.monotonic()
        assert await token(client, "holder") == 200
        await stop(process, signal.SIGKILL)
    async with (
        serving(database_url, (port := free_port()), tmp_path, SEAT_HOLD_SECONDS=SHORT_HOLD),
        httpx.AsyncClient(base_url=url(port), headers=AUTH, timeout=10) as client,
    ):
        deadline = time.monotonic() + HOLD_SECONDS + 20
        while (status := await token(client, "newcomer")) == 409:
            assert time.monotonic() < deadline, "the seat never expired"
            await asyncio.sleep(0.1)
        assert status == 200
        # Never before the hold ran out, counted from the token, not the restart.
        assert time.monotonic() >= first_asked + HOLD_SECONDS


async def test_a_burst_across_a_restart_never_admits_more_than_capacity(
    database_url: str, tmp_path: Path
) -> None:
    """SIGKILL mid-burst (the harder case: seats in flight die with the process)."""
    signum = signal.SIGKILL
    database_url = absolute(database_url, tmp_path)
    capacity, burst, restart_after = 20, 300, 10
    admitted: set[str] = set()
    pending = [f"user-{i}" for i in range(burst)]

    async def send(client: httpx.AsyncClient, stop_at: asyncio.Event | None) -> None:
        while pending and not (stop_at and stop_at.is_set()):
            identity = pending.pop()
            try:
                status = await token(client, identity)
            except httpx.HTTPError:
                pending.append(identity)  # never answered: asked again after the restart
                return
            if status == 200:
                admitted.add(identity)
                if stop_at is not None and len(admitted) >= restart_after:
                    stop_at.set()
            elif status != 409:
                pending.append(identity)  # 503 while shutting down: asked again later

    # Holds longer than the test, so every seat taken before the restart counts after it.
    async with (
        serving(
            database_url, (port := free_port()), tmp_path, SEAT_HOLD_SECONDS=LONG_HOLD
        ) as process,
        httpx.AsyncClient(base_url=url(port), headers=AUTH, timeout=10) as client,
    ):
        response = await client.post("/v1/rooms", json={"name": ROOM, "max_participants": capacity})
        assert response.status_code == 201
        restart = asyncio.Event()
        senders = [asyncio.ensure_future(send(client, restart)) for _ in range(16)]
        await asyncio.wait_for(restart.wait(), 30)
        # Mid-burst: requests are in flight as the process goes down.
        process.send_signal(signum)
        await asyncio.wait_for(asyncio.gather(*senders), 30)
        await asyncio.wait_for(process.wait(), 20)

    async with (
        serving(database_url, (port := free_port()), tmp_path, SEAT_HOLD_SECONDS=LONG_HOLD),
        httpx.AsyncClient(base_url=url(port), headers=AUTH, timeout=10) as client,
    ):
        await asyncio.wait_for(asyncio.gather(*(send(client, None) for _ in range(16))), 60)
    assert not pending
    assert restart_after <= len(admitted) <= capacity
