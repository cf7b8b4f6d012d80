"""Tortoise configuration: one function, used by the app, the tests and aerich."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.connection import get_connections
from tortoise.exceptions import DBConnectionError
from tortoise.transactions import in_transaction

from app.settings import Settings

MODEL_MODULES = ["models"]


# Errors that mean "the database cannot be reached right now", as opposed to a
# bad query or bad data: callers answer 503 (so clients and LiveKit retry) and
# the webhook applier does not count them against an event.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    DBConnectionError,
    OSError,  # refused, reset, timed out
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # the connection went away under a query
    asyncpg.InternalClientError,  # ... or while the pool was resetting it
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ObjectNotInPrerequisiteStateError,  # the database refuses connections
    # Shut down or crashed under a query (not QueryCanceledError, their sibling:
    # a statement timeout is a property of the query, and must count).
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
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


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise config dict for a database URL (aerich's `TORTOISE_ORM` too)."""
    connection: str | dict[str, Any] = database_url
    if database_url.startswith("postgres://"):
        for name, value in POSTGRES_DEFAULTS.items():
            if f"{name}=" not in database_url:
                separator = "&" if "?" in database_url else "?"
                database_url = f"{database_url}{separator}{name}={value}"
        connection = expand_db_url(database_url)
        connection["credentials"]["reset"] = _keep_session
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
    # Hypercorn runs the lifespan in its own task; request tasks must still see
    # the connections, so the context is also kept as the process-wide fallback.
    await Tortoise.init(config=tortoise_config(settings.database_url), _enable_global_fallback=True)
    if settings.is_sqlite:
        await Tortoise.generate_schemas(safe=True)


@contextlib.asynccontextmanager
async def transaction() -> AsyncIterator[BaseDBAsyncClient]:
    """`in_transaction()`, except that a BEGIN that fails gives its connection back.

    Tortoise 1.1 takes a pooled connection and then sends BEGIN, both on the
    way in: when BEGIN fails (PostgreSQL went away), the way out never runs, so
    the connection stays taken (the pool then never closes: shutdown hangs)
    and the task keeps seeing the dead transaction as its connection.
    """
    context = in_transaction()
    try:
        conn = await context.__aenter__()
    except BaseException:
        await _undo_failed_begin(context)
        raise
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_exit(context)
        yield conn


async def _undo_failed_begin(context: Any) -> None:
    token = getattr(context, "token", None)
    if token is not None:
        with contextlib.suppress(Exception):
            get_connections().reset(token)
    # PostgreSQL: a pooled connection was taken before BEGIN.
    client = getattr(context, "client", None)
    pool = getattr(getattr(client, "_parent", None), "_pool", None)
    connection = getattr(client, "_connection", None)
    if pool is not None and connection is not None:
        with contextlib.suppress(Exception):
            await pool.release(connection)
    # SQLite: the one connection's transaction lock is held once the token is set
    # (without a token it may be another task's, so it is left alone).
    lock = getattr(context, "_trxlock", None)
    if token is not None and lock is not None and lock.locked():
        lock.release()


async def close_database() -> None:
    await Tortoise.close_connections()
    # Tortoise caches insert SQL by connection name, not by dialect: a process
    # that opens another database next (the test suite does) must not reuse it.
    EXECUTOR_CACHE.clear()


def __getattr__(name: str) -> Any:
    # aerich reads `app.database.TORTOISE_ORM`; computing it on access keeps
    # settings from being read at import time.
    if name == "TORTOISE_ORM":
        return tortoise_config(Settings().database_url)
    raise AttributeError(name)
