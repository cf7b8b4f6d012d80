"""Work queued during one turn of the event loop, run as one batch.

The scheduling shared by the webhook inbox's inserts (app/inbox_writer.py),
the seats' upserts (actors/seat_writer.py) and the committer's rounds
(actors/committer.py): items added while the loop runs its current turn wait
for the next one and go together,
at most `max_batch` per batch and `max_in_flight` batches at once; what comes
while every batch is out waits for the next free one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class TurnBatches(Generic[T]):
    """Runs `run(batch)` for what was added, batch by batch."""

    def __init__(
        self,
        run: Callable[[list[T]], Awaitable[None]],
        *,
        max_in_flight: int,
        max_batch: int,
    ) -> None:
        self._run = run
        self._max_in_flight = max_in_flight
        self._max_batch = max_batch
        self._queue: list[T] = []
        self._in_flight = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    def add(self, item: T) -> None:
        self._queue.append(item)
        if not self._scheduled and self._in_flight < self._max_in_flight:
            self._launch()

    async def close(self, grace_seconds: float | None = None) -> None:
        """Wait for the batches in flight (at shutdown, before the database closes);
        past `grace_seconds` they are cancelled."""
        loop = asyncio.get_running_loop()
        deadline = None if grace_seconds is None else loop.time() + grace_seconds
        while self._tasks:
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            _, late = await asyncio.wait(list(self._tasks), timeout=timeout)
            if late and deadline is not None and loop.time() >= deadline:
                for task in late:
                    task.cancel()
                await asyncio.wait(late)
                self._queue.clear()

    def _launch(self) -> None:
        # A batch's task now: its first step runs on the loop's next turn, after
        # whatever this turn adds, which it takes. (A call_soon that then started
        # the task cost every batch a second turn of the loop; under load a turn is
        # milliseconds, and every webhook waits for three of these batches.)
        self._scheduled = True
        self._in_flight += 1
        task = asyncio.ensure_future(self._run_one())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_one(self) -> None:
        try:
            # What was added until now is this batch; from here, adds start the next.
            self._scheduled = False
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            if self._queue and self._in_flight < self._max_in_flight:
                self._launch()  # more than one batch's worth came in that turn
            await self._run(batch)
        finally:
            self._in_flight -= 1
            if self._queue and not self._scheduled and self._in_flight < self._max_in_flight:
                self._launch()
