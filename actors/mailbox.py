"""One activation's record in the registry: its mailbox of envelopes and its bookkeeping."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Generic

from actors.actor import Actor, K, M


class Envelope:
    __slots__ = ("begun", "coalesced", "deadline", "message", "reply", "unbounded")

    def __init__(
        self,
        message: Any,
        reply: asyncio.Future[Any] | None,
        coalesced: bool = False,
        unbounded: bool = False,
        deadline: float | None = None,
    ) -> None:
        self.message = message
        self.reply = reply
        # The loop time by which the asker stops waiting for the actor to begin
        # (None: a tell, nobody waits).
        self.deadline = deadline
        self.coalesced = coalesced
        # Accepted past the mailbox bound (a coalesced nudge is too).
        self.unbounded = unbounded or coalesced
        self.begun = False


class Cell(Generic[K, M]):
    """The runtime's record of one activation: mailbox, actor, bookkeeping."""

    __slots__ = (
        "actor",
        "busy",
        "drain_task",
        "failures_in_a_row",
        "key",
        "last_message_at",
        "mailbox",
        "predecessor",
        "restarts",
        "started",
        "waiting",
    )

    def __init__(self, key: K, actor: Actor[K, M], now: float) -> None:
        self.key = key
        self.actor = actor
        self.mailbox: deque[Envelope] = deque()
        self.drain_task: asyncio.Task[None] | None = None
        self.predecessor: asyncio.Task[None] | None = None
        self.started = False
        self.busy = False
        self.restarts = 0
        # The restart limit counts failures without a success in between, so a
        # long-lived actor is not retired for rare, unrelated crashes.
        self.failures_in_a_row = 0
        self.last_message_at = now
        # Coalesced messages still in the mailbox; created on first use.
        self.waiting: set[Any] | None = None
