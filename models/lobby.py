"""Lobby tickets: who knocked on a lobby room, in knock order, and what the hosts decided.

A ticket belongs to one creation of a room (its id), like its seats and bans.
The room's actor is the only writer (fenced by its lease, with the ticket's
event in the same transaction); it loads the room's tickets at activation, so
a restart or a failover keeps the queue, in knock order (the row's id).

An admitted ticket's token claims are stored exactly as minted (they are not
secret: the token is their HS256 signature), not the token: signing the same
claims with the same key gives the same bytes, so after a load the token is the
same, whatever the room's configuration became meanwhile.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from models.db import Database, placeholder, timestamp
from models.outbox import Event, append
from models.rooms import Room

MAX_REASON_LENGTH = 512
# Decided tickets stay readable this long (a knocker polling after the decision),
# then the room's actor forgets them and a load of the room deletes them.
DECIDED_KEPT = dt.timedelta(days=1)


class TicketStatus(StrEnum):
    WAITING = "waiting"
    ADMITTED = "admitted"
    DENIED = "denied"
    EXPIRED = "expired"


class LobbyTicket(Model):
    """One knock on a lobby room (by id): who, when, and the hosts' decision."""

    id = fields.BigIntField(primary_key=True)
    # `lt_` and random text: what the knocker and the hosts name it by.
    ticket = fields.CharField(max_length=48, unique=True)
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "models.Room", related_name=False, on_delete=fields.CASCADE
    )
    identity = fields.CharField(max_length=256)
    name = fields.CharField(max_length=256, null=True)
    # waiting | admitted | denied | expired
    status = fields.CharField(max_length=16)
    reason = fields.CharField(max_length=MAX_REASON_LENGTH, null=True)
    # The token request the knock made, minted on admission.
    role = fields.CharField(max_length=16)
    metadata = fields.TextField(null=True)
    attributes = fields.TextField(null=True)
    ttl_seconds = fields.IntField()
    knocked_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    decided_at = fields.DatetimeField(null=True)
    # The admitted ticket's token claims, as minted (JSON; signed again after a load).
    claims = fields.TextField(null=True)
    # The access condition the knock was checked under (its stored text, and
    # "+delegation" when vaults counted); None: the room had none.
    checked_access = fields.TextField(null=True)

    class Meta:
        table = "lobby_tickets"
        indexes = (("room_id", "id"),)


@dataclass(frozen=True, slots=True)
class TicketRow:
    """A lobby_tickets row as the room's actor keeps it (id 0 until stored)."""

    ticket: str
    room_id: int
    identity: str
    name: str | None
    status: TicketStatus
    reason: str | None
    role: str
    metadata: str | None
    attributes: dict[str, str] | None
    ttl_seconds: int
    knocked_at: dt.datetime
    expires_at: dt.datetime
    decided_at: dt.datetime | None = None
    claims: dict[str, Any] | None = None
    checked_access: str | None = None
    id: int = 0

    @property
    def open(self) -> bool:
        return self.status in (TicketStatus.WAITING, TicketStatus.ADMITTED)


async def insert_ticket(
    database: Database, fence: dict[str, int], row: TicketRow, event: Event
) -> TicketRow:
    """Store a new ticket with its event, fenced; the row as stored (with its id)."""
    async with database.room_write(fence) as conn:
        stored = await LobbyTicket.create(
            ticket=row.ticket,
            room_id=row.room_id,
            identity=row.identity,
            name=row.name,
            status=str(row.status),
            reason=row.reason,
            role=row.role,
            metadata=row.metadata,
            attributes=None if row.attributes is None else json.dumps(row.attributes),
            ttl_seconds=row.ttl_seconds,
            knocked_at=row.knocked_at,
            expires_at=row.expires_at,
            checked_access=row.checked_access,
            using_db=conn,
        )
        await append(conn, [event])
    database.events_committed()
    return replace(row, id=stored.id)


async def decide_tickets(
    database: Database,
    fence: dict[str, int],
    rows: list[TicketRow],
    events: list[Event],
) -> None:
    """Store the decisions of `rows` (their status, reason, time, and an admitted
    one's token claims) and their events, in one fenced transaction."""
    async with database.room_write(fence) as own:
        await _decide(own, rows, events)
    if events:
        database.events_committed()


async def recheck_ticket(database: Database, fence: dict[str, int], row: TicketRow) -> None:
    """Store the condition a waiting ticket's knock was checked under again, fenced."""
    async with database.room_write(fence) as conn:
        p = placeholder(conn)
        await conn.execute_query(
            f"UPDATE lobby_tickets SET checked_access = {p}1 WHERE ticket = {p}2",  # noqa: S608
            [row.checked_access, row.ticket],
        )


async def _decide(conn: BaseDBAsyncClient, rows: list[TicketRow], events: list[Event]) -> None:
    p = placeholder(conn)
    for row in rows:
        await conn.execute_query(
            f"UPDATE lobby_tickets SET status = {p}1, reason = {p}2, decided_at = {p}3, "  # noqa: S608
            f"claims = {p}4, attributes = {p}5 WHERE ticket = {p}6",
            [
                str(row.status),
                row.reason,
                row.decided_at,
                None if row.claims is None else json.dumps(row.claims),
                None if row.attributes is None else json.dumps(row.attributes),
                row.ticket,
            ],
        )
    await append(conn, events)


async def load_room_tickets(
    database: Database, fence: dict[str, int], room_id: int, now: dt.datetime
) -> list[TicketRow]:
    """The room's tickets in knock order, but those decided more than DECIDED_KEPT
    ago, which are deleted (fenced) when there are any: a room without old tickets
    (most rooms: no lobby) costs one read, no write."""
    async with database.transaction() as conn:
        rows = await _room_tickets(conn, room_id)
    cutoff = now - DECIDED_KEPT
    if any(r.decided_at is not None and r.decided_at < cutoff for r in rows):
        async with database.room_write(fence) as conn:
            p = placeholder(conn)
            await conn.execute_query(
                f"DELETE FROM lobby_tickets WHERE room_id = {p}1 AND decided_at < {p}2",  # noqa: S608
                [room_id, cutoff],
            )
    return [r for r in rows if r.decided_at is None or r.decided_at >= cutoff]


async def _room_tickets(conn: BaseDBAsyncClient, room_id: int) -> list[TicketRow]:
    p = placeholder(conn)
    rows = await conn.execute_query_dict(
        "SELECT id, ticket, room_id, identity, name, status, reason, role, metadata, "  # noqa: S608
        "attributes, ttl_seconds, knocked_at, expires_at, decided_at, claims, checked_access "
        f"FROM lobby_tickets WHERE room_id = {p}1 ORDER BY id",
        [room_id],
    )
    return [_row(row) for row in rows]


def _row(row: dict[str, object]) -> TicketRow:
    attributes = row["attributes"]
    decided = row["decided_at"]
    claims = row["claims"]
    checked = row["checked_access"]
    return TicketRow(
        ticket=str(row["ticket"]),
        room_id=int(str(row["room_id"])),
        identity=str(row["identity"]),
        name=None if row["name"] is None else str(row["name"]),
        status=TicketStatus(str(row["status"])),
        reason=None if row["reason"] is None else str(row["reason"]),
        role=str(row["role"]),
        metadata=None if row["metadata"] is None else str(row["metadata"]),
        attributes=None if attributes is None else json.loads(str(attributes)),
        ttl_seconds=int(str(row["ttl_seconds"])),
        knocked_at=timestamp(row["knocked_at"]),
        expires_at=timestamp(row["expires_at"]),
        decided_at=None if decided is None else timestamp(decided),
        claims=None if claims is None else json.loads(str(claims)),
        checked_access=None if checked is None else str(checked),
        id=int(str(row["id"])),
    )
