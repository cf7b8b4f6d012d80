"""Nodes and room leases: who serves which room, by PostgreSQL's clock.

A node is one process of the service (`nodes`: its id, how the others reach
it, its heartbeat). A room is served by at most one node at a time: the node
holding its lease (`room_leases`: the room's name, the node, a fencing epoch
and an expiry). Taking a lease that another node held, or that lapsed, gives
it a new epoch; every write of the room's state checks, in its own
transaction, that the writer's epoch is still the room's and unexpired
(`fence`), holding the lease row for share so no takeover can commit between
that check and the write. Only the database's clock decides expiry.

The pattern is River's leader table and Orleans' membership table: rows,
expiry by the database, no protocol of our own. PostgreSQL only: on SQLite
the service is one process and owns every room (app/cluster/sole.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from models.db import timestamp


class Node(Model):
    """One process of the service, as the others see it."""

    id = fields.CharField(max_length=128, primary_key=True)
    # How the other nodes reach it (NODE_URL), for forwarding.
    url = fields.CharField(max_length=512)
    # The database's clock at its latest renewal.
    heartbeat_at = fields.DatetimeField()
    started_at = fields.DatetimeField()

    class Meta:
        table = "nodes"


class RoomLease(Model):
    """A room's owner: the node serving it until `expires_at`, under `epoch`."""

    room = fields.CharField(max_length=128, primary_key=True)
    node = fields.CharField(max_length=128, db_index=True)
    # Grows each time the lease is taken (never reused, also after a release),
    # so a write carrying an older epoch is a stale owner's.
    epoch = fields.BigIntField()
    expires_at = fields.DatetimeField()

    class Meta:
        table = "room_leases"


@dataclass(frozen=True, slots=True)
class Lease:
    """This node serves `room` under `epoch`."""

    room: str
    epoch: int


@dataclass(frozen=True, slots=True)
class Holder:
    """Another node serves the room (until `expires_at`, unless it renews)."""

    node: str
    url: str
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class NodeRow:
    id: str
    url: str
    heartbeat_at: dt.datetime
    alive: bool
    rooms: int


# The lease is ours when it is free, lapsed, or already this node's (a node
# started again under its id takes its leases over; its old process is fenced
# by the new epoch). Otherwise the holder is read in the same statement.
_CLAIM = """
WITH taken AS (
    INSERT INTO room_leases (room, node, epoch, expires_at)
    VALUES ($1, $2, 1, clock_timestamp() + make_interval(secs => $3))
    ON CONFLICT (room) DO UPDATE
        SET node = EXCLUDED.node, epoch = room_leases.epoch + 1,
            expires_at = EXCLUDED.expires_at
        WHERE room_leases.node = EXCLUDED.node
           OR room_leases.expires_at <= clock_timestamp()
    RETURNING node, epoch, expires_at
)
SELECT node, epoch, expires_at, NULL AS url, TRUE AS ours FROM taken
UNION ALL
SELECT l.node, l.epoch, l.expires_at, n.url, FALSE FROM room_leases l
    LEFT JOIN nodes n ON n.id = l.node
    WHERE l.room = $1 AND NOT EXISTS (SELECT 1 FROM taken)
"""

# One statement per node: every lease still ours and unexpired is extended,
# and the heartbeat with it. The rooms returned are those still held.
_RENEW = """
WITH beat AS (
    INSERT INTO nodes (id, url, heartbeat_at, started_at)
    VALUES ($1, $2, clock_timestamp(), clock_timestamp())
    ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url, heartbeat_at = EXCLUDED.heartbeat_at
    RETURNING id
)
UPDATE room_leases SET expires_at = clock_timestamp() + make_interval(secs => $3)
    WHERE node = $1 AND expires_at > clock_timestamp() AND EXISTS (SELECT 1 FROM beat)
    RETURNING room, epoch
"""

# Held for share until the writer's transaction ends: a takeover (an UPDATE of
# the row) waits for the write to commit, and then loads what it wrote.
_FENCE = """
SELECT l.room FROM room_leases l
    JOIN unnest($2::text[], $3::bigint[]) AS f(room, epoch)
      ON l.room = f.room AND l.epoch = f.epoch
    WHERE l.node = $1 AND l.expires_at > clock_timestamp()
    FOR SHARE OF l
"""


async def claim(conn: BaseDBAsyncClient, room: str, node: str, seconds: float) -> Lease | Holder:
    """Take `room`'s lease for `node` if nobody else holds it, else say who does."""
    rows = await conn.execute_query_dict(_CLAIM, [room, node, seconds])
    row = rows[0]
    if row["ours"]:
        return Lease(room, int(row["epoch"]))
    return Holder(str(row["node"]), str(row["url"] or ""), timestamp(row["expires_at"]))


async def renew(conn: BaseDBAsyncClient, node: str, url: str, seconds: float) -> dict[str, int]:
    """Beat and extend every lease `node` still holds; those rooms with their epochs."""
    rows = await conn.execute_query_dict(_RENEW, [node, url, seconds])
    return {str(row["room"]): int(row["epoch"]) for row in rows}


async def fence(conn: BaseDBAsyncClient, node: str, leases: Mapping[str, int]) -> set[str]:
    """Of `leases` (room -> epoch), the rooms whose epoch is no longer current for
    `node`; those still current are locked for share until the transaction ends."""
    rooms = list(leases)
    rows = await conn.execute_query_dict(_FENCE, [node, rooms, [leases[r] for r in rooms]])
    return set(rooms) - {str(row["room"]) for row in rows}


async def release(conn: BaseDBAsyncClient, node: str, rooms: list[str] | None = None) -> int:
    """Let `node`'s leases (all, or those of `rooms`) lapse now, keeping their epochs,
    so another node may take them at once (a node stopping, or giving one up)."""
    if rooms is None:
        count, _ = await conn.execute_query(
            "UPDATE room_leases SET expires_at = clock_timestamp()"
            " WHERE node = $1 AND expires_at > clock_timestamp()",
            [node],
        )
    else:
        count, _ = await conn.execute_query(
            "UPDATE room_leases SET expires_at = clock_timestamp()"
            " WHERE node = $1 AND room = ANY($2::text[]) AND expires_at > clock_timestamp()",
            [node, rooms],
        )
    return int(count)


async def list_nodes(conn: BaseDBAsyncClient, lease_seconds: float) -> list[NodeRow]:
    """Nodes whose heartbeat is under 3 x LEASE_SECONDS old, with the rooms each holds."""
    rows = await conn.execute_query_dict(
        """
        SELECT n.id, n.url, n.heartbeat_at,
               n.heartbeat_at > clock_timestamp() - make_interval(secs => $1) AS alive,
               (SELECT count(*) FROM room_leases l
                 WHERE l.node = n.id AND l.expires_at > clock_timestamp()) AS rooms
          FROM nodes n
         WHERE n.heartbeat_at > clock_timestamp() - make_interval(secs => $1 * 3)
         ORDER BY n.id
        """,
        [lease_seconds],
    )
    return [
        NodeRow(
            str(r["id"]),
            str(r["url"]),
            timestamp(r["heartbeat_at"]),
            bool(r["alive"]),
            int(r["rooms"]),
        )
        for r in rows
    ]
