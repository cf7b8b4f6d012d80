"""At start-up on PostgreSQL: is every migration in `migrations/models/` applied?

PostgreSQL's schema belongs to aerich (`make upgrade`); the app never creates
tables there. Without this check an unmigrated database shows up later, as a
traceback on the first query (`relation "webhook_inbox" does not exist`).
"""

from __future__ import annotations

from pathlib import Path

from tortoise import connections

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations" / "models"
AERICH_APP = "models"
UPGRADE_HINT = "run `make upgrade` (aerich upgrade) with the same DATABASE_URL, then start again"


class SchemaNotCurrentError(Exception):
    """The database lacks migrations this code needs; the message says what to do."""


def expected_migrations(folder: Path = MIGRATIONS) -> list[str]:
    """The migration files aerich would apply, oldest first (`0_..._init.py`, `1_...`)."""
    if not folder.is_dir():
        return []
    names = [p.name for p in folder.glob("*.py") if p.name.split("_", 1)[0].isdigit()]
    return sorted(names, key=lambda name: int(name.split("_", 1)[0]))


async def check_schema(folder: Path = MIGRATIONS) -> None:
    """Raise SchemaNotCurrentError unless every migration file is recorded as applied."""
    expected = expected_migrations(folder)
    if not expected:
        return  # no migrations shipped beside the code (not a deploy of this repo)
    conn = connections.get("default")
    rows = await conn.execute_query_dict("SELECT to_regclass('aerich') IS NOT NULL AS present")
    if not rows or not rows[0]["present"]:
        raise SchemaNotCurrentError(f"PostgreSQL has no schema yet (not migrated): {UPGRADE_HINT}.")
    applied = {
        str(row["version"])
        for row in await conn.execute_query_dict(
            "SELECT version FROM aerich WHERE app = $1", [AERICH_APP]
        )
    }
    missing = [name for name in expected if name not in applied]
    if missing:
        raise SchemaNotCurrentError(
            f"PostgreSQL's schema is out of date ({len(missing)} migration(s) not applied,"
            f" first {missing[0]}): {UPGRADE_HINT}."
        )
