"""Throwaway PostgreSQL databases, for the test suite and the benchmarks alike."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
from tortoise import Tortoise, connections

from app.database import close_database, tortoise_config
from app.schema_check import AERICH_APP, expected_migrations
from models.outbox import PARTIAL_INDEXES

DEFAULT_TEST_DATABASE_URL = "postgres://postgres:postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    """The server's maintenance database, from BENCH_ or TEST_DATABASE_URL."""
    url = (
        os.environ.get("BENCH_DATABASE_URL")
        or os.environ.get("TEST_DATABASE_URL")
        or DEFAULT_TEST_DATABASE_URL
    )
    return "postgres://" + url.removeprefix("postgresql://").removeprefix("postgres://")


def with_database(url: str, database: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{database}"


async def create_throwaway_database(prefix: str = "qari_test") -> str:
    """Create an empty database on the test server; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin_url(), timeout=5)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(admin_url(), name)


async def drop_database(url: str) -> None:
    name = database_name(url)
    conn = await asyncpg.connect(admin_url(), timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def generate_schema(url: str) -> None:
    """The models' schema, created directly (the migrations test checks they agree).

    The migrations are recorded as applied, as `make upgrade` would leave them,
    so the app's start-up check takes the database as current.
    """
    await Tortoise.init(config=tortoise_config(url))
    try:
        await Tortoise.generate_schemas(safe=False)
        for index in PARTIAL_INDEXES:
            await connections.get("default").execute_script(index)
    finally:
        await close_database()
    await record_migrations(url, expected_migrations())


async def record_migrations(url: str, versions: list[str]) -> None:
    """Mark these migration files as applied in aerich's table (and no others)."""
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute("DELETE FROM aerich WHERE app = $1", AERICH_APP)
        await conn.executemany(
            "INSERT INTO aerich (version, app, content) VALUES ($1, $2, '{}')",
            [(version, AERICH_APP) for version in versions],
        )
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def throwaway_database(prefix: str = "qari_test") -> AsyncIterator[str]:
    """A fresh database with the schema, dropped on exit."""
    url = await create_throwaway_database(prefix)
    try:
        await generate_schema(url)
        yield url
    finally:
        await drop_database(url)


TABLES = (
    "bans",
    "seats",
    "participant_sessions",
    "room_sessions",
    "webhook_inbox",
    "rooms",
    "siwe_nonces",
    "wallet_sessions",
    "room_leases",
    "nodes",
    "outbox_attempts",
    "outbox_deliveries",
    "outbox_events",
    "outbox_sequence",
    "webhook_endpoints",
    "recordings",
)


async def truncate_tables(url: str) -> None:
    """Empty the app's tables (the schema stays), for the next test."""
    conn = await asyncpg.connect(with_database(admin_url(), database_name(url)))
    try:
        await conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


def database_name(url: str) -> str:
    return url.rpartition("/")[2].split("?", 1)[0]


@contextlib.asynccontextmanager
async def unreachable(url: str) -> AsyncIterator[None]:
    """PostgreSQL refuses this database for the block: new connections and open ones."""
    name = database_name(url)
    admin = await asyncpg.connect(admin_url(), timeout=5)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        yield
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
