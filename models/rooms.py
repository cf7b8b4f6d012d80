"""The rooms table: configuration set by clients, presence kept by the room actor.

Its queries run within their caller's deadline (Database.bounded, or a route's
database_work); a deletion, a transaction of its own, is bounded by it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from models.access import Condition, as_json, stored_condition
from models.db import Database
from models.outbox import append
from models.outbox_events import room_changed


class AccessType(StrEnum):
    PUBLIC = "public"
    TOKEN = "token"  # noqa: S105 - an access type, not a credential
    NFT = "nft"
    # A condition the older fields cannot say: the room's `access` holds it.
    CONDITIONS = "conditions"


class NftStandard(StrEnum):
    ERC721 = "erc721"
    ERC1155 = "erc1155"


# The largest value a uint256 holds: amounts and token ids past it can never be on chain.
MAX_UINT256 = 2**256 - 1


class RoomStatus(StrEnum):
    IDLE = "idle"
    LIVE = "live"


# The longest name the rooms table holds: a LiveKit room with a longer name is
# none of ours (its sessions are still kept, by sid).
MAX_ROOM_NAME = 50


class Room(Model):
    """A room clients created; `status` and `num_participants` follow the webhooks."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=MAX_ROOM_NAME, unique=True)
    access_type = fields.CharEnumField(AccessType, max_length=16, default=AccessType.PUBLIC)
    token_address = fields.CharField(max_length=42, null=True)
    # Base units of an ERC-20 amount can exceed 64 bits: kept as a decimal string.
    token_amount = fields.CharField(max_length=80, null=True)
    nft_address = fields.CharField(max_length=42, null=True)
    # Which chain the token or NFT lives on; chain ids outgrow 32 bits.
    chain_id = fields.BigIntField(default=1)
    nft_standard = fields.CharEnumField(NftStandard, max_length=8, default=NftStandard.ERC721)
    # A uint256, so a decimal string like token_amount.
    nft_token_id = fields.CharField(max_length=80, null=True)
    livekit_sid = fields.CharField(max_length=64, null=True, db_index=True)
    # The wallet (checksummed address) that may manage the room; null: services only.
    owner = fields.CharField(max_length=42, null=True, db_index=True)
    # The access condition (models/access.py) as compact JSON; null: public. The
    # older fields above are kept in step with it (what they can say of it).
    access = fields.TextField(null=True)
    # Wallets may join through vaults that delegated to them (delegate.xyz v2).
    delegation = fields.BooleanField(default=False)
    empty_timeout = fields.IntField(default=600)
    departure_timeout = fields.IntField(default=20)
    max_participants = fields.IntField(default=50)
    metadata = fields.TextField(null=True)
    status = fields.CharEnumField(RoomStatus, max_length=8, default=RoomStatus.IDLE)
    num_participants = fields.IntField(default=0)
    # A recording of it is starting or active (set by every write of its recordings).
    recording = fields.BooleanField(default=False)
    # Who is not its owner knocks and waits for a host (DESIGN.md section 8).
    lobby = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "rooms"


@dataclass(frozen=True, slots=True)
class RoomPresenceRow:
    """The presence columns of a room row, as its webhooks leave them."""

    room_id: int
    status: str
    num_participants: int
    # None keeps the stored sid (an idle room remembers its last LiveKit sid).
    livekit_sid: str | None


@dataclass(frozen=True, slots=True)
class RoomSettings:
    """A room's configuration columns, validated: what a create stores, and what the
    room actor's configuration (actors/room/config.py) and a RoomRow build on."""

    access_type: str
    token_address: str | None
    token_amount: str | None
    nft_address: str | None
    chain_id: int
    nft_standard: str
    nft_token_id: str | None
    empty_timeout: int
    departure_timeout: int
    max_participants: int
    metadata: str | None
    owner: str | None
    lobby: bool
    # The condition's stored text (models/access.py `dumps`), None: public.
    access: str | None = None
    delegation: bool = False

    def as_row(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in dataclass_fields(RoomSettings)}


def settings_condition(settings: RoomSettings) -> Condition | None:
    """The access condition a room's settings hold (the older fields' if `access` is unset)."""
    return stored_condition(
        settings.access,
        settings.access_type,
        settings.chain_id,
        settings.token_address,
        settings.token_amount,
        settings.nft_address,
        settings.nft_standard,
        settings.nft_token_id,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomRow(RoomSettings):
    """A rooms row as plain values: its configuration and its presence."""

    id: int
    name: str
    livekit_sid: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    status: str
    num_participants: int
    recording: bool

    def as_dict(self) -> dict[str, Any]:
        """The Room object of the API (and of room.* events), as plain values."""
        values = {f.name: getattr(self, f.name) for f in dataclass_fields(self)}
        values["access"] = as_json(self.condition())
        return values

    def condition(self) -> Condition | None:
        return settings_condition(self)

    @classmethod
    def of(cls, room: Room) -> RoomRow:
        values = {f.name: getattr(room, f.name) for f in dataclass_fields(cls)}
        # The enum columns as their values (str() of a StrEnum is its value).
        for name in ("access_type", "nft_standard", "status"):
            values[name] = str(values[name])
        return cls(**values)


async def get_room(name: str) -> Room | None:
    """The room of this name; None for a name longer than any stored one."""
    if len(name) > MAX_ROOM_NAME:
        return None
    return await Room.get_or_none(name=name)


async def create_room(
    database: Database,
    fence: Mapping[str, int],
    name: str,
    fields_: dict[str, Any],
    presence: dict[str, Any],
    seconds: float | None = None,
) -> Room:
    """Store a new room, fenced by its actor's lease (within `seconds`), with its
    `room.created` event."""
    async with database.room_write(fence, seconds) as conn:
        room = await Room.create(name=name, **fields_, **presence, using_db=conn)
        await _room_event(conn, "room.created", room, room.created_at)
    database.events_committed()
    return room


async def update_room(
    database: Database,
    fence: Mapping[str, int],
    room_id: int,
    changes: dict[str, Any],
    seconds: float | None = None,
) -> Room:
    """Change a room's row, fenced by its actor's lease (within `seconds`), with its
    `room.updated` event."""
    async with database.room_write(fence, seconds) as conn:
        room = await Room.get(id=room_id, using_db=conn)
        room.update_from_dict(changes)
        # Only what changed: presence and the recording flag are other writers' columns.
        await room.save(using_db=conn, update_fields=[*changes, "updated_at"])
        await _room_event(conn, "room.updated", room, room.updated_at)
    database.events_committed()
    return room


async def room_by_name(name: str) -> RoomRow | None:
    room = await get_room(name)
    return None if room is None else RoomRow.of(room)


async def rooms_after(after_id: int, limit: int) -> list[RoomRow]:
    """At most `limit` rooms whose ids follow `after_id`, by id (oldest first)."""
    rooms = await Room.filter(id__gt=after_id).order_by("id").limit(limit)
    return [RoomRow.of(room) for room in rooms]


async def room_exists(name: str) -> bool:
    return await Room.exists(name=name)


async def count_rooms_owned(wallet: str) -> int:
    return await Room.filter(owner=wallet).count()


async def delete_room(database: Database, fence: Mapping[str, int], room_id: int) -> None:
    """Delete a room (its seats and bans go with it), fenced by its actor's lease,
    with its `room.deleted` event (the room as it was)."""
    async with database.room_write(fence) as conn:
        room = await Room.get_or_none(id=room_id, using_db=conn)
        if room is None:
            return
        await Room.filter(id=room_id).using_db(conn).delete()
        await _room_event(conn, "room.deleted", room, dt.datetime.now(dt.UTC))
    database.events_committed()


async def _room_event(conn: BaseDBAsyncClient, type_: str, room: Room, at: dt.datetime) -> None:
    await append(conn, [room_changed(type_, RoomRow.of(room).as_dict(), at)])


@dataclass(frozen=True, slots=True)
class GatedRoom:
    """A gated room's condition, as the re-check reads it."""

    condition: Condition
    delegation: bool


async def gated_rooms() -> dict[str, GatedRoom]:
    """Every gated room's access condition, by room name."""
    rows = await Room.filter(access_type__not=AccessType.PUBLIC).values(
        "name",
        "access",
        "delegation",
        "access_type",
        "chain_id",
        "token_address",
        "token_amount",
        "nft_address",
        "nft_standard",
        "nft_token_id",
    )
    gated: dict[str, GatedRoom] = {}
    for row in rows:
        name = row.pop("name")
        delegation = bool(row.pop("delegation"))
        condition = stored_condition(**row)
        if condition is not None:
            gated[name] = GatedRoom(condition, delegation)
    return gated


# PostgreSQL's name for the UNIQUE constraint of rooms.name; SQLite names the column.
_NAME_CONSTRAINT = "rooms_name_key"
_SQLITE_NAME_CONFLICT = "UNIQUE constraint failed: rooms.name"


def name_taken(error: Exception) -> bool:
    """Whether an insert into rooms failed on the unique name, and not on anything else.

    Only that is a 409 `room_exists`; any other constraint failing is a fault
    of the schema or the code, not the client's conflict.
    """
    cause = error.args[0] if error.args else error
    constraint = getattr(cause, "constraint_name", None)
    if constraint is not None:
        return bool(constraint == _NAME_CONSTRAINT)
    return _SQLITE_NAME_CONFLICT in str(cause)
