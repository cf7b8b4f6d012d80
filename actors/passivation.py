"""Passivation: stopping actors that are idle, or that hold nothing at all.

Part of the registry (actors/runtime.py), kept apart because it is its own
rule: an actor leaves the registry synchronously, with its mailbox empty and
no message in hand, so a message a moment later activates a fresh actor
(which waits for this one's on_stop) and nothing is lost or handled twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic

from actors.actor import K, M
from actors.mailbox import Cell

# The runtime's logger: these lines are the registry's, wherever the code sits.
log = logging.getLogger("actors.runtime")


class Passivation(Generic[K, M]):
    """The registry's passivation; its state is the registry's (declared here)."""

    _cells: dict[K, Cell[K, M]]
    _stopping: dict[K, asyncio.Task[None]]
    _clock: Callable[[], float]
    _sleep: Callable[[float], Awaitable[None]]
    _closed: bool
    idle_timeout: float

    def _spawn(self, coro: Awaitable[None]) -> asyncio.Task[None]:
        raise NotImplementedError

    async def _run_hook(self, cell: Cell[K, M], hook: Awaitable[None], name: str) -> None:
        try:
            await hook
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("actor %r: %s failed", cell.key, name)

    def passivate_idle(self) -> int:
        """Stop every actor idle for `idle_timeout` that agrees to stop; returns how many.

        The removal from the registry happens synchronously, with an empty
        mailbox and no message in hand, so a message sent a moment later
        activates a fresh actor (which waits for this one's on_stop) and nothing
        is lost or handled twice.
        """
        now = self._clock()
        stopped = 0
        for key, cell in list(self._cells.items()):
            if (
                cell.drain_task is None
                and not cell.mailbox
                and now - cell.last_message_at >= self.idle_timeout
                and self._may_passivate(cell)
            ):
                del self._cells[key]
                stopped += 1
                if cell.started:
                    self._stop_later(cell)
        return stopped

    def _stop_if_pointless(self, cell: Cell[K, M]) -> None:
        """Passivate at once an actor that says it holds nothing (see `stop_when_idle`).

        Synchronous, with the mailbox empty, exactly like the idle sweep: a
        message a moment later activates a fresh actor, and nothing is lost.
        Requests for rooms that do not exist thus leave no actor behind.
        """
        if (
            self._closed
            or cell.mailbox
            or not cell.started
            or self._cells.get(cell.key) is not cell
        ):
            return
        try:
            pointless = cell.actor.stop_when_idle() and cell.actor.can_passivate()
        except Exception:
            log.exception("actor %r: stop_when_idle failed", cell.key)
            return
        if pointless:
            del self._cells[cell.key]
            self._stop_later(cell)

    def _may_passivate(self, cell: Cell[K, M]) -> bool:
        # A can_passivate that raises must not escape: it would end the sweep task,
        # so no actor would ever be passivated again (and the lifecycle's `await
        # sweeper` would raise at shutdown). Such an actor is kept, like one saying no.
        try:
            return cell.actor.can_passivate()
        except Exception:
            log.exception("actor %r: can_passivate failed", cell.key)
            return False

    def _stop_later(self, cell: Cell[K, M], after: asyncio.Task[None] | None = None) -> None:
        """Run on_stop (once `after`, the message in hand, is done); the key's next
        activation starts only when it has run."""

        async def stop() -> None:
            if after is not None:
                await asyncio.wait([after])
            await self._run_hook(cell, cell.actor.on_stop(), "on_stop")

        task = self._spawn(stop())
        self._stopping[cell.key] = task

        def forget(_: asyncio.Task[None]) -> None:
            if self._stopping.get(cell.key) is task:
                del self._stopping[cell.key]

        task.add_done_callback(forget)

    async def run_passivation(self, interval: float | None = None) -> None:
        """Sweep for idle actors forever; run it as a task, cancel it to stop."""
        period = interval if interval is not None else max(self.idle_timeout / 4, 0.01)
        while True:
            await self._sleep(period)
            self.passivate_idle()
