"""Holding a database lock from another session, as a stall in production would."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator

import asyncpg


@contextlib.asynccontextmanager
async def locked(database_url: str, table: str = "rooms") -> AsyncIterator[None]:
    """PostgreSQL: `LOCK TABLE <table>` (ACCESS EXCLUSIVE: every query on it waits).
    SQLite: the write lock (`BEGIN IMMEDIATE`: readers go on, writers wait), the
    stall SQLite can have (`table` does not apply)."""
    if database_url.startswith("sqlite://"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite://"), isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield
            conn.execute("ROLLBACK")
        finally:
            conn.close()
        return
    pg = await asyncpg.connect(database_url)
    try:
        transaction = pg.transaction()
        await transaction.start()
        await pg.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield
        await transaction.rollback()
    finally:
        await pg.close()
