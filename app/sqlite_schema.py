"""Bringing an existing SQLite database's tables up to the models, at start-up.

SQLite's schema is built from the models when the app starts (aerich's
migrations are PostgreSQL SQL), and Tortoise's `generate_schemas(safe=True)`
creates missing tables but never adds a column to a table that exists. So a
column added to a model after SQLite databases were in use is added here, once,
as its PostgreSQL migration adds it there. Each entry: (table, column, the
column's SQLite definition, the migration that adds it on PostgreSQL).
"""

from __future__ import annotations

import logging

from tortoise import connections

from models.outbox import PARTIAL_INDEXES

log = logging.getLogger(__name__)

ADDED_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("participant_sessions", "track_sids", "TEXT", "4_20261202005702_track_sids"),
    ("seats", "grant_key", "VARCHAR(32) NOT NULL DEFAULT ''", "5_20261206053145_grant_key"),
    ("rooms", "recording", "INT NOT NULL DEFAULT 0", "8_20261206104951_recordings"),
    ("rooms", "lobby", "INT NOT NULL DEFAULT 0", "10_20261206132553_lobby"),
    ("rooms", "access", "TEXT", "11_20261206133122_access_conditions"),
    ("rooms", "delegation", "INT NOT NULL DEFAULT 0", "11_20261206133122_access_conditions"),
    # (Its `minted_at`, dropped there, is left here: nullable, and read by nothing.)
    ("lobby_tickets", "claims", "TEXT", "12_20261206140227_lobby_claims"),
    ("lobby_tickets", "checked_access", "TEXT", "12_20261206140227_lobby_claims"),
)


async def add_missing_columns() -> list[str]:
    """Add the columns of ADDED_COLUMNS a table lacks; the `table.column`s added."""
    conn = connections.get("default")
    added = []
    for table, column, definition, _ in ADDED_COLUMNS:
        rows = await conn.execute_query_dict(f"PRAGMA table_info({table})")
        if not rows or any(row["name"] == column for row in rows):
            continue  # no such table yet (created whole), or already there
        await conn.execute_script(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
        added.append(f"{table}.{column}")
    for index in PARTIAL_INDEXES:
        await conn.execute_script(index)
    if added:
        log.info("SQLite schema brought up to the models: added %s", ", ".join(added))
    return added
