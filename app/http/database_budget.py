"""Each request's database budget: DATABASE_TIMEOUT_SECONDS from its arrival.

A route may make several queries (a permission check, then a page, then
its details), and a webhook waits to be admitted before its insert: what
the client must get is an answer within DATABASE_TIMEOUT_SECONDS, not that
long per statement. So the deadline counts from the request's arrival, as
the access log's first hook stamps it (no hook of its own: one more per
request costs the hot token route), and every piece of database work in the request runs inside
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
import time
from collections.abc import AsyncIterator

from quart import g, has_request_context

from models.db import bounded, timeout_seconds

# Set by the access log's first before_request hook (app/http/access_log.py).
_ARRIVAL = "qari_started"


def database_deadline() -> float:
    """The loop time by which this request's database work must be done."""
    return asyncio.get_running_loop().time() + database_budget()


def database_budget() -> float:
    """Seconds left of this request's budget (0 when spent); outside a request, the
    whole DATABASE_TIMEOUT_SECONDS."""
    arrived: float | None = getattr(g, _ARRIVAL, None) if has_request_context() else None
    if arrived is None:
        return timeout_seconds()
    return max(0.0, arrived + timeout_seconds() - time.perf_counter())


@contextlib.asynccontextmanager
async def database_work(at_most: float | None = None) -> AsyncIterator[None]:
    """Database work within what is left of the budget (and within `at_most` seconds,
    for work that must not take all of it), else DatabaseUnavailableError."""
    budget = database_budget()
    async with bounded(budget if at_most is None else min(at_most, budget)):
        yield
