"""Waiting until a room has applied every webhook event stored so far."""

from __future__ import annotations

import asyncio

from actors.room.protocol import EventsStored, RoomMessage
from actors.runtime import ActorRegistry


async def apply_pending(rooms: ActorRegistry[str, RoomMessage], room: str) -> int:
    """Tell the room to apply what is pending and wait for it; how many events were."""
    applied: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    rooms.tell(room, EventsStored(applied))
    return int(await asyncio.wait_for(applied, 10))
