"""A room's `access` tree over HTTP, on anvil (DESIGN.md section 10): stored and read
back, refused with a 422 naming what is wrong, decided three-valued, its leaves read
in one JSON-RPC batch per chain."""

from __future__ import annotations

from typing import Any

from livekit.protocol.room import RoomParticipantIdentity
from quart.typing import TestClientProtocol as Client

from tests.app.chain.conftest import Gated
from tests.app.chain.helpers import ask_token, make_room, seat
from tests.support.chain import Chain
from tests.support.settings import AUTH

# An address with no code on anvil: a leaf on it never answers (no contract there).
NOWHERE = "0x" + "0e" * 20


def holders(chain: Chain) -> list[str]:
    return list(chain.accounts[1:4])


def erc20(gated: Gated, least: int) -> dict[str, Any]:
    return {"erc20": {"address": gated.tokens.erc20, "min": str(least)}}


def erc721(gated: Gated) -> dict[str, Any]:
    return {"erc721": {"address": gated.tokens.erc721}}


async def create(client: Client, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = await client.post("/v1/rooms", json=body, headers=AUTH)
    return response.status_code, await response.get_json()


async def test_a_tree_is_stored_and_read_back(gated: Gated) -> None:
    client = gated.running.client()
    access = {"any": [erc20(gated, 5), {"allowlist": [holders(gated.chain)[0]]}]}
    created = await make_room(client, "tree", access=access, delegation=True)

    assert created["access_type"] == "conditions"
    assert created["token_address"] is None
    assert created["delegation"] is True
    first = created["access"]["any"][0]["erc20"]
    assert (first["min"], first["chain_id"]) == ("5", gated.chain.chain_id)
    response = await client.get("/v1/rooms/tree", headers=AUTH)
    assert (await response.get_json())["access"] == created["access"]


async def test_the_older_fields_read_back_as_access_and_one_leaf_as_them(gated: Gated) -> None:
    client = gated.running.client()
    old = await make_room(
        client, "old", access_type="token", token_address=gated.tokens.erc20, token_amount="7"
    )
    assert old["access"] == {
        "erc20": {"address": gated.tokens.erc20, "min": "7", "chain_id": gated.chain.chain_id}
    }
    new = await make_room(client, "new", access=erc721(gated))
    assert (new["access_type"], new["nft_address"]) == ("nft", gated.tokens.erc721)
    public = await make_room(client, "open")
    assert (public["access"], public["access_type"]) == (None, "public")


async def test_access_with_the_older_fields_is_422(gated: Gated) -> None:
    status, body = await create(
        gated.running.client(),
        {"name": "both", "access": erc721(gated), "access_type": "nft"},
    )
    assert (status, body["code"]) == (422, "validation_error")
    assert "access_type" in body["detail"]


async def test_a_bad_tree_is_422_naming_where(gated: Gated) -> None:
    client = gated.running.client()
    bad = {"any": [erc20(gated, 5), {"erc20": {"address": gated.tokens.erc20, "min": "0"}}]}
    status, body = await create(client, {"name": "bad", "access": bad})
    assert (status, body["code"]) == (422, "validation_error")
    assert "access.any[1].erc20.min" in body["detail"]

    far = {"erc20": {"address": gated.tokens.erc20, "min": "1", "chain_id": 999}}
    status, body = await create(client, {"name": "far", "access": far})
    assert status == 422
    assert "chain 999" in body["detail"]


async def test_a_patch_changes_the_tree_and_the_older_fields_cannot(gated: Gated) -> None:
    client = gated.running.client()
    await make_room(client, "patched", access=erc721(gated))
    tree = {"all": [erc721(gated), erc20(gated, 2)]}
    response = await client.patch("/v1/rooms/patched", json={"access": tree}, headers=AUTH)
    body = await response.get_json()
    assert response.status_code == 200, body
    assert (body["access_type"], len(body["access"]["all"])) == ("conditions", 2)

    response = await client.patch("/v1/rooms/patched", json={"token_amount": "3"}, headers=AUTH)
    assert response.status_code == 422
    response = await client.patch("/v1/rooms/patched", json={"access": None}, headers=AUTH)
    assert (await response.get_json())["access_type"] == "public"


async def test_any_admits_on_one_yes_whatever_else_is_unknown(gated: Gated) -> None:
    client = gated.running.client()
    member, outsider = holders(gated.chain)[:2]
    gated.chain.transact(gated.tokens.erc20, "mint(address,uint256)", member, 5)
    nowhere = {"erc721": {"address": NOWHERE}}
    await make_room(client, "either", access={"any": [nowhere, erc20(gated, 5)]})

    assert (await ask_token(client, "either", member))[0] == 200
    # Without the yes, the unknown decides: never a no, never a yes.
    status, body, _ = await ask_token(client, "either", outsider)
    assert (status, body["code"]) == (503, "chain_unavailable")


async def test_all_refuses_on_one_no_naming_it_and_an_unknown_that_decides_is_503(
    gated: Gated,
) -> None:
    client = gated.running.client()
    member, outsider = holders(gated.chain)[:2]
    gated.chain.transact(gated.tokens.erc20, "mint(address,uint256)", member, 5)
    nowhere = {"erc721": {"address": NOWHERE}}
    await make_room(client, "both-needed", access={"all": [nowhere, erc20(gated, 5)]})

    status, body, _ = await ask_token(client, "both-needed", outsider)
    assert (status, body["code"]) == (403, "access_denied")
    assert gated.tokens.erc20.lower() in body["detail"]
    assert NOWHERE not in body["detail"]
    status, body, _ = await ask_token(client, "both-needed", member)
    assert (status, body["code"]) == (503, "chain_unavailable")


async def test_the_leaves_of_a_request_go_in_one_batch(gated: Gated) -> None:
    client = gated.running.client()
    member = holders(gated.chain)[0]
    gated.chain.transact(gated.tokens.erc1155, "mint(address,uint256,uint256)", member, 3, 2)
    access = {
        "any": [
            erc721(gated),
            {"native": {"min": str(10**30)}},
            {"erc1155": {"address": gated.tokens.erc1155, "token_id": "3", "min": "2"}},
        ]
    }
    await make_room(client, "three", access=access)
    before = len(gated.rpc.exchanges)

    assert (await ask_token(client, "three", member))[0] == 200

    [batch] = gated.rpc.exchanges[before:]
    assert isinstance(batch, list)
    assert sorted(call["method"] for call in batch) == ["eth_call", "eth_call", "eth_getBalance"]
    # Cached: the next request reads nothing.
    assert (await ask_token(client, "three", member))[0] == 200
    assert len(gated.rpc.exchanges) == before + 1


async def test_native_and_allowlist_leaves(gated: Gated) -> None:
    client = gated.running.client()
    rich, listed = holders(gated.chain)[:2]
    pauper = "0x" + "0d" * 20
    await make_room(client, "coins", access={"native": {"min": "1"}})
    assert (await ask_token(client, "coins", rich))[0] == 200
    assert (await ask_token(client, "coins", pauper))[0] == 403

    await make_room(client, "listed", access={"allowlist": [listed]})
    before = len(gated.rpc.exchanges)
    assert (await ask_token(client, "listed", listed))[0] == 200
    assert (await ask_token(client, "listed", rich))[0] == 403
    assert len(gated.rpc.exchanges) == before  # no chain read


async def test_a_vault_in_a_room_without_delegation_is_403(gated: Gated) -> None:
    client = gated.running.client()
    await make_room(client, "open-room")
    response = await client.post(
        "/v1/rooms/open-room/token",
        json={"identity": holders(gated.chain)[0], "vault": holders(gated.chain)[1]},
        headers=AUTH,
    )
    assert (response.status_code, (await response.get_json())["code"]) == (403, "access_denied")


def removed(gated: Gated) -> list[str]:
    calls = gated.livekit.calls_to("RemoveParticipant")
    return [c.identity for c in calls if isinstance(c, RoomParticipantIdentity)]


async def test_the_recheck_decides_the_tree_for_each_participant(gated: Gated) -> None:
    chain, tokens = gated.chain, gated.tokens
    both, tokens_only, buyer = holders(chain)
    for holder in (both, tokens_only):
        chain.transact(tokens.erc20, "mint(address,uint256)", holder, 50)
    chain.transact(tokens.erc721, "mint(address,uint256)", both, 11)
    await make_room(
        gated.running.client(), "tree-room", access={"any": [erc20(gated, 50), erc721(gated)]}
    )
    await seat(gated, "tree-room", [both, tokens_only])
    # Both sell their tokens: the NFT still admits one of them.
    for seller in (both, tokens_only):
        chain.transact(tokens.erc20, "transfer(address,uint256)", buyer, 50, sender=seller)

    await gated.running.gating_sleep.tick()

    assert removed(gated) == [tokens_only]
    assert list(gated.livekit.participants["tree-room"]) == [both]


async def test_delegation_is_set_and_read_back_by_patch(gated: Gated) -> None:
    client = gated.running.client()
    await make_room(client, "later", access=erc721(gated))
    response = await client.patch("/v1/rooms/later", json={"delegation": True}, headers=AUTH)
    assert (await response.get_json())["delegation"] is True
    response = await client.patch("/v1/rooms/later", json={"delegation": None}, headers=AUTH)
    assert response.status_code == 422
