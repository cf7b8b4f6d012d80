"""Delegated wallets through delegate.xyz v2 (DESIGN section 10), over HTTP only.

A room with `delegation: true` admits a hot wallet through a cold vault that
delegated to it in the registry: everything, one contract, or one ERC-721
token. The token request may name `vault`; without it Qari finds the vaults
with `getIncomingDelegations` (at most 10). Each address is judged alone; the
token carries `qari.vault`; the re-check follows that vault. The registry is
delegate.xyz's published source, at its canonical address on anvil (where
DELEGATE_REGISTRY_ADDRESS points by default).
"""

from __future__ import annotations

from typing import Any

import jwt
from eth_utils import to_checksum_address
from livekit.protocol.room import RoomParticipantIdentity

from tests.app.chain.conftest import Gated
from tests.app.chain.helpers import make_room
from tests.support import delegate_registry as registry_fixtures
from tests.support.applied import apply_pending
from tests.support.delegate_registry import DelegateRegistry
from tests.support.outbox import data_of, numbered
from tests.support.settings import AUTH
from tests.support.webhooks import event, participant, room_info, signed

# The registry's fixtures, for this module's tests (tests/app/chain/conftest.py is not ours).
delegate_registries = registry_fixtures.delegate_registries
delegate_registry = registry_fixtures.delegate_registry

ROOM = "cold-holders"
INFO = room_info(ROOM, "RM_cold")
# Made-up addresses: a hot wallet that holds nothing, cold vaults that never sign in.
HOT = to_checksum_address("0x" + "a0" * 20)
VAULT = to_checksum_address("0x" + "c0" * 20)
OTHER_VAULT = to_checksum_address("0x" + "c1" * 20)
NFT_ID = 7


def nft_leaf(gated: Gated, token_id: int | None = None) -> dict[str, Any]:
    leaf: dict[str, Any] = {"address": gated.tokens.erc721}
    if token_id is not None:
        leaf["token_id"] = str(token_id)
    return {"erc721": leaf}


def erc20_leaf(gated: Gated, least: int) -> dict[str, Any]:
    return {"erc20": {"address": gated.tokens.erc20, "min": str(least)}}


async def cold_room(gated: Gated, access: dict[str, Any], *, delegation: bool = True) -> None:
    await make_room(gated.running.client(), ROOM, access=access, delegation=delegation)


def mint_nft(gated: Gated, to: str, token_id: int = NFT_ID) -> None:
    gated.chain.transact(gated.tokens.erc721, "mint(address,uint256)", to, token_id)


def mint_erc20(gated: Gated, to: str, amount: int) -> None:
    gated.chain.transact(gated.tokens.erc20, "mint(address,uint256)", to, amount)


async def token_for(
    gated: Gated, identity: str = HOT, **fields: Any
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, body and the JWT's attributes of a token request."""
    response = await gated.running.client().post(
        f"/v1/rooms/{ROOM}/token", json={"identity": identity, **fields}, headers=AUTH
    )
    body: dict[str, Any] = await response.get_json()
    attributes: dict[str, str] = {}
    if response.status_code == 200:
        claims = jwt.decode(body["token"], options={"verify_signature": False})
        attributes = claims.get("attributes") or {}
    return response.status_code, body, attributes


def assert_admitted_through(answer: tuple[int, dict[str, Any], dict[str, str]], vault: str) -> None:
    status, body, attributes = answer
    assert status == 200, body
    assert attributes.get("qari.vault", "").lower() == vault.lower()


def assert_refused(answer: tuple[int, dict[str, Any], dict[str, str]]) -> None:
    status, body, _ = answer
    assert (status, body.get("code")) == (403, "access_denied"), body


# -- what delegation admits --


async def test_a_vault_that_delegated_everything_admits_its_hot_wallet(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    mint_nft(gated, VAULT)
    delegate_registry.delegate_all(VAULT, HOT)
    await cold_room(gated, nft_leaf(gated))

    assert_admitted_through(await token_for(gated), VAULT)  # found by the registry
    assert_admitted_through(await token_for(gated, vault=VAULT), VAULT)  # named


async def test_a_vault_that_delegated_the_contract_admits_its_hot_wallet(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    mint_nft(gated, VAULT)
    delegate_registry.delegate_contract(VAULT, HOT, gated.tokens.erc721)
    await cold_room(gated, nft_leaf(gated))

    assert_admitted_through(await token_for(gated), VAULT)
    assert_admitted_through(await token_for(gated, vault=VAULT), VAULT)


async def test_a_vault_that_delegated_the_erc721_token_admits_for_that_token(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    mint_nft(gated, VAULT)
    delegate_registry.delegate_erc721(VAULT, HOT, gated.tokens.erc721, NFT_ID)
    await cold_room(gated, nft_leaf(gated, NFT_ID))

    assert_admitted_through(await token_for(gated), VAULT)
    assert_admitted_through(await token_for(gated, vault=VAULT), VAULT)


async def test_a_delegation_of_another_token_or_contract_does_not_admit(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    mint_nft(gated, VAULT)
    mint_nft(gated, VAULT, NFT_ID + 1)
    delegate_registry.delegate_erc721(VAULT, HOT, gated.tokens.erc721, NFT_ID + 1)
    delegate_registry.delegate_contract(VAULT, HOT, gated.tokens.erc20)
    await cold_room(gated, nft_leaf(gated, NFT_ID))

    assert_refused(await token_for(gated))
    assert_refused(await token_for(gated, vault=VAULT))


async def test_a_vault_that_delegated_nothing_does_not_admit(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    mint_nft(gated, VAULT)
    delegate_registry.delegate_all(OTHER_VAULT, HOT)  # a vault that holds nothing
    await cold_room(gated, nft_leaf(gated))

    assert_refused(await token_for(gated))
    assert_refused(await token_for(gated, vault=VAULT))


async def test_a_wallet_that_holds_itself_is_admitted_without_a_vault(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    mint_nft(gated, HOT)
    await cold_room(gated, nft_leaf(gated))

    status, body, attributes = await token_for(gated)

    assert status == 200, body
    assert "qari.vault" not in attributes


async def test_holdings_never_add_up_across_addresses(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    for holder in (HOT, VAULT, OTHER_VAULT):
        mint_erc20(gated, holder, 60)
    delegate_registry.delegate_all(VAULT, HOT)
    delegate_registry.delegate_all(OTHER_VAULT, HOT)
    await cold_room(gated, erc20_leaf(gated, 100))

    assert_refused(await token_for(gated))


async def test_native_and_allowlist_count_only_a_vault_that_delegated_everything(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    delegate_registry.delegate_contract(VAULT, HOT, gated.tokens.erc721)
    await cold_room(gated, {"allowlist": [VAULT]})
    assert_refused(await token_for(gated, vault=VAULT))

    delegate_registry.delegate_all(VAULT, HOT)
    gated.clock.advance(6)  # past the cached no (at most 5 s)
    assert_admitted_through(await token_for(gated, vault=VAULT), VAULT)


async def test_without_vault_at_most_ten_vaults_are_tried_in_the_registry_order(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    vaults = [to_checksum_address(f"0x{n:040x}") for n in range(0xB00, 0xB0B)]
    for vault in vaults:
        delegate_registry.delegate_all(vault, HOT)
    mint_nft(gated, vaults[10])  # the eleventh: never tried
    await cold_room(gated, nft_leaf(gated))
    assert_refused(await token_for(gated))

    mint_nft(gated, vaults[9], NFT_ID + 1)  # the tenth
    gated.clock.advance(6)  # past the cached no (at most 5 s)
    assert_admitted_through(await token_for(gated), vaults[9])


async def test_vault_in_a_room_without_delegation_is_403(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    mint_nft(gated, VAULT)
    delegate_registry.delegate_all(VAULT, HOT)
    await cold_room(gated, nft_leaf(gated), delegation=False)

    assert_refused(await token_for(gated, vault=VAULT))
    assert_refused(await token_for(gated))  # and no vault is looked for


async def test_a_qari_attribute_in_the_token_request_is_422(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    mint_nft(gated, VAULT)
    delegate_registry.delegate_all(VAULT, HOT)
    await cold_room(gated, nft_leaf(gated))

    status, body, _ = await token_for(gated, attributes={"qari.vault": VAULT})

    assert (status, body["code"]) == (422, "validation_error")


async def test_vaults_are_found_and_read_in_at_most_two_batches(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    mint_nft(gated, VAULT)
    delegate_registry.delegate_all(OTHER_VAULT, HOT)
    delegate_registry.delegate_all(VAULT, HOT)
    await cold_room(gated, nft_leaf(gated))
    before = len(gated.rpc.exchanges)

    assert_admitted_through(await token_for(gated), VAULT)

    assert 1 <= len(gated.rpc.exchanges) - before <= 2


# -- the re-check follows the vault --


async def deliver(gated: Gated, *messages: Any) -> None:
    client = gated.running.client()
    for message in messages:
        body, headers = signed(message)
        response = await client.post("/v1/livekit/webhook", data=body, headers=headers)
        assert response.status_code == 200
    await apply_pending(gated.running.services.rooms, ROOM)


async def seated_through(gated: Gated, vault: str, hot: str) -> None:
    """`hot` got a token through `vault` and joined, with the token's attributes."""
    await deliver(gated, event("room_started", INFO))
    answer = await token_for(gated, hot)
    assert_admitted_through(answer, vault)
    gated.livekit.join(ROOM, hot, sid="PA_1")
    who = participant(hot, "PA_1", attributes=answer[2])
    await deliver(gated, event("participant_joined", INFO, who=who))


def removed(gated: Gated) -> list[str]:
    calls = gated.livekit.calls_to("RemoveParticipant")
    return [c.identity for c in calls if isinstance(c, RoomParticipantIdentity)]


async def test_a_revoked_delegation_removes_at_the_recheck(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    vault, hot, keeper = gated.chain.accounts[4], gated.chain.accounts[5], HOT
    mint_nft(gated, vault)
    delegate_registry.delegate_all(vault, hot)
    await cold_room(gated, nft_leaf(gated))
    await seated_through(gated, vault, hot)
    mint_nft(gated, keeper, NFT_ID + 1)  # holds its own: stays
    assert (await token_for(gated, keeper))[0] == 200
    gated.livekit.join(ROOM, keeper, sid="PA_2")
    await deliver(gated, event("participant_joined", INFO, who=participant(keeper, "PA_2")))

    delegate_registry.delegate_all(vault, hot, enable=False)
    await gated.running.gating_sleep.tick()

    assert removed(gated) == [hot]
    (gone,) = data_of(await numbered(gated.running), "participant.removed")
    assert (gone["identity"], gone["by"]) == (hot, "access_recheck")
    assert list(gated.livekit.participants[ROOM]) == [keeper]


async def test_a_vault_that_sold_the_nft_removes_its_hot_wallet_at_the_recheck(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    vault, hot, buyer = gated.chain.accounts[4], gated.chain.accounts[5], gated.chain.accounts[6]
    mint_nft(gated, vault)
    delegate_registry.delegate_contract(vault, hot, gated.tokens.erc721)
    await cold_room(gated, nft_leaf(gated))
    await seated_through(gated, vault, hot)

    gated.chain.transact(
        gated.tokens.erc721,
        "transferFrom(address,address,uint256)",
        vault,
        buyer,
        NFT_ID,
        sender=vault,
    )
    await gated.running.gating_sleep.tick()

    assert removed(gated) == [hot]
    (gone,) = data_of(await numbered(gated.running), "participant.removed")
    assert (gone["identity"], gone["by"]) == (hot, "access_recheck")
