"""How the committer reaches room actors: a round's outcome, to its room's mailbox."""

from __future__ import annotations

import contextlib

from actors.room.protocol import CommitDone, RoomMessage
from actors.rounds import Committed
from actors.runtime import ActorRegistry, RegistryClosedError


class RoomPostbox:
    """Delivers the committer's results to the rooms' actors.

    Built before the registry (the committer needs it first, the registry's
    actors need the committer), and given the registry once it exists.
    """

    def __init__(self) -> None:
        self._rooms: ActorRegistry[str, RoomMessage] | None = None

    def attach(self, rooms: ActorRegistry[str, RoomMessage]) -> None:
        self._rooms = rooms

    def deliver(self, room: str, result: Committed) -> None:
        # To the room's mailbox, so the actor adopts it on its own task; past the
        # mailbox bound, since at most one round per room is ever out. At shutdown
        # it is dropped: what it wrote is committed, and the next activation
        # loads it.
        if self._rooms is None:
            raise RuntimeError("the postbox has no registry yet")
        with contextlib.suppress(RegistryClosedError):
            self._rooms.tell(room, CommitDone(result), bounded=False)
