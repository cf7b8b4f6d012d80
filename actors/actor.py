"""The actor: what a kind of actor overrides, its runtime's errors, and what ops see of it.

An actor handles one message at a time, so its state needs no locks. `receive`
returns the reply to an `ask` or raises to the asker, and the actor lives on.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
M = TypeVar("M")
R = TypeVar("R", covariant=True)


class Ask(Generic[R]):
    """A message answered with an R: `ActorRegistry.ask` returns what its type says
    (Akka Typed's reply type in the message), so callers need no casts."""

    __slots__ = ()


class ActorError(Exception):
    """Base of the runtime's own errors."""


class MailboxFullError(ActorError):
    """The actor's mailbox is at capacity; the caller should retry later."""


class RegistryClosedError(ActorError):
    """The registry is shutting down and accepts no more messages."""


class ActorDeadError(ActorError):
    """The actor stopped before it could handle the message."""


class AskTimeoutError(ActorError, TimeoutError):
    """No reply came within the ask timeout."""


class AskBudgetSpentError(AskTimeoutError):
    """The asker's own budget (ask_budget: a request's database budget) ran out
    before the actor began the message, while the actor was waiting on the
    database (`Actor.awaiting_database`): the database's delay, not overload."""


class Actor(Generic[K, M]):
    """Base class: override `receive`, and the hooks as needed.

    `receive` runs for one message at a time. Whatever it returns is the reply
    to an `ask`; whatever it raises goes back to the asker, and the actor lives on.
    """

    def __init__(self, key: K) -> None:
        self.key = key
        # While `receive` runs: the loop time by which its asker needed it begun,
        # so work the handler does before its real work (a lazy load) can keep
        # within the asker's budget; None for a tell. Set by the runtime.
        self.deadline: float | None = None
        # Set by an actor while it waits on the database (a load): an asker whose
        # budget runs out behind it is told so (AskBudgetSpentError), not "busy".
        self.awaiting_database = False

    async def on_start(self) -> None:
        """Load state; runs before the first message of each activation."""

    async def on_stop(self) -> None:
        """Release resources; runs on passivation, shutdown and before a restart."""

    async def on_failure(self, error: BaseException) -> None:
        """Runs after an unexpected failure, before the actor is restarted."""

    def can_passivate(self) -> bool:
        """Whether an idle actor may stop now (a live room says no)."""
        return True

    def stop_when_idle(self) -> bool:
        """Whether to stop as soon as the mailbox is empty, without waiting for
        `idle_timeout` (an actor for a key that names nothing keeps no state)."""
        return False

    async def receive(self, message: M) -> Any:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class ActorInfo:
    """One live actor, for ops: its key, mailbox depth and restarts so far."""

    key: Hashable
    mailbox_depth: int
    restarts: int
    busy: bool
