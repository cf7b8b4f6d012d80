"""The lobby's messages: a knock, the hosts' decisions, a ban's denial, expiry.

Called only by the room's actor, one message at a time, so an admission and a
denial (or a ban) of one ticket can never both happen: whichever the mailbox
hands over first decides, and the other finds the ticket closed. Each change
is written fenced by the room's lease, with its event in the same
transaction, and only then kept in memory and published to the LobbyBoard,
where polls waiting on the ticket wake (a poll never sees a decision that a
restart could undo).

An admission takes a seat by the room's rules at that moment (capacity now,
not at the knock), waits for the seat's write, and mints the token; its
claims are stored as minted, so after a load the same claims are signed again:
the same token, whatever the room's configuration became meanwhile.

A knock is checked against the room's access condition as it is then, and the
ticket keeps which condition that was. Admitting hands out a token without a
further check, so a ticket checked under another condition than the room's now
(changed, or added by a PATCH after the knock) is not admitted: it is denied
with the reason `access_changed` (admit answers 409 `access_changed`), and the
knocker knocks again, checked against the condition as it is.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from dataclasses import replace

from actors.room.admission import GRANT_ATTRIBUTE, VAULT_ATTRIBUTE
from actors.room.config import Config
from actors.room.errors import RoomFullError, TicketAccessChangedError, TicketClosedError
from actors.room.livekit import LiveKit, TokenRequest
from actors.room.lobby_board import TicketView
from actors.room.memory import RoomMemory
from actors.room.views import Knocked
from models.access import dumps
from models.lobby import TicketRow, TicketStatus, decide_tickets, insert_ticket, recheck_ticket
from models.outbox import Event
from models.outbox_events import lobby_event

BANNED = "banned"
# A ticket checked under an access condition the room no longer has.
ACCESS_CHANGED = "access_changed"


def new_ticket() -> str:
    """`lt_` and 128 random bits: a ticket cannot be guessed."""
    return "lt_" + secrets.token_urlsafe(16)


def checked_access(config: Config) -> str | None:
    """What a knock checked now was checked against: the room's condition (its stored
    text) and whether delegated vaults counted; None when the room has none."""
    if config.condition is None:
        return None
    return (dumps(config.condition) or "") + ("+delegation" if config.delegation else "")


def stale(config: Config, row: TicketRow) -> bool:
    """Whether the ticket's knock was checked under another condition than the room's
    now (one added since counts: the knock was checked against none)."""
    return config.condition is not None and row.checked_access != checked_access(config)


def knocks(memory: RoomMemory, wallet: str | None) -> bool:
    """Whether a token request of `wallet` (None: a service) is a knock: a lobby room,
    asked by a wallet that does not own it."""
    config = memory.require_config()
    return config.lobby and wallet is not None and wallet != config.owner


async def knock(
    memory: RoomMemory, request: TokenRequest, now: dt.datetime, wait_seconds: float
) -> Knocked:
    """The identity's open ticket, or a new one (stored with `lobby.waiting`)."""
    config = memory.require_config()
    await expire_due(memory, now)
    memory.lobby.prune(now)
    row = memory.lobby.open_ticket(request.identity, now, memory.seats.grant_key(request.identity))
    if row is not None and row.status == TicketStatus.WAITING and stale(config, row):
        # This knock was checked against the condition as it is now: the ticket
        # keeps its place, checked anew.
        row = replace(row, checked_access=checked_access(config))
        await recheck_ticket(memory.database, memory.fence(), row)
        memory.lobby.put(memory.name, row)
    if row is None:
        row = TicketRow(
            ticket=new_ticket(),
            room_id=config.id,
            identity=request.identity,
            name=request.name,
            status=TicketStatus.WAITING,
            reason=None,
            role=request.role,
            metadata=request.metadata,
            attributes=request.attributes,
            ttl_seconds=request.ttl_seconds,
            knocked_at=now,
            expires_at=now + dt.timedelta(seconds=wait_seconds),
            checked_access=checked_access(config),
        )
        waiting = _event("lobby.waiting", memory, row, now)
        row = await insert_ticket(memory.database, memory.fence(), row, waiting)
        memory.lobby.put(memory.name, row)
    return Knocked(row.ticket, str(row.status), row.expires_at)


def read(memory: RoomMemory, ticket: str) -> TicketView:
    memory.require_config()
    return memory.lobby.view(memory.name, memory.lobby.require(ticket))


def listing(memory: RoomMemory, now: dt.datetime) -> list[TicketView]:
    """The tickets waiting, in knock order: not those due to expire (their timer is late)."""
    memory.require_config()
    return [memory.lobby.view(memory.name, row) for row in memory.lobby.waiting(now)]


async def admit(memory: RoomMemory, livekit: LiveKit, ticket: str, now: dt.datetime) -> None:
    """Admit one ticket (RoomFullError when there is no place); admitting an admitted
    ticket again changes nothing. A banned identity's ticket is denied instead
    (TicketClosedError)."""
    memory.require_config()  # no such room: room_not_found, not ticket_not_found
    row = memory.lobby.require(ticket)
    if row.status == TicketStatus.ADMITTED:
        return
    await _require_waiting(memory, row, now)
    if row.identity in memory.bans:
        await _deny(memory, [row], BANNED, now)
        raise TicketClosedError(row.ticket)
    if stale(memory.require_config(), row):
        await _deny(memory, [row], ACCESS_CHANGED, now)
        raise TicketAccessChangedError(row.ticket)
    await _admit(memory, livekit, [row], now, all_or_nothing=True)


async def admit_all(memory: RoomMemory, livekit: LiveKit, now: dt.datetime) -> int:
    """Admit waiting tickets in knock order while there are places; how many. Those
    checked under another access condition are denied (`access_changed`) instead."""
    config = memory.require_config()
    await expire_due(memory, now)
    await deny_all_banned(memory, now)
    changed = [r for r in memory.lobby.waiting() if stale(config, r)]
    if changed:
        await _deny(memory, changed, ACCESS_CHANGED, now)
    return await _admit(memory, livekit, memory.lobby.waiting(), now, all_or_nothing=False)


async def deny(memory: RoomMemory, ticket: str, reason: str | None, now: dt.datetime) -> None:
    memory.require_config()
    row = memory.lobby.require(ticket)
    await _require_waiting(memory, row, now)
    await _deny(memory, [row], reason, now)


async def deny_banned(memory: RoomMemory, identity: str, now: dt.datetime) -> None:
    """A ban denies the identity's open tickets (an admitted one's token stops being
    handed out; the ban revokes the grant it carries)."""
    rows = [r for r in memory.lobby.of_identity(identity) if r.open]
    if rows:
        await _deny(memory, rows, BANNED, now)


async def deny_all_banned(memory: RoomMemory, now: dt.datetime) -> None:
    """Every open ticket of a banned identity denied: a ban's own denial is a write
    apart from the ban's, so one stored without the other is found here (at a
    load, and before admitting)."""
    rows = [r for r in memory.lobby.open_tickets() if r.identity in memory.bans]
    if rows:
        await _deny(memory, rows, BANNED, now)


async def expire_due(memory: RoomMemory, now: dt.datetime) -> None:
    """The waiting tickets whose LOBBY_WAIT_SECONDS are over become `expired`."""
    due = memory.lobby.due(now)
    if not due:
        return
    expired = [replace(r, status=TicketStatus.EXPIRED, decided_at=now) for r in due]
    await decide_tickets(memory.database, memory.fence(), expired, [])
    for row in expired:
        memory.lobby.put(memory.name, row)
    memory.lobby.prune(now)


def restore_tokens(memory: RoomMemory, livekit: LiveKit) -> None:
    """After a load: the admitted tickets' tokens, their stored claims signed again
    (the same bytes while the LiveKit key is the same)."""
    if memory.config is None:
        return
    for row in memory.lobby.admitted_without_token():
        if row.claims is not None:
            memory.lobby.put(memory.name, row, livekit.sign_claims(row.claims))


async def _require_waiting(memory: RoomMemory, row: TicketRow, now: dt.datetime) -> None:
    if row.status == TicketStatus.WAITING and row.expires_at <= now:
        await expire_due(memory, now)
        raise TicketClosedError(row.ticket)
    if row.status != TicketStatus.WAITING:
        raise TicketClosedError(row.ticket)


async def _admit(
    memory: RoomMemory,
    livekit: LiveKit,
    rows: list[TicketRow],
    now: dt.datetime,
    *,
    all_or_nothing: bool,
) -> int:
    config = memory.require_config()
    decided: list[tuple[TicketRow, tuple[str, dt.datetime]]] = []
    events: list[Event] = []
    seats: list[asyncio.Future[None]] = []
    for row in rows:
        try:
            stored = memory.seats.reserve(
                row.identity,
                in_room=memory.state.in_room,
                max_participants=config.max_participants,
                ttl_seconds=row.ttl_seconds,
                now=now,
            )
        except RoomFullError:
            if all_or_nothing:
                raise
            break
        if stored is not None:
            seats.append(stored)
        attributes = row.attributes
        key = memory.seats.grant_key(row.identity)
        if key:
            # The grant was revoked once: only tokens carrying its new key admit.
            attributes = {**(attributes or {}), GRANT_ATTRIBUTE: key}
        row = replace(row, attributes=attributes)
        if config.condition is not None:
            # The re-check follows the vault that qualified the knock, if one did.
            memory.vaults[row.identity] = (attributes or {}).get(VAULT_ATTRIBUTE)
        claims = livekit.token_claims(config.livekit(), _request(row))
        token, expires_at = livekit.sign_claims(claims)
        memory.annotations.roles[row.identity] = row.role
        admitted = replace(row, status=TicketStatus.ADMITTED, decided_at=now, claims=claims)
        decided.append((admitted, (token, expires_at)))
        events.append(_event("lobby.admitted", memory, admitted, now))
    if not decided:
        return 0
    if seats:
        # The seats are durable before anyone learns of the admission (the seat
        # writer bounds its own wait); shared writes are not cut short.
        await asyncio.shield(asyncio.gather(*seats))
    await decide_tickets(memory.database, memory.fence(), [r for r, _ in decided], events)
    for row, minted in decided:
        memory.lobby.put(memory.name, row, minted)
    return len(decided)


async def _deny(
    memory: RoomMemory, rows: list[TicketRow], reason: str | None, now: dt.datetime
) -> None:
    denied = [
        replace(r, status=TicketStatus.DENIED, reason=reason, decided_at=now, claims=None)
        for r in rows
    ]
    events = [_event("lobby.denied", memory, r, now) for r in denied]
    await decide_tickets(memory.database, memory.fence(), denied, events)
    for row in denied:
        memory.lobby.put(memory.name, row)


def _request(row: TicketRow) -> TokenRequest:
    return TokenRequest(
        identity=row.identity,
        name=row.name,
        role=row.role,
        metadata=row.metadata,
        attributes=row.attributes,
        ttl_seconds=row.ttl_seconds,
    )


def _event(type_: str, memory: RoomMemory, row: TicketRow, now: dt.datetime) -> Event:
    return lobby_event(
        type_, memory.name, row.ticket, row.identity, row.name, now, reason=row.reason
    )
