"""A wallet admitted through a vault stays at the re-check while the vault still
qualifies, whatever leaf compares the vault's address (DESIGN section 10).

The actor keeps the vault as the token carries it (checksummed); the rules compare
lower case: an ERC-721 token id's owner and an allowlist's members must still match.
"""

from __future__ import annotations

from actors.room.protocol import ReadVaults
from tests.app.chain.conftest import Gated
from tests.app.chain.test_delegation_api import (
    NFT_ID,
    OTHER_VAULT,
    ROOM,
    cold_room,
    mint_nft,
    nft_leaf,
    removed,
    seated_through,
    token_for,
)
from tests.support import delegate_registry as registry_fixtures
from tests.support.delegate_registry import DelegateRegistry

delegate_registries = registry_fixtures.delegate_registries
delegate_registry = registry_fixtures.delegate_registry


async def test_a_vault_admitted_wallet_stays_in_an_erc721_token_id_room(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    vault, hot = gated.chain.accounts[4], gated.chain.accounts[5]
    mint_nft(gated, vault)
    delegate_registry.delegate_all(vault, hot)
    await cold_room(gated, nft_leaf(gated, NFT_ID))
    await seated_through(gated, vault, hot)

    await gated.running.gating_sleep.tick()
    await gated.running.gating_sleep.tick()

    assert removed(gated) == []


async def test_a_vault_admitted_wallet_stays_in_an_allowlist_room(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    vault, hot = gated.chain.accounts[4], gated.chain.accounts[5]
    delegate_registry.delegate_all(vault, hot)
    await cold_room(gated, {"allowlist": [vault]})
    await seated_through(gated, vault, hot)

    await gated.running.gating_sleep.tick()
    await gated.running.gating_sleep.tick()

    assert removed(gated) == []


async def test_a_token_request_naming_a_wrong_vault_leaves_the_seated_wallet_be(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    vault, hot = gated.chain.accounts[4], gated.chain.accounts[5]
    mint_nft(gated, vault)
    delegate_registry.delegate_all(vault, hot)
    await cold_room(gated, nft_leaf(gated, NFT_ID))
    await seated_through(gated, vault, hot)

    status, body, _ = await token_for(gated, hot, vault=OTHER_VAULT)  # delegated nothing
    assert (status, body["code"]) == (403, "access_denied")

    rooms = gated.running.services.rooms
    assert await rooms.ask(ROOM, ReadVaults()) == {hot: vault}
    assert (await token_for(gated, hot))[0] == 200
