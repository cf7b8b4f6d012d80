"""Each request's database budget: DATABASE_TIMEOUT_SECONDS from its arrival.

A route may make several queries (a permission check, then a page, then
its details), and a webhook waits to be admitted before its insert: what
the client must get is an answer within DATABASE_TIMEOUT_SECONDS, not that
long per statement. So the deadline is set once per request, before any
hook that can touch the database (the caller guard resolves wallet
sessions), and every piece of database work in the request runs inside
`database_work()`, i.e. `models.db.bounded()` with what is left of it: the
pool acquire, SQLite's connection lock and the statements all count. When
it runs out the work raises DatabaseUnavailableError (503
`database_unavailable`).

Outside a request (the lifecycle's periodic work) the budget is the whole
DATABASE_TIMEOUT_SECONDS each time.

PostgreSQL's statement_timeout (set from the same setting) stops a statement
on the server too, so a cancelled request does not leave it waiting on a lock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from quart import Quart, g, has_request_context

from models.db import bounded, timeout_seconds

_DEADLINE = "qari_database_deadline"


def install_database_budget(app: Quart, seconds: float) -> None:
    """Start every request's budget; register before hooks that use the database."""

    @app.before_request
    async def start_database_budget() -> None:
        setattr(g, _DEADLINE, asyncio.get_running_loop().time() + seconds)


def database_deadline() -> float:
    """The loop time by which this request's database work must be done."""
    deadline: float | None = getattr(g, _DEADLINE, None) if has_request_context() else None
    if deadline is None:
        return asyncio.get_running_loop().time() + timeout_seconds()
    return deadline


def database_budget() -> float:
    """Seconds left of this request's budget (0 when spent)."""
    return max(0.0, database_deadline() - asyncio.get_running_loop().time())


@contextlib.asynccontextmanager
async def database_work() -> AsyncIterator[None]:
    """Database work within what is left of the budget, else DatabaseUnavailableError."""
    async with bounded(database_budget()):
        yield
