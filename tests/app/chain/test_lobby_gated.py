"""A lobby in a gated room (DESIGN.md sections 8 and 10), on anvil and both databases.

The access condition is checked before a knock: who does not qualify gets 403
and no ticket. Who qualifies through a delegated vault knocks, and once a host
admits them their token carries `qari.vault`, and the room's actor follows that
vault at the re-check, as it does for a token issued at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from eth_utils import to_checksum_address

from actors.room.protocol import ReadVaults
from tests.app.chain.conftest import Gated, Tokens, gated_app
from tests.fakes.livekit_server import FakeLiveKit
from tests.support import delegate_registry as registry_fixtures
from tests.support.chain import Chain
from tests.support.clock import FakeClock
from tests.support.delegate_registry import DelegateRegistry
from tests.support.rpc_proxy import RPCProxy
from tests.support.wallets import SIWE_DOMAIN, Wallet, sign_in

delegate_registries = registry_fixtures.delegate_registries
delegate_registry = registry_fixtures.delegate_registry

ROOM = "gated-lobby"
VAULT = to_checksum_address("0x" + "c2" * 20)
NFT_ID = 11


@pytest.fixture
async def gated(
    database_url: str,
    clock: FakeClock,
    chain: Chain,
    tokens: Tokens,
    rpc: RPCProxy,
    fake_livekit: FakeLiveKit,
) -> AsyncIterator[Gated]:
    async with gated_app(
        database_url, clock, chain, tokens, rpc, fake_livekit, siwe_domain=SIWE_DOMAIN
    ) as app:
        yield app


async def wallet(gated: Gated) -> Wallet:
    return await sign_in(gated.running.client(), gated.clock.now(), chain_id=gated.chain.chain_id)


async def lobby_room(gated: Gated, owner: Wallet) -> None:
    body = {
        "name": ROOM,
        "lobby": True,
        "delegation": True,
        "access": {"erc721": {"address": gated.tokens.erc721}},
    }
    response = await gated.running.client().post("/v1/rooms", json=body, headers=owner.auth)
    assert response.status_code == 201, await response.get_json()


async def call(gated: Gated, method: str, path: str, who: Wallet, **body: Any) -> Any:
    client = gated.running.client()
    url = f"/v1/rooms/{ROOM}{path}"
    if method == "GET":
        response = await client.get(url, headers=who.auth)
    else:
        response = await client.post(url, json=body, headers=who.auth)
    return response.status_code, await response.get_json()


async def test_who_does_not_qualify_is_refused_before_knocking(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    owner, stranger = await wallet(gated), await wallet(gated)
    await lobby_room(gated, owner)

    status, body = await call(gated, "POST", "/token", stranger)
    assert (status, body["code"]) == (403, "access_denied"), body
    status, listed = await call(gated, "GET", "/lobby", owner)
    assert (status, listed["items"]) == (200, [])


async def test_a_knock_through_a_vault_is_admitted_with_the_vault_in_its_token(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    owner, hot = await wallet(gated), await wallet(gated)
    gated.chain.transact(gated.tokens.erc721, "mint(address,uint256)", VAULT, NFT_ID)
    delegate_registry.delegate_all(VAULT, hot.address)
    await lobby_room(gated, owner)

    status, knocked = await call(gated, "POST", "/token", hot)
    assert (status, knocked["status"]) == (202, "waiting"), knocked
    ticket = knocked["ticket"]
    status, _ = await call(gated, "POST", f"/lobby/{ticket}/admit", owner)
    assert status == 204
    status, answer = await call(gated, "GET", f"/lobby/{ticket}", hot)
    assert (status, answer["status"]) == (200, "admitted"), answer

    claims = jwt.decode(answer["token"]["token"], options={"verify_signature": False})
    assert claims["sub"] == hot.address
    assert claims["attributes"]["qari.vault"].lower() == VAULT.lower()
    vaults = await gated.running.services.rooms.ask(ROOM, ReadVaults())
    assert {k: (v or "").lower() for k, v in vaults.items()} == {hot.address: VAULT.lower()}


async def test_a_ticket_checked_under_another_condition_is_not_admitted(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    """A condition added after the knocks: admitting hands out no token to someone never
    checked against it. The ticket is denied (`access_changed`); a knock again is
    checked against the condition now, and keeps its place when it qualifies."""
    owner, alice, bob, carol = [await wallet(gated) for _ in range(4)]
    for token_id, holder in ((21, bob), (22, carol)):
        gated.chain.transact(gated.tokens.erc721, "mint(address,uint256)", holder.address, token_id)
    client = gated.running.client()
    body = {"name": ROOM, "lobby": True}
    response = await client.post("/v1/rooms", json=body, headers=owner.auth)
    assert response.status_code == 201
    tickets = {}
    for who in (alice, bob, carol):
        status, knocked = await call(gated, "POST", "/token", who)
        assert status == 202, knocked
        tickets[who.address] = knocked["ticket"]
    response = await client.patch(
        f"/v1/rooms/{ROOM}",
        json={"access": {"erc721": {"address": gated.tokens.erc721}}},
        headers=owner.auth,
    )
    assert response.status_code == 200, await response.get_json()

    # Alice, who holds nothing, was never checked against it: not admitted.
    status, body = await call(gated, "POST", f"/lobby/{tickets[alice.address]}/admit", owner)
    assert (status, body["code"]) == (409, "access_changed")
    status, answer = await call(gated, "GET", f"/lobby/{tickets[alice.address]}", alice)
    assert answer == {"status": "denied", "token": None, "reason": "access_changed"}
    status, body = await call(gated, "POST", "/token", alice)
    assert (status, body["code"]) == (403, "access_denied")

    # Bob knocks again: checked now, his ticket keeps its place. Carol did not.
    status, knocked = await call(gated, "POST", "/token", bob)
    assert (status, knocked["ticket"]) == (202, tickets[bob.address])
    status, body = await call(gated, "POST", "/lobby/admit-all", owner)
    assert (status, body) == (200, {"admitted": 1})
    status, answer = await call(gated, "GET", f"/lobby/{tickets[bob.address]}", bob)
    assert answer["status"] == "admitted"
    status, answer = await call(gated, "GET", f"/lobby/{tickets[carol.address]}", carol)
    assert (answer["status"], answer["reason"]) == ("denied", "access_changed")
