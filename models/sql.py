"""What the tables' hand-written SQL shares: the dialect's placeholders, timestamps read back."""

from __future__ import annotations

import datetime as dt

from tortoise.backends.base.client import BaseDBAsyncClient


def is_postgres(conn: BaseDBAsyncClient) -> bool:
    return bool(conn.capabilities.dialect == "postgres")


def placeholder(conn: BaseDBAsyncClient) -> str:
    """`$` for PostgreSQL's `$1`, `?` for SQLite's numbered `?1`."""
    return "$" if is_postgres(conn) else "?"


def timestamp(value: object) -> dt.datetime:
    """A timestamp column as an aware datetime: SQLite hands it back as text (or naive UTC)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
