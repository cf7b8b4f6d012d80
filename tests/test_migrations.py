"""aerich's migrations bring an empty PostgreSQL to exactly the schema the models describe.

A model change without its migration fails here.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import asyncpg

from tests.support.postgres import create_throwaway_database, drop_database, generate_schema

ROOT = Path(__file__).resolve().parent.parent
AERICH = Path(sys.executable).parent / "aerich"

COLUMNS = """
SELECT table_name, column_name, data_type, is_nullable, character_maximum_length
FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'aerich'
ORDER BY table_name, column_name
"""
INDEXES = """
SELECT tablename, indexdef FROM pg_indexes
WHERE schemaname = 'public' AND tablename <> 'aerich' ORDER BY tablename, indexdef
"""
CONSTRAINTS = """
SELECT tc.table_name, tc.constraint_type, kcu.column_name
FROM information_schema.table_constraints tc
JOIN information_schema.key_column_usage kcu USING (constraint_schema, constraint_name)
WHERE tc.table_schema = 'public' AND tc.table_name <> 'aerich'
ORDER BY 1, 2, 3
"""


async def describe(url: str) -> dict[str, list[tuple[object, ...]]]:
    conn = await asyncpg.connect(url)
    try:
        return {
            name: [tuple(row) for row in await conn.fetch(query)]
            for name, query in (
                ("columns", COLUMNS),
                ("indexes", INDEXES),
                ("constraints", CONSTRAINTS),
            )
        }
    finally:
        await conn.close()


async def test_migrations_match_the_models(postgres_url: str) -> None:
    migrated = await create_throwaway_database("qari_migrated")
    generated = await create_throwaway_database("qari_generated")
    try:
        process = await asyncio.create_subprocess_exec(
            str(AERICH),
            "upgrade",
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": migrated},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, output.decode()
        await generate_schema(generated)
        from_migrations = await describe(migrated)
        from_models = await describe(generated)
        assert from_migrations["columns"], "the migrations created no tables"
        assert from_migrations == from_models
    finally:
        await drop_database(migrated)
        await drop_database(generated)
