"""Database work with a deadline, and the one error that says "the database is away".

Every query the service makes runs inside `bounded()`: it answers within its
deadline, by default the Database's timeout (DATABASE_TIMEOUT_SECONDS; pool
acquire, SQLite's single-connection lock and the statement itself all count),
or raises DatabaseUnavailableError, which
routes answer with 503 and the webhook committer does not count against any
event. Only failures raised *by the database work* are classed so: an OSError
or a ValueError from deciding what to write (a timestamp out of range, say)
happens outside these blocks and stays an error of the event that caused it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from typing import Any, Protocol

import asyncpg
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.connection import get_connections
from tortoise.exceptions import DBConnectionError, OperationalError
from tortoise.transactions import in_transaction

DEFAULT_TIMEOUT_SECONDS = 5.0


class DatabaseUnavailableError(Exception):
    """The database did not answer in time, or cannot be reached: retry later."""


# Raised by the driver when the database, not the query, is the problem.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    TimeoutError,  # our deadline, or asyncpg's command_timeout
    DBConnectionError,
    OSError,  # refused, reset, timed out: inside a database call, it is the connection
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # the connection went away under a query
    asyncpg.InternalClientError,  # ... or while the pool was resetting it
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ObjectNotInPrerequisiteStateError,  # refuses connections; lock_timeout
    # statement_timeout: a stalled database (a lock held elsewhere), not a bad
    # event. Our statements are bounded in size, so they do not time out for data.
    asyncpg.QueryCanceledError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
)


class LeaseLostError(Exception):
    """A room's write was refused: the writer's lease on it is no longer current
    (another node took the room, or this one could not renew in time)."""

    def __init__(self, rooms: Collection[str]) -> None:
        super().__init__(f"no longer the owner of {sorted(rooms)!r}")
        self.rooms = frozenset(rooms)


class Fencing(Protocol):
    """Checks, inside a write's transaction, that its writer still owns the rooms."""

    @property
    def node(self) -> str | None:
        """The node whose leases fence its writes (None: nothing fences them). A
        statement may fence itself with it (models/webhook_effects.py) and then
        report what it found to `lost`."""
        ...

    async def stale(self, conn: BaseDBAsyncClient, leases: Mapping[str, int]) -> set[str]:
        """Of `leases` (room -> epoch), the rooms this node no longer owns under that
        epoch; the others stay owned until the transaction ends."""
        ...

    def lost(self, leases: Mapping[str, int], stale: set[str]) -> None:
        """A write's own fence found the rooms `stale` of `leases` no longer this node's."""
        ...


class Unfenced:
    """One process owns every room (SQLite): nothing to check."""

    @property
    def node(self) -> str | None:
        return None

    async def stale(self, conn: BaseDBAsyncClient, leases: Mapping[str, int]) -> set[str]:
        return set()

    def lost(self, leases: Mapping[str, int], stale: set[str]) -> None:
        pass


class Database:
    """The service's database, as its work sees it: the deadline of that work,
    and the fence every write of a room's state passes (`room_write`).

    Built once in the composition root (app/services.py) from
    DATABASE_TIMEOUT_SECONDS and passed to whatever runs database work.
    """

    def __init__(self, timeout_seconds: float, fencing: Fencing | None = None) -> None:
        self._timeout_seconds = timeout_seconds
        self.fencing: Fencing = fencing or Unfenced()
        # Told after a write that put events in the outbox commits (the sequencer's nudge).
        self.on_events: Callable[[], None] = _nothing

    @property
    def timeout_seconds(self) -> float:
        """How long database work may take (DATABASE_TIMEOUT_SECONDS)."""
        return self._timeout_seconds

    def bounded(self, seconds: float | None = None) -> contextlib.AbstractAsyncContextManager[None]:
        """The whole block within `seconds` (None: this database's timeout), else
        DatabaseUnavailableError; so too when the database is away."""
        return bounded(self._timeout_seconds if seconds is None else seconds)

    def transaction(self) -> contextlib.AbstractAsyncContextManager[BaseDBAsyncClient]:
        """A transaction within this database's timeout (see `transaction`)."""
        return transaction(self._timeout_seconds)

    @contextlib.asynccontextmanager
    async def room_write(
        self, leases: Mapping[str, int], seconds: float | None = None
    ) -> AsyncIterator[BaseDBAsyncClient]:
        """A transaction that writes the state of the rooms in `leases` (room ->
        the writer's epoch). Its first statement is the fence: if any of them is
        no longer the writer's, LeaseLostError and nothing is written; otherwise
        no other node can take them until this transaction ends. Every write of a
        room's state goes through here, so a new kind of write cannot skip it; the
        two that are one statement on PostgreSQL (webhook effects, seats) carry the
        same fence in the statement instead (models/fenced.py)."""
        async with transaction(self._timeout_seconds if seconds is None else seconds) as conn:
            if leases:
                stale = await self.fencing.stale(conn, leases)
                if stale:
                    raise LeaseLostError(stale)
            yield conn

    def events_committed(self) -> None:
        """A transaction that wrote events has committed: they can be numbered."""
        self.on_events()

    def __repr__(self) -> str:
        return f"Database(timeout_seconds={self._timeout_seconds!r})"


def _nothing() -> None:
    return None


def is_unavailable(error: BaseException) -> bool:
    """Whether an error raised by database work means the database is away."""
    if isinstance(error, (DatabaseUnavailableError, *UNAVAILABLE)):
        return True
    # SQLite: another connection holds the write lock past the busy timeout.
    return isinstance(error, OperationalError) and "database is locked" in str(error)


@contextlib.asynccontextmanager
async def bounded(seconds: float) -> AsyncIterator[None]:
    """Run database work within `seconds`; DatabaseUnavailableError if they are missed
    or the database is away. Other errors (a constraint, a value a column refuses) pass."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except DatabaseUnavailableError:
        raise
    except Exception as error:
        if is_unavailable(error):
            raise DatabaseUnavailableError(f"{type(error).__name__}: {error}") from error
        raise


def connection() -> BaseDBAsyncClient:
    conn: BaseDBAsyncClient = connections.get("default")
    return conn


def columns(rows: Sequence[Sequence[object]], width: int) -> list[list[object]]:
    """Rows as one list per column (PostgreSQL's `unnest` takes one array each), so
    one statement text serves any number of rows and stays prepared."""
    return [[row[i] for row in rows] for i in range(width)]


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


@contextlib.asynccontextmanager
async def transaction(seconds: float) -> AsyncIterator[BaseDBAsyncClient]:
    """`in_transaction()` within `seconds` (as `bounded`), except that a BEGIN that
    fails gives its connection back.

    Tortoise 1.1 takes a pooled connection and then sends BEGIN, both on the
    way in: when BEGIN fails (PostgreSQL went away, or our deadline passed),
    the way out never runs, so the connection stays taken (the pool then
    never closes: shutdown hangs) and the task keeps seeing the dead
    transaction as its connection.
    """
    async with bounded(seconds):
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
    conn = getattr(client, "_connection", None)
    if pool is not None and conn is not None:
        with contextlib.suppress(Exception):
            await pool.release(conn)
    # SQLite: the one connection's transaction lock is held once the token is set
    # (without a token it may be another task's, so it is left alone).
    lock = getattr(context, "_trxlock", None)
    if token is not None and lock is not None and lock.locked():
        lock.release()
