"""Waiting until a room has applied every webhook event stored so far."""

from __future__ import annotations

import asyncio

from actors.room.protocol import ApplyPending, RoomMessage
from actors.runtime import ActorRegistry


async def apply_pending(rooms: ActorRegistry[str, RoomMessage], room: str) -> int:
    """Ask the room to apply what is pending and wait for it; how many events were."""
    done = await rooms.ask(room, ApplyPending(), timeout=10)
    return int(await asyncio.wait_for(done, 10))
