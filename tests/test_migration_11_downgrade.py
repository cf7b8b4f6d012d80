"""Migration 11's downgrade refuses while a room's condition only `access` can say.

Older versions cannot read `access_type` 'conditions', and turning such a room
public would open a gated room: the downgrade's SQL fails, saying why, and
changes nothing; without such rooms it goes through.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from tests.support.postgres import create_throwaway_database, drop_database

MIGRATION = next(
    (Path(__file__).resolve().parent.parent / "migrations" / "models").glob("11_*.py")
).stem

# The columns migration 11 touches, as it leaves them.
ROOMS = """
CREATE TABLE "rooms" (
    "name" VARCHAR(64) NOT NULL,
    "access_type" VARCHAR(16) NOT NULL,
    "access" TEXT,
    "delegation" BOOL NOT NULL DEFAULT False
)"""


@pytest.fixture
async def conn(postgres_url: str) -> AsyncIterator[asyncpg.Connection]:
    url = await create_throwaway_database("qari_downgrade")
    connection = await asyncpg.connect(url, timeout=5)
    try:
        await connection.execute(ROOMS)
        yield connection
    finally:
        await connection.close()
        await drop_database(url)


async def downgrade_sql() -> str:
    module = importlib.import_module(f"migrations.models.{MIGRATION}")
    sql: str = await module.downgrade(None)
    return sql


async def test_a_conditions_room_refuses_the_downgrade(conn: asyncpg.Connection) -> None:
    await conn.execute(
        """INSERT INTO "rooms" VALUES ('tree', 'conditions', '{"any":[]}', true),"""
        """ ('holders', 'token', '{"erc20":{}}', false)"""
    )

    with pytest.raises(asyncpg.RaiseError, match=r"1 room.*access_type conditions"):
        async with conn.transaction():
            await conn.execute(await downgrade_sql())

    columns = await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'rooms'"
    )
    assert "access" in {row["column_name"] for row in columns}


async def test_without_conditions_rooms_the_downgrade_goes_through(
    conn: asyncpg.Connection,
) -> None:
    await conn.execute("""INSERT INTO "rooms" VALUES ('holders', 'token', '{"erc20":{}}', false)""")

    async with conn.transaction():
        await conn.execute(await downgrade_sql())

    columns = await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'rooms'"
    )
    assert {row["column_name"] for row in columns} == {"name", "access_type"}
