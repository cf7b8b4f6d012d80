"""How Qari reads and keeps the registry's delegation lists (DESIGN section 10).

A list that admitted nobody is kept like a no (at most 5 s), so a delegation
made just now admits at the next request past that; the 10 vaults tried are
10 whose delegations cover the condition; a wallet anyone spammed with
delegations still gets its list read."""

from __future__ import annotations

from eth_utils import to_checksum_address

from tests.app.chain.conftest import Gated
from tests.app.chain.test_delegation_api import (
    ROOM,
    assert_admitted_through,
    cold_room,
    mint_nft,
    nft_leaf,
    token_for,
)
from tests.support import delegate_registry as registry_fixtures
from tests.support.delegate_registry import DelegateRegistry

delegate_registries = registry_fixtures.delegate_registries
delegate_registry = registry_fixtures.delegate_registry


async def test_a_new_delegation_admits_once_a_no_has_expired(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    empty, holding, hot = gated.chain.accounts[3], gated.chain.accounts[4], gated.chain.accounts[5]
    mint_nft(gated, holding)
    delegate_registry.delegate_all(empty, hot)  # a vault that holds nothing
    await cold_room(gated, nft_leaf(gated))
    assert (await token_for(gated, hot))[0] == 403

    delegate_registry.delegate_all(holding, hot)
    gated.clock.advance(6)

    status, body, _ = await token_for(gated, hot)
    assert status == 200, body
    assert ROOM in body["room"]


async def test_vaults_that_delegated_something_else_do_not_crowd_out_one_that_counts(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    hot = gated.chain.accounts[5]
    others = [to_checksum_address(f"0x{n:040x}") for n in range(0xD00, 0xD0A)]
    for vault in others:  # ten vaults delegating a contract the room does not read
        delegate_registry.delegate_contract(vault, hot, gated.tokens.erc20)
    holding = gated.chain.accounts[4]
    mint_nft(gated, holding)
    delegate_registry.delegate_contract(holding, hot, gated.tokens.erc721)  # the eleventh
    await cold_room(gated, nft_leaf(gated))

    assert_admitted_through(await token_for(gated, hot), holding)


async def test_a_wallet_spammed_with_delegations_still_qualifies_through_its_vault(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    hot = gated.chain.accounts[5]
    for n in range(80):  # past what CHAIN_CALL_GAS lists (~67)
        delegate_registry.delegate_all(to_checksum_address(f"0x{0xE00 + n:040x}"), hot)
    holding = gated.chain.accounts[4]
    mint_nft(gated, holding)
    delegate_registry.delegate_all(holding, hot)
    await cold_room(gated, nft_leaf(gated))

    status, body, _ = await token_for(gated, hot)
    # The listing answers; the 80 spam vaults come first and hold nothing (only 10 are
    # tried), so this is a no, not a 503 for a listing out of gas.
    assert (status, body["code"]) == (403, "access_denied"), body
