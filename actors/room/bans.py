"""A room's bans, as its actor keeps them (stored in `bans`)."""

from __future__ import annotations

import contextlib
from dataclasses import replace

from tortoise.backends.base.client import BaseDBAsyncClient

from actors.room.errors import BanNotFoundError
from actors.room.identity import canonical_identity, is_address
from models.bans import BanRow, delete_ban, insert_ban, room_bans
from models.db import Database
from models.leases import Lease


class BanList:
    """A room's bans by identity; changed only by the room's actor."""

    def __init__(self, database: Database, lease: Lease) -> None:
        self._database = database
        # The lease the room's actor holds: every write carries it (fenced).
        self.lease = lease
        self._bans: dict[str, BanRow] = {}

    def __contains__(self, identity: object) -> bool:
        return identity in self._bans

    def reset(self) -> None:
        self._bans = {}

    async def load(self, room_id: int) -> None:
        async with self._database.transaction() as conn:
            rows = await room_bans(conn, room_id)
        # A ban stored before identities had one spelling counts in the one spelling.
        canonical = [replace(r, identity=canonical_identity(r.identity)) for r in rows]
        self._bans = {r.identity: r for r in canonical}

    def _write(self) -> contextlib.AbstractAsyncContextManager[BaseDBAsyncClient]:
        return self._database.room_write({self.lease.room: self.lease.epoch})

    async def add(self, room_id: int, row: BanRow) -> None:
        async with self._write() as conn:
            stored = await insert_ban(conn, room_id, row)
        self._bans[stored.identity] = stored

    async def lift(self, room_id: int, identity: str) -> None:
        async with self._write() as conn:
            # An address banned before identities had one spelling may be stored in
            # another case: any spelling of it is lifted.
            lifted = await delete_ban(conn, room_id, identity, any_case=is_address(identity))
        self._bans.pop(identity, None)
        if not lifted:
            raise BanNotFoundError(identity)

    def rows(self) -> list[BanRow]:
        return sorted(self._bans.values(), key=lambda row: row.created_at)

    def identities(self) -> frozenset[str]:
        return frozenset(self._bans)
