"""Telling a room's owner that its room has stored webhook events to apply.

Whichever node receives a webhook stores it (the inbox is shared) and answers
LiveKit at once; the room's owner applies it. This node wakes its own actor
when it owns the room, or takes a room nobody owns (so a room's first event
does not wait for the sweep); a room another node owns gets a notice on
`qari_rooms`, which that node's listener turns into a wake-up of its actor.
"""

from __future__ import annotations

import asyncio
import logging

from actors.actor import ActorError
from actors.room.ownership import Holder, Ownership
from actors.room.protocol import EventsStored, RoomMessage
from actors.runtime import ActorRegistry
from app.cluster.notices import ROOMS, notify
from app.cluster.routing import HolderCache
from models.db import Database, is_unavailable

log = logging.getLogger(__name__)


class RoomWaker:
    def __init__(
        self,
        rooms: ActorRegistry[str, RoomMessage],
        ownership: Ownership,
        holders: HolderCache,
        database: Database,
    ) -> None:
        self._rooms = rooms
        self._ownership = ownership
        self._holders = holders
        self._database = database
        self._tasks: set[asyncio.Future[None]] = set()
        # Rooms with a wake-up under way -> whether events were stored since it began
        # (a burst of one room's webhooks costs one notice at a time, not one each).
        self._waking: dict[str, bool] = {}

    def tell(self, room: str) -> None:
        """Wake this node's actor of `room` (it applies what is stored)."""
        try:
            self._rooms.tell(room, EventsStored(), coalesce=True)
        except ActorError:
            # Stored is what was promised: the sweep finds it.
            log.warning("room %r busy; its stored events will be applied later", room)

    def stored(self, room: str) -> None:
        """Events of `room` were stored here: wake its owner. Never waits: the ack
        goes out at once, whatever the owner (or the database's lock on its lease)
        is doing; what cannot be done now the sweep does."""
        # On SQLite (one node) every room is this node's: `current` always answers.
        if self._ownership.current(room) is not None:
            self.tell(room)
            return
        if room in self._waking:
            self._waking[room] = True  # the wake-up under way goes round once more
            return
        self._waking[room] = False
        task = asyncio.ensure_future(self._wake_until_quiet(room))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _wake_until_quiet(self, room: str) -> None:
        try:
            while True:
                await self._wake_owner(room)
                if not self._waking[room]:
                    return
                self._waking[room] = False
        finally:
            del self._waking[room]

    async def _wake_owner(self, room: str) -> None:
        try:
            holder = self._holders.get(room)
            if holder is None:
                claimed = await self._ownership.claim(room, None)
                if not isinstance(claimed, Holder):
                    self.tell(room)
                    return
                self._holders.put(room, claimed)
            async with self._database.bounded():
                await notify(ROOMS, room)
        except Exception as error:
            log.warning(
                "room %r: its owner not woken (%s); the sweep will",
                room,
                type(error).__name__,
                exc_info=not is_unavailable(error),
            )

    async def serves(self, room: str) -> bool:
        """Whether this node serves `room`, taking it if nobody does (periodic work
        per room: the gating re-check)."""
        if self._ownership.current(room) is not None:
            return True
        return not isinstance(await self._ownership.claim(room, None), Holder)

    def on_notice(self, room: str) -> None:
        """A notice from the node that stored events: wake the actor if the room is ours
        (one this node gave up is the sweep's, or the next claimant's)."""
        if self._ownership.current(room) is not None:
            self.tell(room)

    async def sweep(self, room: str) -> None:
        """The periodic sweep: a room this node owns, or may take, is woken; one that
        another node owns is left to it."""
        if await self.serves(room):
            self.tell(room)
