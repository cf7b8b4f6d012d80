"""What a wallet may do to a room: manage it only as its owner, own a bounded number.

Services may do everything; these checks apply to wallet callers only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from actors.room.protocol import RoomNotFoundError
from app.auth import current_caller, forbidden
from app.database_budget import database_work
from models import Room


async def require_room_manager(name: str) -> None:
    """A service, or the wallet that owns room `name`; else 403 (404 if there is no room)."""
    caller = current_caller()
    if caller.is_service:
        return
    async with database_work():
        owners: list[str | None] = await Room.filter(name=name).values_list(  # type: ignore[assignment]
            "owner", flat=True
        )
    if not owners:
        raise RoomNotFoundError(name)
    if owners[0] != caller.address:
        raise forbidden("Only the room's owner may do this.")


async def rooms_owned(owner: str) -> int:
    async with database_work():
        return await Room.filter(owner=owner).count()


class OwnerLocks:
    """One lock per owner while it creates a room, so counting and creating do not race.

    Ownership is per process like the room actors (one worker); locks are
    dropped when nobody holds or waits on them.
    """

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, owner: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(owner, (asyncio.Lock(), 0))
        self._locks[owner] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[owner]
            if users <= 1:
                del self._locks[owner]
            else:
                self._locks[owner] = (lock, users - 1)
