"""A room's bans, as its actor keeps them (stored in `bans`)."""

from __future__ import annotations

from actors.room.errors import BanNotFoundError
from models.bans import BanRow, delete_ban, insert_ban, room_bans
from models.db import Database


class BanList:
    """A room's bans by identity; changed only by the room's actor."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._bans: dict[str, BanRow] = {}

    def __contains__(self, identity: object) -> bool:
        return identity in self._bans

    def reset(self) -> None:
        self._bans = {}

    async def load(self, room_id: int) -> None:
        async with self._database.transaction() as conn:
            rows = await room_bans(conn, room_id)
        self._bans = {row.identity: row for row in rows}

    async def add(self, room_id: int, row: BanRow) -> None:
        async with self._database.transaction() as conn:
            stored = await insert_ban(conn, room_id, row)
        self._bans[stored.identity] = stored

    async def lift(self, room_id: int, identity: str) -> None:
        async with self._database.transaction() as conn:
            lifted = await delete_ban(conn, room_id, identity)
        self._bans.pop(identity, None)
        if not lifted:
            raise BanNotFoundError(identity)

    def rows(self) -> list[BanRow]:
        return sorted(self._bans.values(), key=lambda row: row.created_at)

    def identities(self) -> frozenset[str]:
        return frozenset(self._bans)
