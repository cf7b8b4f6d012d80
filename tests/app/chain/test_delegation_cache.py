"""What Qari keeps of the registry's delegation lists (DESIGN section 10, section 3's
cache): a list that admitted nobody is kept like a no (at most 5 s), so a
delegation made just now admits at the next request past that."""

from __future__ import annotations

from tests.app.chain.conftest import Gated
from tests.app.chain.test_delegation_api import (
    ROOM,
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
