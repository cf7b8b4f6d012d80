"""An injected clock: tests move time forward instead of sleeping."""

from __future__ import annotations

import asyncio
import datetime as dt

EPOCH = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


class FakeClock:
    """Monotonic seconds and a matching UTC wall clock, advanced by hand."""

    def __init__(self, start: dt.datetime = EPOCH) -> None:
        self._start = start
        self.seconds = 1000.0

    def monotonic(self) -> float:
        return self.seconds

    def now(self) -> dt.datetime:
        return self._start + dt.timedelta(seconds=self.seconds - 1000.0)

    def advance(self, seconds: float) -> None:
        self.seconds += seconds


class ManualSleep:
    """An injected `sleep` that returns only when the test says: one `tick()` per round.

    Periodic work (the webhook sweep) then runs exactly when a test wants it,
    and `tick()` returns once that round is over (the loop is asleep again).
    """

    def __init__(self) -> None:
        self._gate: asyncio.Queue[None] = asyncio.Queue()
        self._asleep = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self._asleep.set()
        await self._gate.get()
        self._asleep.clear()

    async def tick(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self._asleep.wait(), timeout)
        self._asleep.clear()
        self._gate.put_nowait(None)
        await asyncio.wait_for(self._asleep.wait(), timeout)
