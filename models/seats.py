"""Seats: what Qari granted each identity in one creation of a room, and its SQL.

A row says "Qari issued `identity` a token for room `room_id`": the place its
token holds until `held_until` (null once its participant joined, or the seat
was freed) and how long Qari's tokens for it stay valid (`granted_until`).
The room's id is its generation: a room deleted and created again has a new
id, so nothing granted before carries over (the rows go with the room).

The room actor is the only writer of its rows; it writes them through the
seat writer (actors/seat_writer.py), many rows per statement, and reads them
once at activation. One async function per query, named rows in and out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from models.db import Database, is_postgres, placeholder, timestamp
from models.fenced import HELD_ROOM, fence_ctes, run_fenced
from models.rooms import Room


class Seat(Model):
    """One identity's grant in one room (by id): its seat hold and its tokens' validity."""

    id = fields.BigIntField(primary_key=True)
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "models.Room", related_name=False, on_delete=fields.CASCADE
    )
    identity = fields.CharField(max_length=256)
    # When the seat was taken: the first token of its hold.
    issued_at = fields.DatetimeField()
    # The seat counts toward capacity until then; null once used or freed.
    held_until = fields.DatetimeField(null=True)
    # Joins of this identity are Qari's until then (see actors/room/seats.py).
    granted_until = fields.DatetimeField()
    # Which of Qari's tokens for this identity a join may use: a token carries its
    # grant's key (attribute `qari.grant`, absent while the key is empty), and a
    # revocation (a removal, the meeting ended, a no from the access condition)
    # draws a new one, so the tokens issued before it stop admitting.
    grant_key = fields.CharField(max_length=32, default="")

    class Meta:
        table = "seats"
        unique_together = (("room", "identity"),)


@dataclass(frozen=True, slots=True)
class SeatRow:
    """A seats row as the actor keeps and writes it (fields in SEAT_COLUMNS order)."""

    room_id: int
    identity: str
    issued_at: dt.datetime
    held_until: dt.datetime | None
    granted_until: dt.datetime
    grant_key: str = ""


SEAT_COLUMNS = ("room_id", "identity", "issued_at", "held_until", "granted_until", "grant_key")
_PG_TYPES = ("int", "text", "timestamptz", "timestamptz", "timestamptz", "text")


_COLUMNS = ", ".join(SEAT_COLUMNS)
_CONFLICT = "ON CONFLICT (room_id, identity) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in SEAT_COLUMNS[2:]
)


def _upsert_pg(fenced: bool) -> str:
    """The PostgreSQL upsert: one statement text for any number of rows (one array
    per column). `fenced`: it checks the rooms' leases itself (models/fenced.py)
    and writes only if every one is still the writer's."""
    arrays = ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(_PG_TYPES))
    insert = f"INSERT INTO seats ({_COLUMNS}) SELECT * FROM unnest({arrays})"  # noqa: S608
    if not fenced:
        return f"{insert} {_CONFLICT}"
    return (
        f"WITH {fence_ctes(len(SEAT_COLUMNS) + 1)}, "  # noqa: S608
        f"written AS ({insert} WHERE (SELECT ok FROM held) {_CONFLICT}) "
        f"SELECT room AS {HELD_ROOM} FROM fence"
    )


_UPSERT_PG = _upsert_pg(fenced=False)
_UPSERT_FENCED_PG = _upsert_pg(fenced=True)


def _pg_args(rows: Sequence[SeatRow]) -> list[object]:
    return [[getattr(row, c) for row in rows] for c in SEAT_COLUMNS]


async def upsert_seats_fenced(
    database: Database, conn: BaseDBAsyncClient, rows: Sequence[SeatRow], leases: Mapping[str, int]
) -> None:
    """`upsert_seats` as one statement that fences itself (models/fenced.py):
    LeaseLostError, with nothing written, unless every room of `leases` is still
    this node's. PostgreSQL with a node's leases only."""
    if rows:
        await run_fenced(database, conn, _UPSERT_FENCED_PG, _pg_args(rows), leases)


async def upsert_seats(conn: BaseDBAsyncClient, rows: Sequence[SeatRow]) -> None:
    """Write these rows, one statement for all; a (room, identity) row that exists
    takes the new values. At most one row per (room, identity): a statement may
    not change a row twice."""
    if not rows:
        return
    if is_postgres(conn):
        await conn.execute_query(_UPSERT_PG, _pg_args(rows))
        return
    width = len(SEAT_COLUMNS)
    values = ", ".join(
        "(" + ", ".join(f"?{n * width + i + 1}" for i in range(width)) + ")"
        for n in range(len(rows))
    )
    sql = f"INSERT INTO seats ({_COLUMNS}) VALUES {values} {_CONFLICT}"  # noqa: S608
    await conn.execute_query(sql, [value for row in rows for value in astuple(row)])


async def load_room_seats(conn: BaseDBAsyncClient, room_id: int, now: dt.datetime) -> list[SeatRow]:
    """The room's rows still in force at `now` (a seat held, or a grant valid), oldest
    hold first; rows lapsed on both counts are deleted on the way."""
    p = placeholder(conn)
    await conn.execute_query(
        f"DELETE FROM seats WHERE room_id = {p}1 AND granted_until <= {p}2 "  # noqa: S608
        f"AND (held_until IS NULL OR held_until <= {p}2)",
        [room_id, now],
    )
    rows = await conn.execute_query_dict(
        f"SELECT {', '.join(SEAT_COLUMNS)} FROM seats WHERE room_id = {p}1 "  # noqa: S608
        "ORDER BY held_until, id",
        [room_id],
    )
    return [
        SeatRow(
            room_id=int(row["room_id"]),
            identity=str(row["identity"]),
            issued_at=timestamp(row["issued_at"]),
            held_until=None if row["held_until"] is None else timestamp(row["held_until"]),
            granted_until=timestamp(row["granted_until"]),
            grant_key=str(row["grant_key"] or ""),
        )
        for row in rows
    ]
