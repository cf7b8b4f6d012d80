"""This process as a node of the cluster: joining at start-up, leaving at shutdown.

On PostgreSQL a node beats and renews its leases (app/cluster/leases.py),
listens for notices (app/cluster/notices.py) and reaches the other nodes
through its forwarder. On SQLite it is the only process of its database,
which a lock file beside the database ensures (app/cluster/sqlite_lock.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app.cluster.notices import ROOMS, SIGNOUT, Listener, notify
from app.cluster.sqlite_lock import SqliteLock
from app.events.sequencer import EVENTS_CHANNEL
from app.services import Services

log = logging.getLogger(__name__)

# How long start-up waits for the notice connection before serving anyway
# (notices are hints: the sweep catches up without them).
LISTEN_WAIT_SECONDS = 2.0
# Sessions ended on another node are dropped within this (plus one check's time),
# even when its notice was lost: DESIGN.md section 6 asks for 5 s.
SIGNOUT_CHECK_SECONDS = 3.0
_SQLITE_LOCK = "qari_sqlite_lock"


def lock_sqlite(services: Services, extensions: dict[str, object]) -> None:
    """SQLite: take the database's lock file, or SqliteInUseError naming its holder."""
    path = services.settings.sqlite_path()
    if path is None:
        return
    lock = SqliteLock(path)
    lock.acquire()
    extensions[_SQLITE_LOCK] = lock


def unlock_sqlite(extensions: dict[str, object]) -> None:
    lock = extensions.pop(_SQLITE_LOCK, None)
    if isinstance(lock, SqliteLock):
        lock.release()


async def start_node(services: Services) -> list[asyncio.Task[None]]:
    """Join the cluster (PostgreSQL): the first heartbeat before serving, then the
    tasks that keep the leases and listen for notices."""
    leases = services.leases
    if leases is None:
        return []
    await leases.renew()  # the nodes row the others forward by
    sessions = services.wallet_sessions

    async def signed_out(digest: str) -> None:
        await notify(SIGNOUT, digest)

    sessions.ended = signed_out
    listener = Listener(
        services.settings.database_url,
        {
            ROOMS: services.waker.on_notice,
            SIGNOUT: sessions.forget,
            EVENTS_CHANNEL: services.events.on_notice,
        },
    )
    leases.start()  # stopped by leave_cluster, after the actors have drained
    tasks = [
        asyncio.create_task(listener.run_forever(), name="qari-notices"),
        asyncio.create_task(_drop_ended_sessions(services), name="qari-signouts"),
    ]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(listener.connected.wait(), LISTEN_WAIT_SECONDS)
    if services.forwarder is not None:
        await services.forwarder.open()
    log.info("node %s joined the cluster at %s", leases.node_id, services.settings.this_node_url)
    return tasks


async def _drop_ended_sessions(services: Services) -> None:
    """Forever: drop cached wallet sessions that ended on another node."""
    while True:
        await asyncio.sleep(SIGNOUT_CHECK_SECONDS)
        try:
            await services.wallet_sessions.drop_ended()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("checking cached wallet sessions failed (%s)", type(error).__name__)


async def leave_cluster(services: Services, seconds: float) -> None:
    """At shutdown, once the room actors have stopped: leases lapse now (another
    node takes the rooms at once), and the forwarder closes."""
    if services.leases is not None:
        await services.leases.release_all(seconds)
    if services.forwarder is not None:
        await services.forwarder.close()
