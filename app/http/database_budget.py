"""Each request's database budget: the Database's timeout (DATABASE_TIMEOUT_SECONDS)
from its arrival.

A route may make several queries (a permission check, then a page, then
its details), and a webhook waits to be admitted before its insert: what
the client must get is an answer within DATABASE_TIMEOUT_SECONDS, not that
long per statement. So the deadline counts from the request's arrival, as
the access log's first hook stamps it (no hook of its own: one more per
request costs the hot token route), and every piece of database work in the request runs inside
`database_work()`, i.e. the app's `Database.bounded()` with what is left of it: the
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
import time
from collections.abc import AsyncIterator

from quart import current_app, g, has_request_context

from models.db import Database

# Set by the access log's first before_request hook (app/http/access_log.py).
_ARRIVAL = "qari_started"


def database_deadline() -> float:
    """The loop time by which this request's database work must be done."""
    return asyncio.get_running_loop().time() + database_budget()


def database_budget() -> float:
    """Seconds left of this request's budget (0 when spent), by the current app's
    Database; outside a request, its whole timeout."""
    return budget_left(_database())


def budget_left(database: Database) -> float:
    """Seconds left of the current request's budget with `database` (0 when spent);
    outside a request, the whole of its timeout."""
    arrived: float | None = getattr(g, _ARRIVAL, None) if has_request_context() else None
    if arrived is None:
        return database.timeout_seconds
    return max(0.0, arrived + database.timeout_seconds - time.perf_counter())


@contextlib.asynccontextmanager
async def database_work(at_most: float | None = None) -> AsyncIterator[None]:
    """Database work within what is left of the budget (and within `at_most` seconds,
    for work that must not take all of it), else DatabaseUnavailableError."""
    database = _database()
    budget = budget_left(database)
    async with database.bounded(budget if at_most is None else min(at_most, budget)):
        yield


# Where the app keeps its Database for these helpers (set by app/factory.py), so
# this module needs nothing of app/services.py, which uses budget_left.
DATABASE_EXTENSION = "qari.database"


def _database() -> Database:
    """The current app's Database."""
    found: Database = current_app.extensions[DATABASE_EXTENSION]
    return found
