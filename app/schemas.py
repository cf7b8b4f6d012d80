"""Field types shared by the request schemas."""

from __future__ import annotations

import re
from typing import Annotated

from eth_utils.address import is_checksum_address, to_checksum_address
from pydantic import AfterValidator, Field, StringConstraints
from quart import request

from actors.room_protocol import RoomNotFoundError

MAX_METADATA_LENGTH = 8192
ROOM_NAME_PATTERN = r"^[A-Za-z0-9_-]{3,50}$"
_ROOM_NAME = re.compile(ROOM_NAME_PATTERN)

RoomName = Annotated[str, StringConstraints(pattern=ROOM_NAME_PATTERN)]


def reject_impossible_room_names() -> None:
    """Before a room route runs: a name no room can have is 404 without a query.

    Registered on the room blueprints, so it runs after the API-key guard.
    """
    name = (request.view_args or {}).get("name")
    if name is not None and not _ROOM_NAME.fullmatch(name):
        raise RoomNotFoundError(name)


Address = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^0x[0-9a-fA-F]{40}$"),
    # One spelling per address, so comparisons and lookups agree.
    AfterValidator(str.lower),
    Field(examples=["0x52908400098527886e0f7030069857d2e4169ee7"]),
]


def _checksummed(value: str) -> str:
    # All-lower or all-upper hex carries no checksum: spell it the EIP-55 way.
    # Mixed case is a checksum, and a wrong one is a typo we must not store.
    digits = value[2:]
    if digits not in (digits.lower(), digits.upper()) and not is_checksum_address(value):
        raise ValueError("mixed-case address with a wrong EIP-55 checksum")
    return to_checksum_address(value)


# A wallet (people's identities, room owners): always stored EIP-55 checksummed.
WalletAddress = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^0x[0-9a-fA-F]{40}$"),
    AfterValidator(_checksummed),
    Field(examples=["0x52908400098527886E0F7030069857D2E4169EE7"]),
]
# Base units of an ERC-20 amount overflow 64 bits, so it travels as a decimal string.
TokenAmount = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,78}$")]
# Any text but NUL, which PostgreSQL cannot store.
Metadata = Annotated[str, StringConstraints(max_length=MAX_METADATA_LENGTH, pattern=r"^[^\x00]*$")]
