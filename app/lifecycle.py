"""One place owns start-up and shutdown order.

Start: database, LiveKit client, room registry (with its passivation sweep),
then crash recovery of stored-but-unapplied webhooks. Stop in reverse: stop
accepting and drain every room actor, then close LiveKit, then the database,
so no actor ever writes to a closed connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator

from quart import Quart

from actors.room_protocol import EventsStored
from app.database import close_database, open_database
from app.services import Services
from models import WebhookInbox

log = logging.getLogger(__name__)


async def recover_pending_webhooks(services: Services) -> int:
    """Wake the actor of every room with stored events not yet applied."""
    names = (
        await WebhookInbox.filter(
            processed_at=None, attempts__lt=services.settings.webhook_max_attempts
        )
        .exclude(room_name=None)
        .distinct()
        .values_list("room_name", flat=True)
    )
    for name in names:
        services.rooms.tell(str(name), EventsStored())
    return len(names)


def install_lifecycle(app: Quart, services: Services) -> None:
    @app.while_serving
    async def lifespan() -> AsyncGenerator[None, None]:
        settings = services.settings
        await open_database(settings)
        services.database_open = True
        sweeper: asyncio.Task[None] | None = None
        try:
            await services.gateway.open()
            sweeper = asyncio.create_task(services.rooms.run_passivation())
            recovered = await recover_pending_webhooks(services)
            if recovered:
                log.info("recovering stored webhooks for %d room(s)", recovered)
            yield
        finally:
            # Also runs when start-up fails half-way, so nothing is left open.
            if sweeper is not None:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
            await services.rooms.shutdown(settings.shutdown_drain_seconds)
            await services.gateway.close()
            services.database_open = False
            await close_database()
