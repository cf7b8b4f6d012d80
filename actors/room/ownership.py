"""Which rooms this node serves: what a room's actor asks before it loads and
before each message (app/cluster/leases.py answers it on PostgreSQL).

A room's actor serves only while its node holds the room's lease: it claims
the lease when it loads, and checks it (in memory, no query) before every
message, so a node whose lease lapsed (it hung, or could not renew) never
answers for the room from what it remembers. Every write it makes carries
the lease's epoch, and the database refuses a stale one (models/db.py).
"""

from __future__ import annotations

from typing import Protocol

from models.leases import Holder, Lease

__all__ = ["Holder", "Lease", "Ownership", "SoleNode"]


class Ownership(Protocol):
    """This node's leases on rooms."""

    @property
    def node_id(self) -> str: ...

    async def claim(self, room: str, seconds: float | None) -> Lease | Holder:
        """The room's lease for this node (taken now if free or lapsed), or who holds
        it; within `seconds` (None: the database's timeout)."""
        ...

    def current(self, room: str) -> Lease | None:
        """The lease this node holds on `room` and may still act on, else None."""
        ...

    def release(self, lease: Lease) -> None:
        """The room's actor stopped: another node may take the room (that lease only:
        one taken again since is kept)."""
        ...


class SoleNode:
    """One process serves every room (SQLite, where a second process is refused)."""

    def __init__(self, node_id: str) -> None:
        self._node_id = node_id

    @property
    def node_id(self) -> str:
        return self._node_id

    async def claim(self, room: str, seconds: float | None) -> Lease | Holder:
        return Lease(room, 0)

    def current(self, room: str) -> Lease | None:
        return Lease(room, 0)

    def release(self, lease: Lease) -> None:
        return None
