"""A write that fences itself: one statement, no transaction around it.

`Database.room_write` fences a transaction: BEGIN, the fence query, the
writes, COMMIT, four round trips at least. A write that is one statement can
carry the fence instead, as two CTEs ahead of its writes: the rooms' leases
still the writer's under their epochs, locked for key share until the
statement ends, and whether that is every one of them. Each write in the
statement happens only if it is (`WHERE (SELECT ok FROM held)`), and the
statement's answer includes the rooms whose leases held, so the caller learns
which were lost, with nothing written. One round trip, the same guarantee:
the statement is its own transaction.

PostgreSQL only, with a node's leases fencing (models/leases.py holds the
fence query these CTEs use); elsewhere writes go through `room_write`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from models.db import Database, LeaseLostError
from models.leases import fence_query

# The column of a fenced statement's answer that names a room whose lease held
# (NULL in the statement's own rows).
HELD_ROOM = "held_room"


def fence_ctes(first: int) -> str:
    """The two CTEs, taking parameters $first.. $first+2 (rooms, epochs, node)."""
    rooms, epochs, node = f"${first}", f"${first + 1}", f"${first + 2}"
    return (
        f"fence AS MATERIALIZED ({fence_query(node, rooms, epochs)}), "  # noqa: S608
        f"held AS MATERIALIZED (SELECT count(*) = cardinality({rooms}::text[]) AS ok FROM fence)"
    )


async def run_fenced(
    database: Database,
    conn: BaseDBAsyncClient,
    sql: str,
    args: list[object],
    leases: Mapping[str, int],
) -> list[dict[str, Any]]:
    """Run `sql` (built with `fence_ctes(len(args) + 1)`, its answer carrying
    HELD_ROOM) within the database's timeout; its own rows. LeaseLostError,
    with nothing written, unless every room of `leases` is still this node's."""
    node = database.fencing.node
    if node is None:
        raise RuntimeError("no node's leases fence this database")
    rooms = sorted(leases)
    async with database.bounded():
        rows = await conn.execute_query_dict(sql, [*args, rooms, [leases[r] for r in rooms], node])
    stale = set(rooms) - {str(r[HELD_ROOM]) for r in rows if r[HELD_ROOM] is not None}
    if stale:
        database.fencing.lost(leases, stale)
        raise LeaseLostError(stale)
    return [r for r in rows if r[HELD_ROOM] is None]
