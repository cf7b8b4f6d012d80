"""An SQLite database made before a model gained a column is brought up to it at start-up."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from app.sqlite_schema import ADDED_COLUMNS
from tests.conftest import app_running
from tests.support.settings import AUTH, make_settings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "models"


def columns(path: Path, table: str) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


async def test_columns_added_since_are_added_to_an_old_database(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    settings = make_settings(f"sqlite://{path}")
    async with app_running(settings):
        pass
    # The database as an earlier version left it: without the columns added since.
    with sqlite3.connect(path) as conn:
        for table, column, _, _ in ADDED_COLUMNS:
            conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    assert "grant_key" not in columns(path, "seats")
    async with app_running(settings) as running:
        client = running.client()
        assert (await client.post("/v1/rooms", json={"name": "agora"}, headers=AUTH)).status_code
        response = await client.post(
            "/v1/rooms/agora/token", json={"identity": "ann"}, headers=AUTH
        )
        assert response.status_code == 200
    for table, column, _, _ in ADDED_COLUMNS:
        assert column in columns(path, table)


def test_each_added_column_has_its_postgresql_migration() -> None:
    for table, column, _, migration in ADDED_COLUMNS:
        text = (MIGRATIONS / f"{migration}.py").read_text()
        assert f'"{table}" ADD "{column}"' in text
