"""A delegation room whose condition spans chains (DESIGN section 10): a chain that
gives no answer leaves the others' delegations counted; it makes a 503 only
when its answer could decide."""

from __future__ import annotations

from typing import Any

from tests.app.chain.conftest import Gated, Tokens, gated_app
from tests.app.chain.test_delegation_api import ROOM, cold_room, token_for
from tests.fakes.livekit_server import FakeLiveKit
from tests.support import delegate_registry as registry_fixtures
from tests.support.chain import Chain
from tests.support.clock import FakeClock
from tests.support.delegate_registry import DelegateRegistry
from tests.support.rpc_proxy import RPCProxy
from tests.support.server import free_port
from tests.support.settings import AUTH

delegate_registries = registry_fixtures.delegate_registries
delegate_registry = registry_fixtures.delegate_registry

# A chain configured whose RPC refuses every connection.
DEAD_CHAIN = 999


def far_erc20(gated: Gated) -> dict[str, Any]:
    return {"erc20": {"address": gated.tokens.erc20, "min": "1", "chain_id": DEAD_CHAIN}}


def nft(gated: Gated) -> dict[str, Any]:
    return {"erc721": {"address": gated.tokens.erc721}}


async def test_a_chain_without_answer_that_cannot_decide_leaves_a_refusal_a_refusal(
    database_url: str,
    clock: FakeClock,
    chain: Chain,
    tokens: Tokens,
    rpc: RPCProxy,
    fake_livekit: FakeLiveKit,
    delegate_registry: DelegateRegistry,
) -> None:
    urls = f"{chain.chain_id}={rpc.url},{DEAD_CHAIN}=http://127.0.0.1:{free_port()}"
    async with gated_app(
        database_url, clock, chain, tokens, rpc, fake_livekit, chain_rpc_urls=urls
    ) as gated:
        vault, hot = chain.accounts[4], chain.accounts[5]
        delegate_registry.delegate_all(vault, hot)  # a vault that holds nothing
        # Both: the NFT here, which neither the wallet nor any vault here holds.
        await cold_room(gated, {"all": [nft(gated), far_erc20(gated)]})

        status, body, _ = await token_for(gated, hot)
        assert (status, body["code"]) == (403, "access_denied"), body

        # Either: the far chain's answer could admit, so it decides: 503.
        await patch_access(gated, {"any": [nft(gated), far_erc20(gated)]})
        status, body, _ = await token_for(gated, hot)
        assert (status, body["code"]) == (503, "chain_unavailable"), body


async def patch_access(gated: Gated, access: dict[str, Any]) -> None:
    response = await gated.running.client().patch(
        f"/v1/rooms/{ROOM}", json={"access": access}, headers=AUTH
    )
    assert response.status_code == 200
