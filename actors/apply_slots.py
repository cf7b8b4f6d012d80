"""A limit on how many rooms apply webhook events at once, that never blocks a room.

Applying holds a database connection for a transaction; with hundreds of busy
rooms, the webhook route's inserts would queue behind them. So only `limit`
rooms apply at a time. A room that finds no free slot does not wait for one
(its actor would stop serving token requests meanwhile): it goes on a waiting
list and is woken, in turn, when a slot is given back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable


class ApplySlots:
    """Counts free slots; remembers, in order, the rooms that found none."""

    def __init__(self, limit: int) -> None:
        self._free = limit
        self._waiting: dict[str, None] = {}  # an ordered set
        # Set by the composition root: how to nudge a room's actor.
        self.wake: Callable[[str], None] = lambda room: None

    @property
    def free(self) -> int:
        return self._free

    def waiting(self) -> list[str]:
        return list(self._waiting)

    def try_take(self, room: str) -> bool:
        """A slot for `room`, or False (and `room` is woken when one frees up)."""
        if self._free > 0:
            self._free -= 1
            self._waiting.pop(room, None)
            return True
        self._waiting[room] = None
        return False

    def give_back(self) -> None:
        self._free += 1
        if self._waiting:
            room = next(iter(self._waiting))
            del self._waiting[room]
            # The registry may be closing; the periodic sweep covers what is missed.
            with contextlib.suppress(Exception):
                self.wake(room)
