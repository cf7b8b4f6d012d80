"""Bans: identities a room's moderators removed for good, and their SQL.

A ban belongs to one creation of a room (its id), like its seats: a room
deleted and created again starts with none. The room's actor is the only
writer; it loads the room's bans at activation and checks them on every token
request and every join.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from models.db import placeholder, timestamp
from models.rooms import Room

MAX_REASON_LENGTH = 512


class Ban(Model):
    """One identity banned from one room (by id), with why and when."""

    id = fields.BigIntField(primary_key=True)
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "models.Room", related_name=False, on_delete=fields.CASCADE
    )
    identity = fields.CharField(max_length=256)
    reason = fields.CharField(max_length=MAX_REASON_LENGTH, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "bans"
        unique_together = (("room", "identity"),)


@dataclass(frozen=True, slots=True)
class BanRow:
    identity: str
    reason: str | None
    created_at: dt.datetime


async def insert_ban(conn: BaseDBAsyncClient, room_id: int, row: BanRow) -> BanRow:
    """Ban `row.identity`; banning again keeps the first ban (its time) and the new reason.
    Returns the ban as stored."""
    p = placeholder(conn)
    rows = await conn.execute_query_dict(
        "INSERT INTO bans (room_id, identity, reason, created_at) "  # noqa: S608
        f"VALUES ({p}1, {p}2, {p}3, {p}4) ON CONFLICT (room_id, identity) "
        "DO UPDATE SET reason = COALESCE(excluded.reason, bans.reason) "
        "RETURNING identity, reason, created_at",
        [room_id, row.identity, row.reason, row.created_at],
    )
    return _row(rows[0])


async def delete_ban(
    conn: BaseDBAsyncClient, room_id: int, identity: str, *, any_case: bool = False
) -> bool:
    """Lift a ban (with `any_case`, of the identity in any case); False if there was none."""
    p = placeholder(conn)
    match = f"lower(identity) = lower({p}2)" if any_case else f"identity = {p}2"
    rows = await conn.execute_query_dict(
        f"DELETE FROM bans WHERE room_id = {p}1 AND {match} RETURNING id",  # noqa: S608
        [room_id, identity],
    )
    return bool(rows)


async def room_bans(conn: BaseDBAsyncClient, room_id: int) -> list[BanRow]:
    """The room's bans, oldest first."""
    rows = await conn.execute_query_dict(
        f"SELECT identity, reason, created_at FROM bans WHERE room_id = {placeholder(conn)}1 "  # noqa: S608
        "ORDER BY created_at, id",
        [room_id],
    )
    return [_row(row) for row in rows]


def _row(row: dict[str, object]) -> BanRow:
    reason = row["reason"]
    return BanRow(
        str(row["identity"]), None if reason is None else str(reason), timestamp(row["created_at"])
    )
