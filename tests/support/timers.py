"""Timers many tasks wait on at once (every room's own), fired when a test says."""

from __future__ import annotations

import asyncio


class ManualTimers:
    """An injected `sleep` for any number of sleepers: each waits until `fire()`.

    Unlike ManualSleep (one periodic loop), every room's timer sleeps on this one,
    so `fire()` ends every wait under way: each room's period is over at once.
    """

    def __init__(self) -> None:
        self._waiting: set[asyncio.Future[None]] = set()
        self._arrived = asyncio.Condition()
        # Every wait asked for, in order (what a timer chose to sleep).
        self.asked: list[float] = []

    @property
    def sleepers(self) -> int:
        return len(self._waiting)

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.add(waiter)
        async with self._arrived:
            self._arrived.notify_all()
        try:
            await waiter
        finally:
            self._waiting.discard(waiter)

    async def fire(self, at_least: int = 1, timeout: float = 5.0) -> int:
        """End the waits under way, once `at_least` timers wait; how many were ended."""
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self._waiting) >= at_least), timeout
            )
        fired = [w for w in self._waiting if not w.done()]
        for waiter in fired:
            waiter.set_result(None)
        return len(fired)
