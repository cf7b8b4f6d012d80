"""Rooms: create, list, read, change and delete; every change goes through the room's actor."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic.json_schema import SkipJsonSchema
from quart import Blueprint
from quart_schema import validate_querystring, validate_request, validate_response

from actors.room.protocol import (
    CreateRoom,
    DeleteRoom,
    InvalidRoomConfigError,
    RoomChanges,
    RoomNotFoundError,
    RoomSettings,
    UpdateRoom,
)
from app.chain.creation import refuse_unusable_gate
from app.http.auth import current_caller, forbidden, wallet_allowed
from app.http.database_budget import database_work
from app.http.errors import APIError, documents_errors
from app.http.openapi import documents_plain_response
from app.http.room_access import acting_manager, rooms_owned
from app.http.schemas import (
    Address,
    ChainId,
    Metadata,
    RequestBody,
    RoomName,
    TokenAmount,
    TokenId,
    WalletAddress,
    reject_impossible_room_names,
)
from app.services import Services, services
from models import AccessType, NftStandard, RoomStatus
from models.access import (
    Allowlist,
    Condition,
    ConditionError,
    dumps,
    from_legacy,
    leaves,
    parse,
    to_legacy,
)
from models.access_rules import access_rule_violation
from models.rooms import RoomRow, room_by_name, rooms_after

blueprint = Blueprint("rooms", __name__)
blueprint.before_request(reject_impossible_room_names)

EmptyTimeout = Annotated[int, Field(ge=0, le=86_400)]
DepartureTimeout = Annotated[int, Field(ge=0, le=3_600)]
MaxParticipants = Annotated[int, Field(ge=1, le=10_000)]
MAX_ROOM_ID = 2**31 - 1


class RoomOut(BaseModel):
    """A room, with its presence as the webhooks last reported it."""

    id: int
    name: str
    access_type: AccessType
    token_address: str | None
    token_amount: str | None
    nft_address: str | None
    chain_id: int
    nft_standard: NftStandard
    nft_token_id: str | None
    livekit_sid: str | None
    owner: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    empty_timeout: int
    departure_timeout: int
    max_participants: int
    metadata: str | None
    status: RoomStatus
    num_participants: int
    # A recording of the room is starting or active.
    recording: bool
    # Who does not own the room knocks and waits for a host to let them in.
    lobby: bool
    # Who may join: the condition tree (null: public). `access_type` and the older
    # fields say the same when they can (`conditions` when they cannot).
    access: dict[str, Any] | None
    # Wallets may join through vaults that delegated to them (delegate.xyz v2).
    delegation: bool

    @classmethod
    def of(cls, room: RoomRow) -> RoomOut:
        return cls.model_validate(room.as_dict())


# The access rules, stated in the schema too, so generated clients know them.
ACCESS_RULES_SCHEMA: dict[str, Any] = {
    "allOf": [
        {
            "if": {"properties": {"access_type": {"const": "token"}}, "required": ["access_type"]},
            "then": {
                "required": ["token_address", "token_amount"],
                "properties": {
                    "token_address": {"type": "string"},
                    "token_amount": {"type": "string", "pattern": "^0*[1-9][0-9]{0,77}$"},
                },
            },
        },
        {
            "if": {"properties": {"access_type": {"const": "nft"}}, "required": ["access_type"]},
            "then": {
                "required": ["nft_address"],
                "properties": {"nft_address": {"type": "string"}},
            },
        },
        {
            "if": {
                "properties": {
                    "access_type": {"const": "nft"},
                    "nft_standard": {"const": "erc1155"},
                },
                "required": ["access_type", "nft_standard"],
            },
            "then": {
                "required": ["nft_token_id"],
                "properties": {"nft_token_id": {"type": "string"}},
            },
        },
    ]
}


# Section 10's condition tree; validated by models/access.py (a 422 names what is wrong).
AccessBody = Annotated[
    dict[str, Any] | None,
    Field(
        description=(
            "Who may join: one of {all: [...]}, {any: [...]} (1-10 children, at most 3"
            " nested, 10 leaves in all), {erc20: {address, min}}, {erc721: {address,"
            " token_id?}}, {erc1155: {address, token_id, min?}}, {native: {min}},"
            " {unlock: {lock}}, {allowlist: [address, ...]} (at most 1000); amounts are"
            " decimal strings of base units, at least 1; each leaf may name chain_id"
            " (default the room's). Null: public. Not with the older access_type fields."
        )
    ),
]
LEGACY_ACCESS_FIELDS = frozenset(
    {"access_type", "token_address", "token_amount", "nft_address", "nft_standard", "nft_token_id"}
)


class RoomCreate(RequestBody):
    model_config = ConfigDict(json_schema_extra=ACCESS_RULES_SCHEMA)

    name: RoomName
    access_type: AccessType = AccessType.PUBLIC
    token_address: Address | None = None
    token_amount: TokenAmount | None = None
    nft_address: Address | None = None
    # Left out: the service's DEFAULT_CHAIN_ID.
    chain_id: ChainId | SkipJsonSchema[None] = None
    nft_standard: NftStandard = NftStandard.ERC721
    nft_token_id: TokenId | None = None
    empty_timeout: EmptyTimeout = 600
    departure_timeout: DepartureTimeout = 20
    max_participants: MaxParticipants = 50
    metadata: Metadata | None = None
    # The wallet that may manage the room. A wallet creating a room owns it.
    owner: WalletAddress | None = None
    # Token requests by wallets other than the owner knock and wait for a host.
    lobby: bool = False
    access: AccessBody = None
    delegation: bool = False


class RoomPatch(RequestBody):
    """Configuration fields to change; the rest stay as they are.

    The nullable fields (addresses, amount, metadata) may be set to null; the
    others may be left out but not nulled.
    """

    model_config = ConfigDict(json_schema_extra=ACCESS_RULES_SCHEMA)

    access_type: AccessType | SkipJsonSchema[None] = None
    token_address: Address | None = None
    token_amount: TokenAmount | None = None
    nft_address: Address | None = None
    chain_id: ChainId | SkipJsonSchema[None] = None
    nft_standard: NftStandard | SkipJsonSchema[None] = None
    nft_token_id: TokenId | None = None
    empty_timeout: EmptyTimeout | SkipJsonSchema[None] = None
    departure_timeout: DepartureTimeout | SkipJsonSchema[None] = None
    max_participants: MaxParticipants | SkipJsonSchema[None] = None
    metadata: Metadata | None = None
    lobby: bool | SkipJsonSchema[None] = None
    access: AccessBody = None
    delegation: bool | SkipJsonSchema[None] = None

    @field_validator(
        "access_type",
        "lobby",
        "delegation",
        "chain_id",
        "nft_standard",
        "empty_timeout",
        "departure_timeout",
        "max_participants",
    )
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may be left out, not set to null")
        return value


class RoomPage(BaseModel):
    items: list[RoomOut]
    next_cursor: str | None


class RoomListQuery(BaseModel):
    # A misspelt parameter is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, Field(ge=1, le=200)] = 50
    # Opaque to clients; it is the id the previous page ended at.
    cursor: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}$")] | None = None


@blueprint.post("/v1/rooms")
@blueprint.post("/v1/rooms/")
@wallet_allowed
@validate_request(RoomCreate)
@validate_response(RoomOut, 201)
@documents_errors(400, 401, 403, 409, 413, 422, 503)
async def create_room(data: RoomCreate) -> tuple[RoomOut, int]:
    """Create a room.

    Mirrored to LiveKit's RoomService when it is configured. An unreachable
    LiveKit does not block creation (the first join creates the LiveKit room
    from the token's configuration); an error from LiveKit is 503 and nothing
    is stored. A service may name any `owner`; a wallet owns what it creates
    (at most `WALLET_MAX_ROOMS` rooms, else 409 `room_limit`).

    Who may join is `access`, a condition tree (`all`/`any` of `erc20`,
    `erc721`, `erc1155`, `native`, `unlock` and `allowlist` leaves), or the
    older `access_type` fields (not both: 422). A tree that breaks a rule, or
    names a chain not in `CHAIN_RPC_URLS`, is 422 naming where. With
    `delegation`, wallets may qualify through vaults that delegated to them.
    """
    fields = data.model_dump(exclude={"name"}, mode="json")
    app_services = services()
    if fields["chain_id"] is None:
        fields["chain_id"] = app_services.settings.default_chain_id
    if "access" in data.model_fields_set:
        _refuse_both(data.model_fields_set)
        condition = _parsed(app_services, data.access, fields["chain_id"])
        fields.update(to_legacy(condition, fields["chain_id"]), access=dumps(condition))
    else:
        if data.access_type == AccessType.CONDITIONS:
            raise InvalidRoomConfigError("access_type", _GIVE_ACCESS)
        access = (data.access_type, data.token_address, data.token_amount, data.nft_address)
        violation = access_rule_violation(*access, data.nft_standard, data.nft_token_id)
        if violation is not None:
            raise InvalidRoomConfigError(*violation)
        await refuse_unusable_gate(app_services.chain, fields)
        fields["access"] = dumps(from_legacy(**{k: fields[k] for k in _LEGACY_ARGS}))
    wallet = current_caller().address
    if wallet is None:
        room = await app_services.rooms.ask(data.name, CreateRoom(RoomSettings(**fields)))
        return RoomOut.of(room), 201
    if data.owner is not None and data.owner != wallet:
        raise forbidden("A wallet creates rooms it owns itself: leave out `owner` or name yours.")
    fields["owner"] = wallet
    limit = app_services.settings.wallet_max_rooms
    async with app_services.owner_locks.hold(wallet):
        if await rooms_owned(wallet) >= limit:
            raise APIError(409, "room_limit", f"A wallet may own at most {limit} rooms.")
        room = await app_services.rooms.ask(data.name, CreateRoom(RoomSettings(**fields)))
    return RoomOut.of(room), 201


@blueprint.get("/v1/rooms")
@wallet_allowed
@validate_querystring(RoomListQuery)
@validate_response(RoomPage)
@documents_errors(401, 422, 503)
async def list_rooms(query_args: RoomListQuery) -> RoomPage:
    """List rooms.

    Oldest first, in pages: pass `next_cursor` back as `cursor` for the next page.
    """
    # Ids are 32-bit; a larger cursor is past the end.
    after = min(int(query_args.cursor), MAX_ROOM_ID) if query_args.cursor else 0
    async with database_work():
        rooms = await rooms_after(after, query_args.limit + 1)
    page = rooms[: query_args.limit]
    more = len(rooms) > query_args.limit
    return RoomPage(
        items=[RoomOut.of(room) for room in page],
        next_cursor=str(page[-1].id) if more and page else None,
    )


@blueprint.get("/v1/rooms/<string:name>")
@wallet_allowed
@validate_response(RoomOut)
@documents_errors(401, 404, 503)
async def get_room(name: str) -> RoomOut:
    """Get a room.

    Its configuration, and its presence as the latest applied webhook left it.
    """
    async with database_work():
        room = await room_by_name(name)
    if room is None:
        raise RoomNotFoundError(name)
    return RoomOut.of(room)


@blueprint.patch("/v1/rooms/<string:name>")
@wallet_allowed
@validate_request(RoomPatch)
@validate_response(RoomOut)
@documents_errors(400, 401, 403, 404, 413, 422, 503)
async def update_room(name: str, data: RoomPatch) -> RoomOut:
    """Change a room's configuration.

    Only the fields sent change. New metadata of a live room is pushed to
    LiveKit first; if LiveKit refuses, nothing changes (503). A wallet may
    change only rooms it owns. A new `access` replaces the condition (the
    older fields then say what they can of it); the older fields cannot
    change a tree they cannot say (422).
    """
    manager = acting_manager()
    given = data.model_dump(exclude_unset=True, mode="json")
    if "access" in given:
        _refuse_both(set(given))
        chain_id = given.get("chain_id")
        if chain_id is None:
            async with database_work():
                room = await room_by_name(name)
            if room is None:
                raise RoomNotFoundError(name)
            chain_id = room.chain_id
        condition = _parsed(services(), given["access"], chain_id)
        given.update(to_legacy(condition, chain_id), access=dumps(condition))
    changes = RoomChanges(**given)
    return RoomOut.of(await services().rooms.ask(name, UpdateRoom(changes, manager)))


_GIVE_ACCESS = "a room whose access the older fields cannot say is set with `access`"
_LEGACY_ARGS = ("access_type", "chain_id", *sorted(LEGACY_ACCESS_FIELDS - {"access_type"}))


def _refuse_both(given: set[str]) -> None:
    both = sorted(given & LEGACY_ACCESS_FIELDS)
    if both:
        raise InvalidRoomConfigError(
            "access", f"give `access` or the older fields ({', '.join(both)}), not both"
        )


def _parsed(app_services: Services, body: Any, chain_id: int) -> Condition | None:
    """The condition of an `access` body, on chains this service reads; else 422."""
    try:
        condition = parse(body, chain_id)
    except ConditionError as error:
        raise InvalidRoomConfigError(error.where, error.message) from None
    if condition is None:
        return None
    for leaf in leaves(condition):
        if not isinstance(leaf, Allowlist) and not app_services.chain.is_configured(leaf.chain_id):
            raise InvalidRoomConfigError(
                "access",
                f"chain {leaf.chain_id} is not one this service reads"
                " (CHAIN_RPC_URLS has no URL for it)",
            )
    return condition


@blueprint.delete("/v1/rooms/<string:name>")
@wallet_allowed
@documents_plain_response(204, "Deleted.")
@documents_errors(401, 403, 404, 503)
async def delete_room(name: str) -> tuple[str, int]:
    """Delete a room.

    A live room is deleted in LiveKit first, which disconnects everyone; if
    LiveKit refuses, the room stays (503). Session history is kept. A wallet
    may delete only rooms it owns.
    """
    manager = acting_manager()
    await services().rooms.ask(name, DeleteRoom(manager))
    return "", 204
