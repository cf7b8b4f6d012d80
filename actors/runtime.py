"""A small asyncio actor runtime: virtual actors keyed by id.

Each actor handles one message at a time, so its state needs no locks. Actors
are activated on their first message, passivated when idle (if they agree),
restarted from scratch after an unexpected failure, and drained on shutdown.

Idle actors cost no task: a drain task runs only while a mailbox has messages,
so ten thousand idle rooms are ten thousand small objects, not coroutines.
Do not `ask` one actor from inside another's handler and back again: two
actors waiting on each other deadlock until the ask timeout.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic

from actors.actor import (  # re-exported: the runtime's public names
    Actor,
    ActorDeadError,
    ActorError,
    ActorInfo,
    AskTimeoutError,
    K,
    M,
    MailboxFullError,
    RegistryClosedError,
)
from actors.mailbox import Cell, Envelope

log = logging.getLogger(__name__)


__all__ = [
    "Actor",
    "ActorDeadError",
    "ActorError",
    "ActorInfo",
    "ActorRegistry",
    "AskTimeoutError",
    "MailboxFullError",
    "RegistryClosedError",
]


class ActorRegistry(Generic[K, M]):
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
        max_restarts: int = 3,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._factory = factory
        self._mailbox_size = mailbox_size
        self.idle_timeout = idle_timeout
        self._ask_timeout = ask_timeout
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

    async def ask(self, key: K, message: M, timeout: float | None = None) -> Any:
        """Send and wait for the reply; the handler's exception is raised here.

        `timeout` bounds the wait for the actor to *begin* the message. Once it
        has begun, the asker waits for the outcome: answering "timed out" for a
        change that then completes would be a lie (handlers bound their own I/O).
        """
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        envelope = Envelope(message, reply)
        self._enqueue(key, envelope)
        try:
            done, _ = await asyncio.wait(
                (reply,), timeout=self._ask_timeout if timeout is None else timeout
            )
            if not done and envelope.begun:
                await asyncio.wait((reply,))
        finally:
            # A cancelled reply tells the actor to skip the message if it has not
            # begun it (the asker timed out, or was itself cancelled).
            if not reply.done():
                reply.cancel()
        if reply.cancelled():
            raise AskTimeoutError(f"no reply from actor {key!r} in time")
        return reply.result()

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

    async def _handle(self, cell: Cell[K, M], envelope: Envelope) -> None:
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

    def _retire(self, cell: Cell[K, M], error: ActorDeadError) -> None:
        """Remove the cell and fail everything still queued for it."""
        if self._cells.get(cell.key) is cell:
            del self._cells[cell.key]
        while cell.mailbox:
            envelope = cell.mailbox.popleft()
            if envelope.reply is not None and not envelope.reply.done():
                envelope.reply.set_exception(error)

    async def _run_hook(self, cell: Cell[K, M], hook: Awaitable[None], name: str) -> None:
        try:
            await hook
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("actor %r: %s failed", cell.key, name)

    # -- passivation -----------------------------------------------------------

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

    def _stop_later(self, cell: Cell[K, M]) -> None:
        task = self._spawn(self._run_hook(cell, cell.actor.on_stop(), "on_stop"))
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

    # -- shutdown --------------------------------------------------------------

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
