"""Shutdown: stop accepting, drain what is queued, then stop every actor.

Part of the registry (actors/runtime.py), kept apart because it is its own
step, the last: mailboxes get a bounded time to drain, what is left is failed,
and every started actor's on_stop runs (bounded too), so nothing of the
registry outlives it and the caller may close the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Generic

from actors.actor import ActorDeadError, K, M
from actors.mailbox import Cell


class Shutdown(Generic[K, M]):
    """The registry's shutdown; its state is the registry's (declared here)."""

    _cells: dict[K, Cell[K, M]]
    _tasks: set[asyncio.Task[Any]]
    _closed: bool

    if TYPE_CHECKING:  # the registry's, from Supervision and Passivation

        def _retire(self, cell: Cell[K, M], error: Exception) -> None:
            raise NotImplementedError

        def _spawn(self, coro: Awaitable[None]) -> asyncio.Task[None]:
            raise NotImplementedError

        async def _run_hook(self, cell: Cell[K, M], hook: Awaitable[None], name: str) -> None:
            raise NotImplementedError

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Stop accepting, drain mailboxes within `timeout`, fail the rest, stop every actor.

        on_stop hooks get another `timeout`, then are cancelled. Returns only when
        no actor task is left, so the caller may close the database.
        """
        self._closed = True
        draining = [c.drain_task for c in self._cells.values() if c.drain_task is not None]
        if draining:
            _, pending = await asyncio.wait(draining, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        cells = list(self._cells.values())
        for cell in cells:
            self._retire(cell, ActorDeadError(f"actor {cell.key!r} stopped at shutdown"))
        for cell in cells:
            if cell.started:
                self._spawn(self._run_hook(cell, cell.actor.on_stop(), "on_stop"))
        # The on_stop hooks (these, and passivations' still running) get `timeout`
        # too, then are cancelled: a stuck on_stop must neither hang shutdown
        # forever nor outlive it, since the caller closes the database next.
        if self._tasks:
            _, late = await asyncio.wait(list(self._tasks), timeout=timeout)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
