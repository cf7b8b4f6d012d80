"""A small asyncio actor runtime: virtual actors keyed by id.

Each actor handles one message at a time, so its state needs no locks. Actors
are activated on their first message, passivated when idle (if they agree),
restarted from scratch after an unexpected failure, and drained on shutdown.

Idle actors cost no task: a drain task runs only while a mailbox has messages,
so ten thousand idle rooms are ten thousand small objects, not coroutines.
Do not `ask` one actor from inside another's handler and back again: two
actors waiting on each other deadlock until the ask timeout.

The registry's rules each have their module: supervision.py (restarts),
passivation.py (stopping idle actors), shutdown.py (the last drain).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from actors.actor import (  # re-exported: the runtime's public names
    Actor,
    ActorDeadError,
    ActorError,
    ActorInfo,
    Ask,
    AskBudgetSpentError,
    AskTimeoutError,
    K,
    M,
    MailboxFullError,
    R,
    RegistryClosedError,
)
from actors.mailbox import Cell, Envelope
from actors.passivation import Passivation
from actors.shutdown import Shutdown
from actors.supervision import Supervision

__all__ = [
    "Actor",
    "ActorDeadError",
    "ActorError",
    "ActorInfo",
    "ActorRegistry",
    "Ask",
    "AskBudgetSpentError",
    "AskTimeoutError",
    "MailboxFullError",
    "RegistryClosedError",
]


class ActorRegistry(Supervision[K, M], Shutdown[K, M], Passivation[K, M]):
    """Owns every actor of one kind, keyed by id; the only way to reach them.

    `factory(key)` builds a fresh actor. `clock` and `sleep` are injectable so
    tests drive passivation exactly, without real waiting.
    """

    def __init__(
        self,
        factory: Callable[[K], Actor[K, M]],
        *,
        mailbox_size: int = 1024,
        idle_timeout: float = 60.0,
        ask_timeout: float = 10.0,
        ask_budget: Callable[[], float] | None = None,
        max_restarts: int = 3,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._factory = factory
        self._mailbox_size = mailbox_size
        self.idle_timeout = idle_timeout
        self._ask_timeout = ask_timeout
        # What is left of the asker's own budget (a request's, from its arrival):
        # an ask without a timeout waits at most the smaller of the two.
        self._ask_budget = ask_budget
        self._max_restarts = max_restarts
        self._clock = clock
        self._sleep = sleep
        self._cells: dict[K, Cell[K, M]] = {}
        # A stopping actor's on_stop must finish before its key's next activation starts.
        self._stopping: dict[K, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self.total_restarts = 0
        self.total_activations = 0

    # -- sending ---------------------------------------------------------------

    def tell(self, key: K, message: M, *, coalesce: bool = False, bounded: bool = True) -> None:
        """Send without waiting for a reply. Raises MailboxFullError or RegistryClosedError.

        With `coalesce`, a message equal to one already waiting in the mailbox is
        dropped: for "there is work for you" nudges, where one pending is enough.
        `bounded=False` accepts it past the mailbox bound: for the answer to work
        the actor itself started (a commit's outcome), which must never be lost.
        """
        if coalesce:
            cell = self._cells.get(key)
            if cell is not None and cell.waiting and message in cell.waiting:
                cell.last_message_at = self._clock()
                return
        envelope = Envelope(message, None, coalesced=coalesce, unbounded=not bounded)
        cell = self._enqueue(key, envelope)
        if coalesce:
            if cell.waiting is None:
                cell.waiting = set()
            cell.waiting.add(message)

    async def ask(self, key: K, message: Ask[R], timeout: float | None = None) -> R:
        """Send and wait for the reply; the handler's exception is raised here.

        `timeout` bounds the wait for the actor to *begin* the message. Once it
        has begun, the asker waits for the outcome: answering "timed out" for a
        change that then completes would be a lie (handlers bound their own I/O).
        """
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Any] = loop.create_future()
        wait = timeout
        by_budget = False
        if wait is None:
            wait = self._ask_timeout
            if self._ask_budget is not None:
                budget = self._ask_budget()
                by_budget = budget < wait
                wait = min(wait, budget)
        envelope = Envelope(message, reply, deadline=loop.time() + wait)
        self._enqueue(key, envelope)

        # Whether the wait ran out on the asker's budget while the actor waited on
        # the database: judged when it runs out, not a turn later (by then a load
        # that gave up at the same moment may be over).
        spent_on_database = False

        def give_up() -> None:
            nonlocal spent_on_database
            # A cancelled reply tells the actor to skip the message: only one it has
            # not begun (one begun is waited for, whatever it takes).
            if not envelope.begun and not reply.done():
                cell = self._cells.get(key)
                spent_on_database = by_budget and cell is not None and cell.actor.awaiting_database
                reply.cancel()

        # The reply awaited directly, with a timer: its answer wakes the asker in
        # one turn of the loop, where asyncio.wait's waiter took two.
        timer = loop.call_later(wait, give_up)
        try:
            result: R = await reply
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if (task is not None and task.cancelling()) or not reply.cancelled():
                raise  # the asker itself is cancelled
            if spent_on_database:
                raise AskBudgetSpentError(
                    f"the asker's budget ran out waiting for {key!r}"
                ) from None
            raise AskTimeoutError(f"no reply from actor {key!r} in time") from None
        finally:
            timer.cancel()
            if not reply.done():
                reply.cancel()  # the asker was cancelled: skipped if not begun
        return result

    def _enqueue(self, key: K, envelope: Envelope) -> Cell[K, M]:
        if self._closed:
            raise RegistryClosedError("the actor registry is shutting down")
        cell = self._cells.get(key)
        if cell is None:
            cell = self._activate(key)
        # A coalesced nudge may exceed the bound (there is at most one per key, and
        # dropping it could leave stored work unannounced), and so may an unbounded
        # tell (at most one round's outcome per actor is ever out).
        if len(cell.mailbox) >= self._mailbox_size and not envelope.unbounded:
            raise MailboxFullError(f"mailbox of actor {key!r} is full")
        cell.mailbox.append(envelope)
        cell.last_message_at = self._clock()
        if cell.drain_task is None:
            cell.drain_task = self._spawn(self._drain(cell))
        return cell

    def _activate(self, key: K) -> Cell[K, M]:
        # Synchronous from lookup to insertion, so concurrent first messages
        # can never create two actors for one key.
        cell: Cell[K, M] = Cell(key, self._factory(key), self._clock())
        cell.predecessor = self._stopping.get(key)
        self._cells[key] = cell
        self.total_activations += 1
        return cell

    def _spawn(self, coro: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- the drain loop --------------------------------------------------------

    async def _drain(self, cell: Cell[K, M]) -> None:
        try:
            if not cell.started and not await self._start(cell):
                return  # retired: its queued asks have been failed
            while cell.mailbox and self._cells.get(cell.key) is cell:
                envelope = cell.mailbox.popleft()
                if envelope.coalesced and cell.waiting is not None:
                    # From here on an equal message is new work again.
                    cell.waiting.discard(envelope.message)
                if envelope.reply is not None and envelope.reply.done():
                    continue  # the asker gave up before we began
                envelope.begun = True
                cell.busy = True
                try:
                    await self._handle(cell, envelope)
                finally:
                    cell.busy = False
        finally:
            # No await separates the empty-mailbox check from this line, so no
            # message can slip in unseen: the next tell spawns a new drain task.
            cell.drain_task = None
            self._stop_if_pointless(cell)

    async def _handle(self, cell: Cell[K, M], envelope: Envelope) -> None:
        cell.actor.deadline = envelope.deadline
        try:
            result = await cell.actor.receive(envelope.message)
        except asyncio.CancelledError as cancelled:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # We are being stopped (shutdown): the message dies with us.
                if envelope.reply is not None and not envelope.reply.done():
                    envelope.reply.set_exception(ActorDeadError("actor stopped mid-message"))
                raise
            # A CancelledError leaking out of something the handler awaited is a
            # failure like any other, not a reason to stop draining the mailbox.
            await self._fail(cell, envelope, ActorError(f"handler cancelled: {cancelled!r}"))
        except Exception as error:
            await self._fail(cell, envelope, error)
        else:
            cell.failures_in_a_row = 0
            if envelope.reply is not None and not envelope.reply.done():
                envelope.reply.set_result(result)

    def evict(self, key: K, error: Exception) -> bool:
        """Stop `key`'s actor now, whatever it holds (its room went to another node):
        what is queued fails with `error`, the message in hand finishes (its
        writes are fenced), and the next message activates a fresh actor, which
        starts once this one's on_stop has run. False if it was not live."""
        cell = self._cells.get(key)
        if cell is None:
            return False
        self._retire(cell, error)
        if cell.started:
            self._stop_later(cell, after=cell.drain_task)
        return True

    # -- introspection ---------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._cells)

    def __contains__(self, key: object) -> bool:
        return key in self._cells

    def actor_for(self, key: K) -> Actor[K, M] | None:
        """The live actor for `key`, if any (for tests and ops, never to send to)."""
        cell = self._cells.get(key)
        return None if cell is None else cell.actor

    def snapshot(self) -> list[ActorInfo]:
        """Live actors with mailbox depth and restarts, for ops and metrics."""
        return [
            ActorInfo(key, len(cell.mailbox), cell.restarts, cell.busy)
            for key, cell in self._cells.items()
        ]
