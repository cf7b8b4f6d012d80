"""What a wallet may do to a room: manage it only as its owner, own a bounded number.

Services may do everything; these checks apply to wallet callers only.
"""

from __future__ import annotations

from actors.room.protocol import ReadEntry
from app.http.auth import current_caller, forbidden
from app.http.database_budget import database_work
from app.services import services
from models.rooms import count_rooms_owned


async def require_room_manager(name: str) -> str | None:
    """A service, or the wallet that owns room `name`; else 403 (404 if there is no room).
    Returns the wallet (None: a service), for the message to the room's actor, which
    checks it again as it handles it (the room may have changed hands meanwhile).

    The owner is the room actor's: read from the entry it publishes (no query,
    no mailbox), or asked of it when its actor is not in memory.
    """
    caller = current_caller()
    if caller.is_service:
        return None
    app_services = services()
    entry = app_services.directory.get(name)
    if entry is None:
        entry = await app_services.rooms.ask(name, ReadEntry())  # RoomNotFoundError: 404
    if entry.owner != caller.address:
        raise forbidden("Only the room's owner may do this.")
    return caller.address


async def rooms_owned(owner: str) -> int:
    async with database_work():
        return await count_rooms_owned(owner)
