"""Gated rooms that could never admit anyone are refused at creation (issue 21, item 5)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.app.chain.conftest import Gated
from tests.app.chain.helpers import make_room
from tests.support.settings import AUTH


async def refused(gated: Gated, name: str, **fields: object) -> dict[str, Any]:
    client = gated.running.client()
    response = await client.post("/v1/rooms", json={"name": name, **fields}, headers=AUTH)
    body: dict[str, Any] = await response.get_json()
    assert (response.status_code, body["code"]) == (422, "validation_error"), body
    # Nothing was stored.
    assert (await client.get(f"/v1/rooms/{name}", headers=AUTH)).status_code == 404
    return body


@pytest.mark.parametrize("access", ["token", "nft"])
async def test_a_gated_room_on_a_chain_not_configured_is_422_naming_the_chain(
    gated: Gated, access: str
) -> None:
    fields: dict[str, object] = (
        {"token_address": gated.tokens.erc20, "token_amount": "1"}
        if access == "token"
        else {"nft_address": gated.tokens.erc721}
    )
    body = await refused(gated, "elsewhere", access_type=access, chain_id=999, **fields)
    assert "chain 999" in body["detail"]
    assert "CHAIN_RPC_URLS" in body["detail"]
    assert body["errors"][0]["loc"] == ["body", "chain_id"]
    assert gated.rpc.exchanges == []  # known without asking any chain


async def test_a_public_room_may_name_any_chain(gated: Gated) -> None:
    room = await make_room(gated.running.client(), "public-elsewhere", chain_id=999)
    assert room["chain_id"] == 999


@pytest.mark.parametrize("access", ["token", "nft"])
async def test_an_address_without_a_contract_is_422_naming_the_address(
    gated: Gated, access: str
) -> None:
    account = gated.chain.accounts[1]  # an ordinary account: no code
    field = "token_address" if access == "token" else "nft_address"
    fields: dict[str, object] = {field: account}
    if access == "token":
        fields["token_amount"] = "1"
    body = await refused(gated, "no-code", access_type=access, **fields)
    assert account.lower() in body["detail"].lower()
    assert f"chain {gated.chain.chain_id}" in body["detail"]
    assert body["errors"][0]["loc"] == ["body", field]


async def test_a_contract_is_accepted_and_a_silent_chain_does_not_block_creation(
    gated: Gated,
) -> None:
    client = gated.running.client()
    await make_room(client, "real-nft", access_type="nft", nft_address=gated.tokens.erc721)
    # Whether the address holds code cannot be known now: the room is created.
    gated.rpc.down = True
    account = gated.chain.accounts[1]
    await make_room(
        client, "unchecked", access_type="token", token_address=account, token_amount="1"
    )
