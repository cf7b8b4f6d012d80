"""Tortoise configuration: one function, used by the app, the tests and aerich.

Database work itself (deadlines, transactions, "database unavailable") is in
models/db.py; its names are re-exported here for the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.base.executor import EXECUTOR_CACHE

from app.settings import Settings
from app.sqlite_schema import add_missing_columns
from models.db import (
    DEFAULT_TIMEOUT_SECONDS,
    UNAVAILABLE,
    Database,
    DatabaseUnavailableError,
    bounded,
    transaction,
)

__all__ = [
    "DATABASE_UNAVAILABLE",
    "Database",
    "DatabaseUnavailableError",
    "bounded",
    "close_database",
    "open_database",
    "tortoise_config",
    "transaction",
]

log = logging.getLogger(__name__)

MODEL_MODULES = ["models"]


# Errors that mean "the database cannot be reached right now", as opposed to a
# bad query or bad data (models/db.py): callers answer 503 (so clients and
# LiveKit retry) and the webhook committer does not count them against an event.
# (All of them are Exceptions, so `except DATABASE_UNAVAILABLE` may be mixed with others.)
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    DatabaseUnavailableError,
    *(kind for kind in UNAVAILABLE if issubclass(kind, Exception)),
)

# Added to a PostgreSQL URL unless it sets them itself.
POSTGRES_DEFAULTS = {
    # asyncpg's pool defaults to 5 connections; room actors and routes share it.
    "maxsize": 20,
    # asyncpg keeps up to 100 prepared statements per connection, and batched
    # `IN (...)` queries of every length are distinct statements: at 20
    # connections that cache alone grew RSS by 20% in a 150 s soak. A small one
    # keeps the hot statements prepared and memory flat.
    "statement_cache_size": 16,
}


async def _keep_session(connection: asyncpg.Connection) -> None:
    """The pool's reset for a connection given back: nothing beyond asyncpg's own.

    asyncpg always rolls back an open transaction first. Its default reset
    then runs `RESET ALL; UNLISTEN *; CLOSE ALL; pg_advisory_unlock_all()`, a
    round trip on every release, i.e. on every query outside a transaction.
    This service sets no session state, listens to nothing, keeps no cursors
    and takes no advisory locks, so there is nothing for that query to undo.
    """


def tortoise_config(
    database_url: str, timeout: float | None = DEFAULT_TIMEOUT_SECONDS
) -> dict[str, Any]:
    """The Tortoise config dict for a database URL (aerich's `TORTOISE_ORM` too).

    `timeout` bounds every statement on the server too: PostgreSQL cancels a
    statement (one waiting on a lock, say) after it, asyncpg gives up on a
    connection that does not answer a little later, and SQLite waits at most
    that long for another connection's write lock. None (for migrations,
    which may rewrite a large table) sets no bound.
    """
    if database_url.startswith("postgres://"):
        for name, value in POSTGRES_DEFAULTS.items():
            if f"{name}=" not in database_url:
                separator = "&" if "?" in database_url else "?"
                database_url = f"{database_url}{separator}{name}={value}"
        connection: dict[str, Any] = expand_db_url(database_url)
        credentials = connection["credentials"]
        credentials["reset"] = _keep_session
        if timeout is None:
            return _config(connection)
        milliseconds = str(max(1, int(timeout * 1000)))
        credentials["server_settings"] = {
            **credentials.get("server_settings", {}),
            "statement_timeout": milliseconds,
            # A transaction left open by a cancelled task cannot hold locks for long.
            "idle_in_transaction_session_timeout": str(max(1000, int(timeout * 2000))),
        }
        credentials["command_timeout"] = timeout + 1
    else:
        connection = expand_db_url(database_url)
        if timeout is not None:
            connection["credentials"]["busy_timeout"] = max(1, int(timeout * 1000))
    return _config(connection)


def _config(connection: dict[str, Any]) -> dict[str, Any]:
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {
                "models": [*MODEL_MODULES, "aerich.models"],
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def open_database(settings: Settings) -> None:
    """Connect Tortoise; on SQLite (the embedded default) also create the schema.

    PostgreSQL's schema belongs to aerich's migrations (`make upgrade`).
    """
    path = settings.sqlite_path()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    config = tortoise_config(settings.database_url, settings.database_timeout_seconds)
    # Hypercorn runs the lifespan in its own task; request tasks must still see
    # the connections, so the context is also kept as the process-wide fallback.
    await Tortoise.init(config=config, _enable_global_fallback=True)
    if settings.is_sqlite:
        await Tortoise.generate_schemas(safe=True)
        await add_missing_columns()  # tables made before a model gained a column


async def close_database(grace_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
    """Close the pool; connections still out after `grace_seconds` (the lifecycle
    gives what is left of shutdown's bound) are dropped, so shutdown is bounded
    even while a statement waits on a lock."""
    try:
        async with asyncio.timeout(grace_seconds):
            await Tortoise.close_connections()
    except TimeoutError:
        log.warning("database connections did not close in time; dropping them")
        _terminate_pools()
    # Tortoise caches insert SQL by connection name, not by dialect: a process
    # that opens another database next (the test suite does) must not reuse it.
    EXECUTOR_CACHE.clear()


def _terminate_pools() -> None:
    from tortoise.connection import connections

    for client in connections.all():
        pool = getattr(client, "_pool", None)
        if pool is not None:
            with contextlib.suppress(Exception):
                pool.terminate()
    with contextlib.suppress(Exception):
        connections._clear_storage()


def __getattr__(name: str) -> Any:
    # aerich reads `app.database.TORTOISE_ORM`; computing it on access keeps
    # settings from being read at import time.
    if name == "TORTOISE_ORM":
        return tortoise_config(Settings().database_url, timeout=None)
    raise AttributeError(name)
