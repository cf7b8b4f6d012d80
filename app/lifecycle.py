"""One place owns start-up and shutdown order.

Start: database (and, on PostgreSQL, a check that it is migrated), LiveKit
and chain clients, room registry (with its passivation sweep), then crash
recovery of stored-but-unapplied webhooks and the periodic tasks (webhook
sweep, payload retention, the re-check of gated rooms). Stop in reverse: stop
accepting and drain every room actor, then close LiveKit and the chains, then
the database, so no actor ever writes to a closed connection.

Shutdown is bounded, also while a lock stalls every statement: it ends within
SHUTDOWN_DRAIN_SECONDS + DATABASE_TIMEOUT_SECONDS of the signal. The mailboxes
drain until SHUTDOWN_DRAIN_SECONDS after it (requests still in flight count:
they are bounded by the database timeout, and the actors serve them
meanwhile); the database work still out (inserts, seat writes, applies) then
gets the rest, after which it is cancelled, and the pool is closed (or
dropped) in a last slice. Nothing durable is lost by a cut: what was not
committed was not acknowledged, and stored events are applied at the next
start.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
from collections.abc import AsyncGenerator

from quart import Quart

from actors.room.protocol import (
    AccessConfirmed,
    ReadVaults,
    RevokeAccess,
    RoomNotFoundError,
)
from actors.runtime import MailboxFullError, RegistryClosedError
from app.chain.recheck import RecheckPorts, recheck_forever
from app.cluster.node import leave_cluster, lock_sqlite, start_node, unlock_sqlite
from app.cluster.sqlite_lock import SqliteInUseError
from app.collector import ServingCollector
from app.database import DATABASE_UNAVAILABLE, close_database, open_database
from app.events.service import start_tasks as start_events
from app.schema_check import SchemaNotCurrentError, check_schema
from app.services import Services
from models.access import Condition
from models.db import is_unavailable
from models.webhook_inbox import rooms_with_pending
from models.webhook_inbox_ops import blank_payloads_processed_before

log = logging.getLogger(__name__)

# How often processed payloads past WEBHOOK_RETENTION_DAYS are blanked, and how
# many rows one statement blanks (a first run over a large inbox stays in steps).
RETENTION_INTERVAL_SECONDS = 3600.0
RETENTION_BATCH = 5000
# The slice of DATABASE_TIMEOUT_SECONDS kept at shutdown for closing the pool
# (and dropping connections that do not close), at most this long.
CLOSE_RESERVE_SECONDS = 0.5
_SHUTDOWN_REQUESTED_AT = "qari_shutdown_requested_at"


class StartupError(Exception):
    """Start-up cannot go on; the message is one line saying why and what to do."""


async def prune_webhook_payloads(services: Services) -> int:
    """Blank the payloads of events processed more than WEBHOOK_RETENTION_DAYS ago.

    The rows stay, with their event ids, so a late retry of an old event is
    still recognised as a duplicate; only the payload (most of a row) goes.
    Events not processed (pending, or kept after failing) keep theirs for ops.
    """
    cutoff = services.now() - dt.timedelta(days=services.settings.webhook_retention_days)
    pruned = 0
    while True:
        # Each step within DATABASE_TIMEOUT_SECONDS: a stalled database stops the
        # run (tried again in an hour) instead of holding a connection.
        blanked = await blank_payloads_processed_before(services.database, cutoff, RETENTION_BATCH)
        if not blanked:
            return pruned
        pruned += blanked


async def retain_webhook_payloads(services: Services) -> None:
    """Forever: prune now, then every RETENTION_INTERVAL_SECONDS."""
    while True:
        try:
            pruned = await prune_webhook_payloads(services)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning(
                "webhook payload pruning failed; next try in an hour",
                exc_info=not is_unavailable(error),  # an outage needs no traceback
            )
        else:
            if pruned:
                log.info("blanked %d processed webhook payload(s) past retention", pruned)
        await asyncio.sleep(RETENTION_INTERVAL_SECONDS)


def _warn_without_api_keys(services: Services) -> None:
    if not services.settings.api_keys:
        log.warning(
            "APP_API_KEYS is empty: every protected /v1 route and /metrics answers 401 to"
            " everyone. Set APP_API_KEYS to one or more comma-separated keys"
            " (`make run` generates one into .env)."
        )


async def _open_checked_database(services: Services) -> None:
    """Open the database; a failure becomes one line for people (StartupError)."""
    settings = services.settings
    try:
        await open_database(settings)
        if not settings.is_sqlite:
            await check_schema()
    except SchemaNotCurrentError as error:
        raise StartupError(str(error)) from None
    except DATABASE_UNAVAILABLE as error:
        raise StartupError(
            f"cannot reach the database of DATABASE_URL ({type(error).__name__}: {error});"
            " check that it is running and that the URL is right"
        ) from None


async def recover_pending_webhooks(services: Services) -> int:
    """Wake the actor of every room with stored events not yet applied.

    Run at start-up (crash recovery) and then periodically: an event whose
    apply failed or was cut short (database away, actor retired) is retried
    without waiting for its room's next webhook.
    """
    async with services.database.bounded():
        names = await rooms_with_pending(services.settings.webhook_max_attempts)
    # And rooms whose last write timed out: their next round reads their presence again.
    rooms = list(dict.fromkeys(names + services.committer.uncertain_rooms()))
    for room in rooms:
        # With several nodes, only rooms this node owns or may take (a room another
        # node owns is that node's to sweep).
        await services.waker.sweep(room)
    return len(rooms)


async def sweep_pending_webhooks(services: Services) -> None:
    """Forever: every WEBHOOK_SWEEP_SECONDS, wake rooms with events still pending."""
    while True:
        await services.sleep(services.settings.webhook_sweep_seconds)
        try:
            await recover_pending_webhooks(services)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning(
                "webhook sweep failed (%s); next one in %ss",
                type(error).__name__,
                services.settings.webhook_sweep_seconds,
                exc_info=not is_unavailable(error),  # an outage needs no traceback
            )


async def revoke_access(services: Services, room: str, identity: str, reason: str) -> None:
    """The re-check's no: through the room's actor, which revokes the identity's
    grant (its tokens stop admitting it), frees its seat and removes it."""
    with contextlib.suppress(RoomNotFoundError):  # deleted meanwhile: its grants went too
        await services.rooms.ask(room, RevokeAccess(identity, reason=reason))


async def read_vaults(services: Services, room: str) -> dict[str, str | None]:
    """The vault each identity in `room` was admitted through, from its actor."""
    try:
        return await services.rooms.ask(room, ReadVaults())
    except RoomNotFoundError:
        return {}


def confirm_access(
    services: Services,
    room: str,
    identity: str,
    vault: str | None,
    ends_at: int | None,
    condition: Condition,
) -> None:
    """The re-check's yes, to the room's actor: the vault and key end to follow now
    (under `condition`, which the actor still holds, or the yes is stale)."""
    with contextlib.suppress(MailboxFullError, RegistryClosedError):
        services.rooms.tell(room, AccessConfirmed(identity, vault, ends_at, condition))


def recheck_ports(services: Services) -> RecheckPorts:
    return RecheckPorts(
        remove=functools.partial(revoke_access, services),
        vaults=functools.partial(read_vaults, services),
        confirm=functools.partial(confirm_access, services),
    )


def note_shutdown_requested(app: Quart) -> None:
    """At SIGTERM / SIGINT (`python -m app`): shutdown's deadline counts from now,
    not from when Hypercorn, its requests in flight answered, runs the lifespan's end."""
    app.extensions[_SHUTDOWN_REQUESTED_AT] = asyncio.get_running_loop().time()
    # Live feeds never end by themselves, and Hypercorn waits for open requests
    # before the lifespan's end: they end now, and their clients resume elsewhere
    # with Last-Event-ID.
    services = app.extensions.get("qari")
    if isinstance(services, Services):
        services.events.feed.close()
        # Held lobby polls too: answered now (the ticket as it is); the client polls
        # again, and reaches the room's next owner.
        services.lobby_board.close()


async def shut_down(services: Services, requested_at: float) -> None:
    """Drain the actors, finish (or cancel) database work, close everything; within
    SHUTDOWN_DRAIN_SECONDS + DATABASE_TIMEOUT_SECONDS of `requested_at` (loop time)."""
    settings = services.settings
    loop = asyncio.get_running_loop()
    drain_until = requested_at + settings.shutdown_drain_seconds
    done_by = drain_until + settings.database_timeout_seconds
    close_reserve = min(CLOSE_RESERVE_SECONDS, settings.database_timeout_seconds / 4)

    def left(until: float) -> float:
        return max(0.0, until - loop.time())

    await services.rooms.shutdown(left(drain_until))
    # Inserts and seat writes in flight, and what the drained actors handed on,
    # committed before the database closes; cut short at the deadline.
    writes_by = done_by - close_reserve
    await asyncio.gather(
        services.inbox.close(left(writes_by)),
        services.seat_writer.close(left(writes_by)),
        services.committer.close(left(writes_by)),
        services.events.close(left(writes_by)),
    )
    # Every room's actor has stopped: their leases lapse now, so other nodes
    # serve them at once.
    await leave_cluster(services, left(writes_by))
    await services.gateway.close()
    await services.chain.close()
    services.database_open = False
    await close_database(left(done_by))
    # Ops (and the stall test) see the bound kept, measured inside the process
    # from the signal: what comes after (Hypercorn's and the interpreter's
    # teardown) is not the app's, and on a busy machine can take as long again.
    log.info(
        "shutdown took %.2f s (bound %.2f s)",
        loop.time() - requested_at,
        done_by - requested_at,
    )


def install_lifecycle(app: Quart, services: Services) -> None:
    @app.while_serving
    async def lifespan() -> AsyncGenerator[None, None]:
        settings = services.settings
        _warn_without_api_keys(services)
        sweepers: list[asyncio.Task[None]] = []
        collector = ServingCollector()
        try:
            try:
                try:
                    lock_sqlite(services, app.extensions)
                except SqliteInUseError as error:
                    raise StartupError(str(error)) from None
                await _open_checked_database(services)
            except StartupError as error:
                # Said once, in one line; the app does not log it again with a traceback.
                log.error("start-up failed: %s", error)
                raise
            services.database_open = True
            sweepers += await start_node(services)
            await services.gateway.open()
            await services.chain.open()
            # Start-up's objects frozen, and the collector's thresholds for serving.
            collector.start()
            sweepers.append(asyncio.create_task(services.rooms.run_passivation()))
            recovered = await recover_pending_webhooks(services)
            if recovered:
                log.info("recovering stored webhooks for %d room(s)", recovered)
            sweepers.append(asyncio.create_task(sweep_pending_webhooks(services)))
            sweepers.append(asyncio.create_task(retain_webhook_payloads(services)))
            sweepers += start_events(services.events)
            if services.gateway.configured:
                # Without LiveKit nobody can be removed, so there is nothing to re-check for.
                sweepers.append(
                    asyncio.create_task(
                        recheck_forever(
                            services.database,
                            services.access,
                            recheck_ports(services),
                            settings.gating_recheck_seconds,
                            services.gating_sleep or services.sleep,
                            services.waker.serves,
                        )
                    )
                )
            yield
        finally:
            # Also runs when start-up fails half-way, so nothing is left open.
            for sweeper in sweepers:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
            try:
                requested_at = app.extensions.get(_SHUTDOWN_REQUESTED_AT)
                await shut_down(services, requested_at or asyncio.get_running_loop().time())
            finally:
                try:
                    unlock_sqlite(app.extensions)
                finally:
                    collector.stop()
