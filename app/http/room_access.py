"""What a wallet may do to a room: manage it only as its owner, own a bounded number.

Services may do everything; these checks apply to wallet callers only.
"""

from __future__ import annotations

from actors.room.protocol import ReadEntry
from app.http.auth import current_caller, forbidden
from app.http.database_budget import database_work
from app.services import services
from models.rooms import count_rooms_owned


def acting_manager() -> str | None:
    """The wallet a message to a room's actor acts for (None: a service). The actor
    checks that it owns the room when it handles the message, from its own memory,
    so routes that ask the actor need no check of their own."""
    return current_caller().address


async def require_room_manager(name: str) -> None:
    """For routes that read the room without asking its actor (its history): a
    service, or the wallet that owns room `name`; else 403 (404 if there is no room).

    The owner is the room actor's: read from the entry it publishes (no query,
    no mailbox), or asked of it when its actor is not in memory.
    """
    caller = current_caller()
    if caller.is_service:
        return
    app_services = services()
    entry = app_services.directory.get(name)
    if entry is None:
        entry = await app_services.rooms.ask(name, ReadEntry())  # RoomNotFoundError: 404
    if entry.owner != caller.address:
        raise forbidden("Only the room's owner may do this.")


async def rooms_owned(owner: str) -> int:
    async with database_work():
        return await count_rooms_owned(owner)
