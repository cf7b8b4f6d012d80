"""Rooms: create, list, read, change and delete; every change goes through the room's actor."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints
from quart import Blueprint
from quart_schema import validate_querystring, validate_request, validate_response

from actors.room_protocol import (
    CreateRoom,
    DeleteRoom,
    InvalidRoomConfigError,
    RoomNotFoundError,
    UpdateRoom,
)
from app.errors import APIError
from app.schemas import Address, Metadata, TokenAmount
from app.services import services
from models import AccessType, Room, RoomStatus
from models.rooms import access_rule_violation

blueprint = Blueprint("rooms", __name__)

RoomName = Annotated[
    str, StringConstraints(min_length=3, max_length=50, pattern=r"^[A-Za-z0-9_-]+$")
]
EmptyTimeout = Annotated[int, Field(ge=0, le=86_400)]
DepartureTimeout = Annotated[int, Field(ge=0, le=3_600)]
MaxParticipants = Annotated[int, Field(ge=1, le=10_000)]


class RoomOut(BaseModel):
    """A room, with its presence as the webhooks last reported it."""

    id: int
    name: str
    access_type: AccessType
    token_address: str | None
    token_amount: str | None
    nft_address: str | None
    livekit_sid: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    empty_timeout: int
    departure_timeout: int
    max_participants: int
    metadata: str | None
    status: RoomStatus
    num_participants: int

    @classmethod
    def of(cls, room: Room) -> RoomOut:
        return cls.model_validate(room, from_attributes=True)


class RoomCreate(BaseModel):
    name: RoomName
    access_type: AccessType = AccessType.PUBLIC
    token_address: Address | None = None
    token_amount: TokenAmount | None = None
    nft_address: Address | None = None
    empty_timeout: EmptyTimeout = 600
    departure_timeout: DepartureTimeout = 20
    max_participants: MaxParticipants = 50
    metadata: Metadata | None = None


class RoomPatch(BaseModel):
    """Configuration fields to change; the rest stay as they are."""

    access_type: AccessType | None = None
    token_address: Address | None = None
    token_amount: TokenAmount | None = None
    nft_address: Address | None = None
    empty_timeout: EmptyTimeout | None = None
    departure_timeout: DepartureTimeout | None = None
    max_participants: MaxParticipants | None = None
    metadata: Metadata | None = None


class RoomPage(BaseModel):
    items: list[RoomOut]
    next_cursor: str | None


class RoomListQuery(BaseModel):
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    cursor: Annotated[str, StringConstraints(max_length=64)] | None = None


def _encode_cursor(room_id: int) -> str:
    return base64.urlsafe_b64encode(str(room_id).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return int(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise APIError(
            422,
            "validation_error",
            "Invalid request: cursor",
            extra={
                "errors": [{"loc": ["query", "cursor"], "msg": "bad cursor", "type": "value_error"}]
            },
        ) from None


@blueprint.post("/v1/rooms")
@blueprint.post("/v1/rooms/")
@validate_request(RoomCreate)
@validate_response(RoomOut, 201)
async def post_room(data: RoomCreate) -> tuple[RoomOut, int]:
    """Create a room.

    Mirrored to LiveKit's RoomService when it is configured. An unreachable
    LiveKit does not block creation (the first join creates the LiveKit room
    from the token's configuration); an error from LiveKit is 503 and nothing
    is stored.
    """
    violation = access_rule_violation(
        data.access_type, data.token_address, data.token_amount, data.nft_address
    )
    if violation is not None:
        raise InvalidRoomConfigError(*violation)
    fields = data.model_dump(exclude={"name"})
    room: Room = await services().rooms.ask(data.name, CreateRoom(fields))
    return RoomOut.of(room), 201


@blueprint.get("/v1/rooms")
@validate_querystring(RoomListQuery)
@validate_response(RoomPage)
async def get_rooms(query_args: RoomListQuery) -> RoomPage:
    """List rooms.

    Oldest first, in pages: pass `next_cursor` back as `cursor` for the next page.
    """
    after = _decode_cursor(query_args.cursor) if query_args.cursor else 0
    rooms = await Room.filter(id__gt=after).order_by("id").limit(query_args.limit + 1)
    page = rooms[: query_args.limit]
    more = len(rooms) > query_args.limit
    return RoomPage(
        items=[RoomOut.of(room) for room in page],
        next_cursor=_encode_cursor(page[-1].id) if more and page else None,
    )


@blueprint.get("/v1/rooms/<string:name>")
@validate_response(RoomOut)
async def get_room(name: str) -> RoomOut:
    """Get a room.

    Its configuration, and its presence as the latest applied webhook left it.
    """
    room = await Room.get_or_none(name=name)
    if room is None:
        raise RoomNotFoundError(name)
    return RoomOut.of(room)


@blueprint.patch("/v1/rooms/<string:name>")
@validate_request(RoomPatch)
@validate_response(RoomOut)
async def patch_room(name: str, data: RoomPatch) -> RoomOut:
    """Change a room's configuration.

    Only the fields sent change. New metadata of a live room is pushed to
    LiveKit first; if LiveKit refuses, nothing changes (503).
    """
    changes = data.model_dump(exclude_unset=True)
    room: Room = await services().rooms.ask(name, UpdateRoom(changes))
    return RoomOut.of(room)


@blueprint.delete("/v1/rooms/<string:name>")
async def delete_room(name: str) -> tuple[str, int]:
    """Delete a room.

    A live room is deleted in LiveKit first, which disconnects everyone; if
    LiveKit refuses, the room stays (503). Session history is kept.
    """
    await services().rooms.ask(name, DeleteRoom())
    return "", 204
