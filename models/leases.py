"""Nodes and room leases: who serves which room, by PostgreSQL's clock.

A node is one process of the service (`nodes`: its id, how the others reach
it, its heartbeat). A room is served by at most one node at a time: the node
holding its lease (`room_leases`: the room's name, the node, a fencing epoch
and an expiry). Taking a lease that another node held, or that lapsed, gives
it a new epoch; every write of the room's state checks, in its own
transaction, that the writer's epoch is still the room's and unexpired
(`fence`), holding the lease row (key share) so no takeover can commit between
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


# Reading a lease takes no lock: a node that only learns who holds a room never
# waits for that holder's writes.
_READ = """
SELECT l.node, l.epoch, l.expires_at, l.expires_at > clock_timestamp() AS live, n.url
    FROM room_leases l LEFT JOIN nodes n ON n.id = l.node
    WHERE l.room = $1
"""
_INSERT = """
INSERT INTO room_leases (room, node, epoch, expires_at)
    VALUES ($1, $2, 1, clock_timestamp() + make_interval(secs => $3))
    ON CONFLICT (room) DO NOTHING
    RETURNING epoch
"""
# A takeover locks the row FOR UPDATE, which waits for every write that passed
# the fence (FOR KEY SHARE) to commit; it then sees the row as it is now.
_LOCK = """
SELECT node, epoch, expires_at > clock_timestamp() AS live
    FROM room_leases WHERE room = $1 FOR UPDATE
"""
_TAKE = """
UPDATE room_leases SET node = $2, epoch = epoch + 1,
        expires_at = clock_timestamp() + make_interval(secs => $3)
    WHERE room = $1
    RETURNING epoch
"""

# One statement per node: the heartbeat, and exactly the leases the node holds
# (room and epoch) extended if still theirs and unexpired. The rooms returned
# are those still held. An update of these columns does not conflict with the
# fence's FOR KEY SHARE, so renewing never waits for the node's own writes.
_RENEW = """
WITH beat AS (
    INSERT INTO nodes (id, url, heartbeat_at, started_at)
    VALUES ($1, $2, clock_timestamp(), clock_timestamp())
    ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url, heartbeat_at = EXCLUDED.heartbeat_at
    RETURNING id
)
UPDATE room_leases l SET expires_at = clock_timestamp() + make_interval(secs => $3)
    FROM unnest($4::text[], $5::bigint[]) AS h(room, epoch)
    WHERE l.room = h.room AND l.epoch = h.epoch AND l.node = $1
      AND l.expires_at > clock_timestamp() AND EXISTS (SELECT 1 FROM beat)
    RETURNING l.room, l.epoch
"""


# Held (FOR KEY SHARE, in room order: no two writers deadlock) until the
# writer's transaction ends: a takeover waits for the write to commit, and
# then loads what it wrote.
def fence_query(node: str, rooms: str, epochs: str) -> str:
    """The rooms of `rooms` (a text[] parameter) whose lease is still `node`'s under
    the epoch of `epochs`, locked for key share: the fence of every room write,
    as a query of its own or as a CTE of the write (models/fenced.py)."""
    return (
        "SELECT l.room FROM room_leases l "  # noqa: S608
        f"JOIN unnest({rooms}::text[], {epochs}::bigint[]) AS f(room, epoch) "
        "ON l.room = f.room AND l.epoch = f.epoch "
        f"WHERE l.node = {node} AND l.expires_at > clock_timestamp() "
        "ORDER BY l.room FOR KEY SHARE OF l"
    )


_FENCE = fence_query("$1", "$2", "$3")

# A claim that finds the lease gone or changed between its steps tries again.
_CLAIM_TRIES = 3


async def claim(conn: BaseDBAsyncClient, room: str, node: str, seconds: float) -> Lease | Holder:
    """Take `room`'s lease for `node` if nobody else holds it, else say who does.
    `conn` must be a transaction (the takeover's lock lasts until it ends). A node
    claiming a lease held under its own id takes it over with a new epoch: its
    earlier process, if any still runs, is fenced."""
    for _ in range(_CLAIM_TRIES):
        rows = await conn.execute_query_dict(_READ, [room])
        if not rows:
            inserted = await conn.execute_query_dict(_INSERT, [room, node, seconds])
            if inserted:
                return Lease(room, int(inserted[0]["epoch"]))
            continue  # another node inserted it meanwhile: read who
        row = rows[0]
        if row["live"] and row["node"] != node:
            return Holder(str(row["node"]), str(row["url"] or ""), timestamp(row["expires_at"]))
        locked = await conn.execute_query_dict(_LOCK, [room])
        if locked and locked[0]["live"] and locked[0]["node"] != node:
            continue  # taken by another node while this one waited for the lock
        taken = await conn.execute_query_dict(_TAKE, [room, node, seconds])
        return Lease(room, int(taken[0]["epoch"]))
    raise RuntimeError(f"the lease of {room!r} kept changing hands")


async def renew(
    conn: BaseDBAsyncClient, node: str, url: str, seconds: float, held: Mapping[str, int]
) -> dict[str, int]:
    """Beat, and extend the leases `held` (room -> epoch) that are still the node's;
    those rooms with their epochs."""
    rooms = list(held)
    rows = await conn.execute_query_dict(
        _RENEW, [node, url, seconds, rooms, [held[r] for r in rooms]]
    )
    return {str(row["room"]): int(row["epoch"]) for row in rows}


async def fence(conn: BaseDBAsyncClient, node: str, leases: Mapping[str, int]) -> set[str]:
    """Of `leases` (room -> epoch), the rooms whose epoch is no longer current for
    `node`; those still current are locked (key share) until the transaction ends."""
    rooms = sorted(leases)
    rows = await conn.execute_query_dict(_FENCE, [node, rooms, [leases[r] for r in rooms]])
    return set(rooms) - {str(row["room"]) for row in rows}


async def release(
    conn: BaseDBAsyncClient, node: str, leases: Mapping[str, int] | None = None
) -> int:
    """Let `node`'s leases lapse now (all, or those of `leases`: room -> epoch, so a
    lease taken again since, under a new epoch, is kept), so another node may take
    them at once (a node stopping, or an idle room given up). Epochs are kept."""
    if leases is None:
        count, _ = await conn.execute_query(
            "UPDATE room_leases SET expires_at = clock_timestamp()"
            " WHERE node = $1 AND expires_at > clock_timestamp()",
            [node],
        )
    else:
        rooms = list(leases)
        count, _ = await conn.execute_query(
            "UPDATE room_leases l SET expires_at = clock_timestamp()"
            " FROM unnest($2::text[], $3::bigint[]) AS r(room, epoch)"
            " WHERE l.room = r.room AND l.epoch = r.epoch AND l.node = $1"
            " AND l.expires_at > clock_timestamp()",
            [node, rooms, [leases[r] for r in rooms]],
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
