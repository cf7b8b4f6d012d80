"""What a lobby poll reads without the room's mailbox or the database: each ticket as
its room's actor last made it durable, and a way to wait for its next change.

Only room actors write here, after the ticket's write has committed; a poll
reads the ticket, and when it is still waiting, waits on its change (an event
set by the next publish, or by the actor's withdrawal when it stops). So a
thousand knockers polling cost no query and no message, and each learns of a
decision as soon as it is durable. An entry lives while its room's actor does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TicketView:
    """One lobby ticket as pollers and hosts see it."""

    ticket: str
    room: str
    identity: str
    name: str | None
    status: str
    reason: str | None
    since: dt.datetime
    expires_at: dt.datetime
    # An admitted ticket's token (the same each time), and when it expires.
    token: str | None = None
    token_expires_at: dt.datetime | None = None


class LobbyBoard:
    """Every loaded room's tickets, by ticket; written only by the rooms' actors."""

    def __init__(self) -> None:
        self._views: dict[str, TicketView] = {}
        # Set (and dropped) at the ticket's next change; made by the first waiter.
        self._changes: dict[str, asyncio.Event] = {}
        # Shutting down: polls answer at once (Hypercorn waits for open requests
        # before the lifespan's end, and a held poll would hold the node's exit).
        self.closed = False

    def get(self, ticket: str) -> TicketView | None:
        return self._views.get(ticket)

    def publish(self, view: TicketView) -> None:
        """The ticket as its actor has it now (durably): waiters wake."""
        self._views[view.ticket] = view
        self._wake(view.ticket)

    def withdraw(self, tickets: Iterable[str]) -> None:
        """The room's actor stopped (or the room was made anew): readers must ask it."""
        for ticket in tickets:
            self._views.pop(ticket, None)
            self._wake(ticket)

    def change(self, ticket: str) -> asyncio.Event:
        """An event set at the ticket's next change (taken before waiting: a change
        between reading the ticket and waiting cannot be missed, as nothing yields)."""
        event = self._changes.get(ticket)
        if event is None:
            event = self._changes[ticket] = asyncio.Event()
        return event

    def watched(self, ticket: str) -> bool:
        """Whether a poll waits on the ticket's next change (for tests and ops)."""
        return ticket in self._changes

    def close(self) -> None:
        """The node is stopping: every held poll answers now, and none waits again."""
        self.closed = True
        for ticket in list(self._changes):
            self._wake(ticket)

    def _wake(self, ticket: str) -> None:
        event = self._changes.pop(ticket, None)
        if event is not None:
            event.set()
