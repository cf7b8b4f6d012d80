"""A gated room that can never admit anyone is refused when it is created.

Without this, a room on a chain the service does not read, or gated on an
address that holds no contract, is created, and then every token request is
a 503 "retry shortly" that no retry fixes. Checked at creation (DESIGN.md
section 3): a chain missing from CHAIN_RPC_URLS is 422 naming the chain; an
address without code on a chain that answers is 422 naming the address. A
chain that does not answer now proves nothing: the room is created, and its
token requests answer 503 until the chain does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from app.chain.rpc import ChainRPC
from app.chain.rpc_errors import ChainError
from app.http.errors import APIError
from models.rooms import AccessType

log = logging.getLogger(__name__)


def _refusal(field: str, message: str) -> APIError:
    # The shape of every other 422, with the cause in `detail` too, not only in `errors`.
    return APIError(
        422,
        "validation_error",
        f"Invalid request: {field}: {message}",
        extra={"errors": [{"loc": ["body", field], "msg": message, "type": "value_error"}]},
    )


async def refuse_unusable_gate(chain: ChainRPC, room: Mapping[str, Any]) -> None:
    """Raise a 422 when the room's fields gate it on something that cannot admit anyone.

    `room` holds the create body's fields, `chain_id` already defaulted.
    """
    access_type = room.get("access_type")
    if access_type == AccessType.TOKEN:
        field = "token_address"
    elif access_type == AccessType.NFT:
        field = "nft_address"
    else:
        return
    chain_id: int = room["chain_id"]
    address: str = room[field]
    if not chain.is_configured(chain_id):
        raise _refusal(
            "chain_id",
            f"chain {chain_id} is not one this service reads (CHAIN_RPC_URLS has no URL for it)",
        )
    try:
        code = await chain.get_code(chain_id, address)
    except ChainError as error:
        log.info("room creation: the contract at %s was not checked (%s)", address, error)
        return
    if not code:
        raise _refusal(field, f"{address} holds no contract on chain {chain_id}")
