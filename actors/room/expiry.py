"""When the Unlock keys that admitted a room's participants end: one timer per room.

A participant admitted by a membership (an Unlock key) that nothing else in
the room's condition would admit without it is removed when the key ends
(DESIGN.md section 10), within seconds, by Qari's clock. The room's actor keeps
here who ends when; a task sleeps until the earliest and then tells the actor
`KeysEnded` (coalesced: the actor removes everyone due). Not a poll: the task
sleeps until the next end, and is started again when an earlier one is added.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable

# When the actor's mailbox dropped the nudge (full), try again after this long.
RETRY_SECONDS = 1.0


class KeyEnds:
    """Identity -> the unix second its admitting key ends, and the timer for the earliest."""

    def __init__(
        self,
        now: Callable[[], dt.datetime],
        sleep: Callable[[float], Awaitable[None]],
        due: Callable[[], None],
    ) -> None:
        self._now = now
        self._sleep = sleep
        self._due = due
        self._ends: dict[str, int] = {}
        self._timer: asyncio.Task[None] | None = None
        self._armed_for: int | None = None

    def get(self, identity: str) -> int | None:
        return self._ends.get(identity)

    def set(self, identity: str, ends_at: int | None) -> None:
        """The key that admits `identity` ends at `ends_at` (None: nothing ends it)."""
        if ends_at is None:
            self._ends.pop(identity, None)
            return
        self._ends[identity] = ends_at
        if self._armed_for is None or ends_at < self._armed_for:
            self._arm()

    def drop(self, identity: str) -> None:
        self._ends.pop(identity, None)

    def take_due(self) -> list[str]:
        """Who is due now (their entries are removed); the timer is armed for the next."""
        now = self._now().timestamp()
        due = [identity for identity, at in self._ends.items() if at <= now]
        for identity in due:
            del self._ends[identity]
        self._arm()
        return due

    def clear(self) -> None:
        self._ends.clear()
        self.cancel()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._armed_for = None

    def _arm(self) -> None:
        self.cancel()
        if self._ends:
            self._armed_for = min(self._ends.values())
            self._timer = asyncio.get_running_loop().create_task(self._wait(self._armed_for))

    async def _wait(self, at: int) -> None:
        while True:
            left = at - self._now().timestamp()
            if left > 0:
                await self._sleep(left)
                continue
            self._due()
            # The actor takes what is due and arms the next timer (cancelling this
            # one); if its mailbox dropped the nudge, tell it again.
            await self._sleep(RETRY_SECONDS)
