"""A room's lobby as its actor keeps it: the tickets in knock order, and their tokens.

Changed only by the room's actor (actors/room/lobbying.py), after each
change is durable; every change is published to the node's LobbyBoard, where
polls read it without the mailbox.
"""

from __future__ import annotations

import datetime as dt

from actors.room.admission import GRANT_ATTRIBUTE
from actors.room.errors import TicketNotFoundError
from actors.room.lobby_board import LobbyBoard, TicketView
from models.lobby import DECIDED_KEPT, TicketRow, TicketStatus


class Lobby:
    """One room's tickets by name, in knock order."""

    def __init__(self, board: LobbyBoard) -> None:
        self._board = board
        self._tickets: dict[str, TicketRow] = {}
        # An admitted ticket's token and its expiry (minted again after a load).
        self._tokens: dict[str, tuple[str, dt.datetime]] = {}

    def reset(self) -> None:
        """A new creation of the room (or none), or its actor stopping: nothing here counts."""
        self._board.withdraw(list(self._tickets))
        self._tickets = {}
        self._tokens = {}

    def restore(self, room: str, rows: list[TicketRow]) -> None:
        """The room's tickets as loaded (knock order), published for polls; admitted
        ones get their tokens from `lobbying.restore_tokens` next."""
        self.reset()
        for row in rows:
            self.put(room, row)

    def admitted_without_token(self) -> list[TicketRow]:
        return [
            r
            for r in self._tickets.values()
            if r.status == TicketStatus.ADMITTED and r.ticket not in self._tokens
        ]

    def has_waiting(self) -> bool:
        return any(r.status == TicketStatus.WAITING for r in self._tickets.values())

    def require(self, ticket: str) -> TicketRow:
        row = self._tickets.get(ticket)
        if row is None:
            raise TicketNotFoundError(ticket)
        return row

    def open_ticket(self, identity: str, now: dt.datetime, grant_key: str) -> TicketRow | None:
        """The identity's ticket still waiting (and not due to expire), or admitted
        with a token that still admits: not expired, and carrying `grant_key`, the
        key of the identity's grant now. A removal, an access revocation or the
        meeting's end gives the grant a new key: the admitted ticket's token no
        longer admits, so a knock then gets a new ticket to wait with."""
        for row in reversed(self._tickets.values()):
            if row.identity != identity:
                continue
            if row.status == TicketStatus.WAITING and row.expires_at > now:
                return row
            token = self._tokens.get(row.ticket)
            if (
                row.status == TicketStatus.ADMITTED
                and token is not None
                and token[1] > now
                and (row.attributes or {}).get(GRANT_ATTRIBUTE, "") == grant_key
            ):
                return row
            return None
        return None

    def waiting(self, now: dt.datetime | None = None) -> list[TicketRow]:
        """The tickets waiting, in knock order (with `now`: those not due to expire)."""
        return [
            r
            for r in self._tickets.values()
            if r.status == TicketStatus.WAITING and (now is None or r.expires_at > now)
        ]

    def prune(self, now: dt.datetime) -> None:
        """Forget the tickets decided more than DECIDED_KEPT ago (as a load would): a
        room that stays in use keeps no ever-growing history."""
        cutoff = now - DECIDED_KEPT
        old = [
            t
            for t, r in self._tickets.items()
            if r.decided_at is not None and r.decided_at < cutoff
        ]
        for ticket in old:
            del self._tickets[ticket]
            self._tokens.pop(ticket, None)
        self._board.withdraw(old)

    def open_tickets(self) -> list[TicketRow]:
        return [r for r in self._tickets.values() if r.open]

    def of_identity(self, identity: str) -> list[TicketRow]:
        return [r for r in self._tickets.values() if r.identity == identity]

    def due(self, now: dt.datetime) -> list[TicketRow]:
        """The waiting tickets whose wait is over."""
        return [r for r in self.waiting() if r.expires_at <= now]

    def next_expiry(self) -> dt.datetime | None:
        return min((r.expires_at for r in self.waiting()), default=None)

    def put(self, room: str, row: TicketRow, token: tuple[str, dt.datetime] | None = None) -> None:
        """The ticket as stored now: kept, and published for polls."""
        self._tickets[row.ticket] = row
        if token is not None:
            self._tokens[row.ticket] = token
        self._board.publish(self.view(room, row))

    def view(self, room: str, row: TicketRow) -> TicketView:
        token = self._tokens.get(row.ticket) if row.status == TicketStatus.ADMITTED else None
        return TicketView(
            ticket=row.ticket,
            room=room,
            identity=row.identity,
            name=row.name,
            status=str(row.status),
            reason=row.reason,
            since=row.knocked_at,
            expires_at=row.expires_at,
            token=None if token is None else token[0],
            token_expires_at=None if token is None else token[1],
        )
