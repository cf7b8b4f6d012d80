"""Seats survive a restart of a real Hypercorn process, graceful (SIGTERM) or not (SIGKILL).

A red team's test: fill a room, restart the service, ask for more. Before
seats were durable, a room of 20 handed out 40 valid tokens that way.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import free_port, server_env
from tests.support.settings import AUTH

ROOM = "restart-room"
HOLD_SECONDS = 3.0


@contextlib.asynccontextmanager
async def serve(
    database_url: str, port: int, tmp: Path, hold: float = HOLD_SECONDS
) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app",
        cwd=tmp,
        env=server_env(database_url, port, SEAT_HOLD_SECONDS=str(hold)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(200):  # up to ~20 s for start-up
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/v1/health/ready")).status_code == 200:
                        break
                if process.returncode is not None:
                    raise RuntimeError("the server exited during start-up")
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the server did not become ready")
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()


async def stop(process: asyncio.subprocess.Process, signum: int) -> None:
    process.send_signal(signum)
    await asyncio.wait_for(process.wait(), 20)


def absolute(database_url: str, tmp: Path) -> str:
    # The server runs in tmp_path: give SQLite an absolute file path.
    return f"sqlite://{tmp}/seats.sqlite3" if database_url.startswith("sqlite://") else database_url


async def token(client: httpx.AsyncClient, identity: str) -> int:
    response = await client.post(f"/v1/rooms/{ROOM}/token", json={"identity": identity})
    return response.status_code


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_a_full_room_stays_full_across_a_restart(
    database_url: str, tmp_path: Path, signum: int
) -> None:
    database_url = absolute(database_url, tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with (
        serve(database_url, port, tmp_path) as process,
        httpx.AsyncClient(base_url=base, headers=AUTH, timeout=10) as client,
    ):
        response = await client.post("/v1/rooms", json={"name": ROOM, "max_participants": 4})
        assert response.status_code == 201
        first_asked = time.monotonic()
        assert [await token(client, f"holder-{i}") for i in range(4)] == [200] * 4
        assert await token(client, "newcomer") == 409
        await stop(process, signum)

    async with (
        serve(database_url, port, tmp_path),
        httpx.AsyncClient(base_url=base, headers=AUTH, timeout=10) as client,
    ):
        assert await token(client, "newcomer") == 409
        assert await token(client, "another-newcomer") == 409
        assert await token(client, "holder-0") == 200  # holders are still served
        # The seats still expire on time: not before the hold has run from the
        # first token (not from the restart), and then a newcomer gets in.
        deadline = time.monotonic() + HOLD_SECONDS + 20
        while (status := await token(client, "newcomer")) == 409:
            assert time.monotonic() < deadline, "the seats never expired"
            await asyncio.sleep(0.1)
        assert status == 200
        assert time.monotonic() >= first_asked + HOLD_SECONDS


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_a_burst_across_a_restart_never_admits_more_than_capacity(
    database_url: str, tmp_path: Path, signum: int
) -> None:
    database_url = absolute(database_url, tmp_path)
    capacity, burst, restart_after = 20, 300, 10
    port = free_port()
    base = f"http://127.0.0.1:{port}"
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
        serve(database_url, port, tmp_path, hold=120) as process,
        httpx.AsyncClient(base_url=base, headers=AUTH, timeout=10) as client,
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
        serve(database_url, port, tmp_path, hold=120),
        httpx.AsyncClient(base_url=base, headers=AUTH, timeout=10) as client,
    ):
        await asyncio.wait_for(asyncio.gather(*(send(client, None) for _ in range(16))), 60)
    assert not pending
    assert restart_after <= len(admitted) <= capacity
    if signum == signal.SIGTERM:
        # A graceful stop drains: nothing taken is lost, so the room fills exactly.
        assert len(admitted) == capacity
