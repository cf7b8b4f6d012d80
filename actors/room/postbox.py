"""How the committer reaches room actors: a round's outcome, to its room's mailbox."""

from __future__ import annotations

import contextlib
import logging

from actors.room.protocol import CommitDone, RoomMessage
from actors.rounds import Committed
from actors.runtime import ActorRegistry, MailboxFullError, RegistryClosedError

log = logging.getLogger(__name__)


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

    def nudge(self, room: str, message: RoomMessage) -> None:
        """A nudge a room's own work sends it (its reconciliation timer, events its
        reconciliation stored): coalesced, so one waiting is enough, and so accepted
        past the mailbox bound (actors/mailbox.py): a busy room still gets it.
        Shutdown drops it."""
        if self._rooms is None:
            raise RuntimeError("the postbox has no registry yet")
        try:
            self._rooms.tell(room, message, coalesce=True)
        except MailboxFullError:
            log.warning("room %r busy: %s not delivered", room, type(message).__name__)
        except RegistryClosedError:
            pass
