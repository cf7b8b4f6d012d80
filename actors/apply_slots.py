"""A limit on how many rooms apply webhook events at once, that never blocks a room.

Applying holds a database connection for a transaction; with hundreds of busy
rooms, the webhook route's inserts would queue behind them. So only `limit`
rooms apply at a time. A room that finds no free slot does not wait for one
(its actor would stop serving token requests meanwhile): it goes on a waiting
list and is woken, in turn, when a slot is given back.

A slot given back while rooms wait is handed to the first of them, not freed:
otherwise a room with a fresh event would take it in the moment before the
woken room's actor runs, the woken room would go to the back of the list, and
under steady load some rooms would wait for seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# A handed slot its room has not taken after this long (its actor stopped, say)
# goes back to the pool, so a lost wake-up cannot shrink the limit for good.
HAND_OFF_SECONDS = 10.0


class ApplySlots:
    """Counts free slots; remembers, in order, the rooms that found none."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._free = limit
        self._clock = clock
        self._waiting: dict[str, None] = {}  # an ordered set
        self._handed: dict[str, float] = {}  # room -> when its slot was handed over
        # Set by the composition root: how to nudge a room's actor.
        self.wake: Callable[[str], None] = lambda room: None

    @property
    def free(self) -> int:
        return self._free

    def waiting(self) -> list[str]:
        return list(self._waiting)

    def handed(self) -> list[str]:
        """Rooms woken with a slot kept for them, which they have not taken yet."""
        return list(self._handed)

    def try_take(self, room: str) -> bool:
        """A slot for `room`, or False (and `room` is woken when one frees up)."""
        if self._handed.pop(room, None) is not None:
            return True
        if self._free == 0:
            self._reclaim_stale()
        if self._free > 0:
            self._free -= 1
            self._waiting.pop(room, None)
            return True
        self._waiting[room] = None
        return False

    def forgo(self, room: str) -> None:
        """`room` no longer needs a slot (it applied another way): leave the waiting
        list, and pass on a slot handed to it."""
        self._waiting.pop(room, None)
        if self._handed.pop(room, None) is not None:
            self.give_back()

    def give_back(self) -> None:
        while self._waiting:
            room = next(iter(self._waiting))
            del self._waiting[room]
            self._handed[room] = self._clock()
            try:
                self.wake(room)
                return
            except Exception:
                # The registry may be closing; the periodic sweep covers what
                # is missed. The slot goes to the next room instead.
                del self._handed[room]
        self._free += 1

    def _reclaim_stale(self) -> None:
        now = self._clock()
        for room, handed_at in list(self._handed.items()):
            if now - handed_at >= HAND_OFF_SECONDS:
                del self._handed[room]
                self._free += 1
