"""Shared fixtures: every database test runs on SQLite and on a real PostgreSQL.

PostgreSQL comes from TEST_DATABASE_URL; a throwaway database is created for
the run and dropped after it. Without a reachable server the PostgreSQL half
skips locally, and fails under CI=true, where it must run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from quart import Quart
from quart.typing import TestAppProtocol
from quart.typing import TestClientProtocol as Client

from app.factory import create_app
from app.services import Services, build_services
from app.settings import Settings
from tests.fakes.livekit_server import FakeLiveKit

# The local EVM node (anvil) and its per-test snapshot, for chain tests.
from tests.support.chain import anvil_node, chain  # noqa: F401
from tests.support.clock import FakeClock, ManualSleep
from tests.support.postgres import (
    admin_url,
    create_throwaway_database,
    drop_database,
    generate_schema,
    truncate_tables,
)
from tests.support.settings import LIVEKIT_KEY, LIVEKIT_SECRET, make_settings
from tests.support.timers import ManualTimers

T = TypeVar("T")


async def _probe_postgres() -> str | None:
    try:
        conn = await asyncpg.connect(admin_url(), timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"{type(error).__name__}: {error}"
    await conn.close()
    return None


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even inside a running loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database with the schema, for the whole run."""
    problem = run_sync(_probe_postgres())
    if problem is not None:
        message = f"PostgreSQL at TEST_DATABASE_URL is not reachable ({problem})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; under CI it must be.")
        pytest.skip(message)
    url = run_sync(create_throwaway_database())
    run_sync(generate_schema(url))
    yield url
    run_sync(drop_database(url))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The database a test runs on: a fresh SQLite file, or the emptied PostgreSQL one."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/qari.sqlite3"
    url: str = request.getfixturevalue("postgres_url")
    run_sync(truncate_tables(url))
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@dataclass
class Running:
    """An app running its real lifecycle, with what tests need to reach."""

    app: Quart
    test_app: TestAppProtocol
    services: Services
    sleep: ManualSleep
    # The gating re-check's own sleep, so ticking one periodic task never runs the other.
    gating_sleep: ManualSleep
    # Every room's reconciliation timer: no period ends unless a test fires it.
    reconcile: ManualTimers
    # Every room's timer of Unlock keys' ends (it looks at the clock again when fired).
    expiry: ManualTimers

    def client(self) -> Client:
        return self.test_app.test_client()


@contextlib.asynccontextmanager
async def app_running(settings: Settings, clock: FakeClock | None = None) -> AsyncIterator[Running]:
    """The app with its real lifecycle (database, actors), shut down on exit."""
    clock = clock or FakeClock()
    sleep = ManualSleep()
    gating_sleep = ManualSleep()
    reconcile = ManualTimers()
    expiry = ManualTimers()
    services = build_services(
        settings,
        clock=clock.monotonic,
        now=clock.now,
        sleep=sleep,
        gating_sleep=gating_sleep,
        reconcile_sleep=reconcile,
        expiry_sleep=expiry,
    )
    app = create_app(settings, services)
    test_app = app.test_app()
    await test_app.startup()
    try:
        yield Running(
            app=app,
            test_app=test_app,
            services=services,
            sleep=sleep,
            gating_sleep=gating_sleep,
            reconcile=reconcile,
            expiry=expiry,
        )
    finally:
        await test_app.shutdown()


@pytest.fixture
async def running(settings: Settings, clock: FakeClock) -> AsyncIterator[Running]:
    """The app on this test's database."""
    async with app_running(settings, clock) as instance:
        yield instance


@pytest.fixture
async def client(running: Running) -> Client:
    return running.client()


@pytest.fixture
async def fake_livekit() -> AsyncIterator[FakeLiveKit]:
    async with FakeLiveKit(LIVEKIT_KEY, LIVEKIT_SECRET) as fake:
        yield fake


@pytest.fixture
async def mirrored(
    database_url: str, clock: FakeClock, fake_livekit: FakeLiveKit
) -> AsyncIterator[Running]:
    """The app mirroring rooms to the fake LiveKit RoomService."""
    settings = make_settings(
        database_url, livekit_url=fake_livekit.url, livekit_timeout_seconds=0.5
    )
    async with app_running(settings, clock) as instance:
        yield instance
