"""Field types shared by the request schemas."""

from __future__ import annotations

import re
from typing import Annotated, Any, get_args

from eth_utils.address import to_checksum_address
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from quart import request

from actors.room.protocol import RoomNotFoundError

MAX_METADATA_LENGTH = 8192
ROOM_NAME_PATTERN = r"^[A-Za-z0-9_-]{3,50}$"
_ROOM_NAME = re.compile(ROOM_NAME_PATTERN)

RoomName = Annotated[str, StringConstraints(pattern=ROOM_NAME_PATTERN)]


class RequestBody(BaseModel):
    """The base of every JSON request body: an unknown field is an error.

    Not silently dropped: a misspelt `max_participant` would otherwise fall back
    to the default, and PATCH `{"name": ...}` would answer 200 and change nothing.
    (NUL in any text of a body is refused before this, in `app.http.request_body`.)
    """

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # JSON's true is no number: pydantic's lax mode would read it as 1 (a room
        # of one participant for `"max_participants": true`).
        if isinstance(value, bool) and info.field_name is not None:
            annotation = cls.model_fields[info.field_name].annotation
            if annotation is not bool and bool not in get_args(annotation):
                raise ValueError("a JSON boolean is not accepted here")
        return value


def is_possible_room_name(name: str) -> bool:
    """Whether any room could have this name (others are 404 without a query)."""
    return _ROOM_NAME.fullmatch(name) is not None


async def reject_impossible_room_names() -> None:
    """Before a room route runs: a name no room can have is 404 without a query.

    Registered on the room blueprints, so it runs after the API-key guard.
    Async on purpose: Quart runs a sync hook in a thread pool, and that hop
    (a thread wake-up and a future) was the largest single cost of a token
    request in py-spy.
    """
    name = (request.view_args or {}).get("name")
    if name is not None and not _ROOM_NAME.fullmatch(name):
        raise RoomNotFoundError(name)


# A contract's address (a gated room's token): any spelling in, stored EIP-55
# checksummed like every other address, so comparisons and lookups agree.
Address = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^0x[0-9a-fA-F]{40}$"),
    AfterValidator(to_checksum_address),
    Field(examples=["0x52908400098527886E0F7030069857D2E4169EE7"]),
]


# A wallet (people's identities, room owners): any spelling in, stored EIP-55
# checksummed, so it compares equal to the address a wallet signs in with.
WalletAddress = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^0x[0-9a-fA-F]{40}$"),
    AfterValidator(to_checksum_address),
    Field(examples=["0x52908400098527886E0F7030069857D2E4169EE7"]),
]
# Base units of an ERC-20 amount overflow 64 bits, so it travels as a decimal string.
TokenAmount = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,78}$")]
# A uint256 token id, in one spelling (no leading zeros) so equal ids compare equal.
TokenId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,78}$"),
    AfterValidator(lambda value: str(int(value))),
]
# EIP-155 chain ids; past 2**53 JavaScript clients could not tell two apart.
ChainId = Annotated[int, Field(ge=1, le=2**53 - 1)]
# Any text but NUL, which PostgreSQL cannot store.
Metadata = Annotated[str, StringConstraints(max_length=MAX_METADATA_LENGTH, pattern=r"^[^\x00]*$")]
