"""Wake-ups between nodes with PostgreSQL's LISTEN/NOTIFY.

Two channels: `qari_rooms` (a room has stored webhook events: its owner
applies them) and `qari_signout` (a wallet session ended: every node drops it
from memory). A notice is a hint, never the only way: a lost one (the
listening connection dropped, a node restarting) is caught up by the periodic
webhook sweep (WEBHOOK_SWEEP_SECONDS) and by sessions' own expiry checks.
The listener holds one connection of its own, outside the pool, and reconnects
with a back-off while the database is away.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable

import asyncpg

from models.db import connection

log = logging.getLogger(__name__)

ROOMS = "qari_rooms"
SIGNOUT = "qari_signout"
RECONNECT_SECONDS = (0.2, 0.5, 1.0, 2.0)
CONNECT_TIMEOUT_SECONDS = 5.0
PING_SECONDS = 5.0


async def notify(channel: str, payload: str) -> None:
    """Send a notice (through the pool; its caller bounds the wait)."""
    await connection().execute_query("SELECT pg_notify($1, $2)", [channel, payload])


class Listener:
    """Calls `handlers[channel](payload)` for each notice, for as long as it runs."""

    def __init__(self, database_url: str, handlers: dict[str, Callable[[str], None]]) -> None:
        # Tortoise's options (`?minsize=`...) are not libpq's.
        self._dsn = database_url.split("?", 1)[0]
        self._handlers = handlers
        self.connected = asyncio.Event()

    def _on_notice(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        handler = self._handlers.get(channel)
        if handler is None:
            return
        try:
            handler(payload)
        except Exception:
            log.exception("handling a %s notice failed", channel)

    async def run_forever(self) -> None:
        failures = 0
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT_SECONDS)
                lost = asyncio.Event()
                conn.add_termination_listener(functools.partial(_set, lost))
                for channel in self._handlers:
                    await conn.add_listener(channel, self._on_notice)
                failures = 0
                self.connected.set()
                while not lost.is_set():
                    # A connection whose peer went silent never says it closed: ask.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), PING_SECONDS)
                        break
                    await asyncio.wait_for(conn.execute("SELECT 1"), PING_SECONDS)
                log.warning("the notice connection to the database closed; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if failures == 0:
                    log.warning("cannot listen for notices (%s); retrying", type(error).__name__)
            finally:
                self.connected.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 1.0)
            await asyncio.sleep(RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)])
            failures += 1


def _set(event: asyncio.Event, _conn: object) -> None:
    event.set()
