"""Supervision: an actor that fails is replaced by a fresh one, or retired.

Part of the registry (actors/runtime.py), kept apart because it is its own
rule: a failing on_start, or a tell whose handler raises, swaps in a new
actor built by the factory (its state loaded anew on start); failures in a
row past `max_restarts` retire the key, failing every ask still queued for
it, and its next message activates it afresh. An ask's failure belongs to
the asker: the actor carries on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Generic

from actors.actor import Actor, ActorDeadError, K, M
from actors.mailbox import Cell, Envelope

# The runtime's logger: these lines are the registry's, wherever the code sits.
log = logging.getLogger("actors.runtime")


class Supervision(Generic[K, M]):
    """The registry's restarts; its state is the registry's (declared here)."""

    _cells: dict[K, Cell[K, M]]
    _factory: Callable[[K], Actor[K, M]]
    _max_restarts: int
    total_restarts: int

    if TYPE_CHECKING:  # the registry's, from Passivation

        async def _run_hook(self, cell: Cell[K, M], hook: Awaitable[None], name: str) -> None:
            raise NotImplementedError

    async def _start(self, cell: Cell[K, M]) -> bool:
        """Run on_start, replacing the actor while it fails; False once it is retired."""
        if cell.predecessor is not None:
            await asyncio.wait([cell.predecessor])
            cell.predecessor = None
        while True:
            try:
                await cell.actor.on_start()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.exception("actor %r failed to start", cell.key)
                if not await self._replace(cell, error):
                    return False
                continue
            cell.started = True
            return True

    async def _fail(self, cell: Cell[K, M], envelope: Envelope, error: Exception) -> None:
        if envelope.reply is not None:
            # An ask's failure belongs to the asker; the actor carries on.
            if not envelope.reply.done():
                envelope.reply.set_exception(error)
            return
        log.error(
            "actor %r failed on %s", cell.key, type(envelope.message).__name__, exc_info=error
        )
        if await self._replace(cell, error):
            await self._start(cell)

    async def _replace(self, cell: Cell[K, M], error: Exception) -> bool:
        """Swap in a fresh actor (started later, state loaded anew); False past the limit."""
        await self._run_hook(cell, cell.actor.on_failure(error), "on_failure")
        if cell.started:
            await self._run_hook(cell, cell.actor.on_stop(), "on_stop")
        cell.restarts += 1
        cell.failures_in_a_row += 1
        self.total_restarts += 1
        if cell.failures_in_a_row > self._max_restarts:
            log.error("actor %r passed its restart limit; stopping it", cell.key)
            self._retire(cell, ActorDeadError(f"actor {cell.key!r} failed too often"))
            return False
        cell.actor = self._factory(cell.key)
        cell.started = False
        return True

    def _retire(self, cell: Cell[K, M], error: Exception) -> None:
        """Remove the cell and fail everything still queued for it."""
        if self._cells.get(cell.key) is cell:
            del self._cells[cell.key]
        while cell.mailbox:
            envelope = cell.mailbox.popleft()
            if envelope.reply is not None and not envelope.reply.done():
                envelope.reply.set_exception(error)
