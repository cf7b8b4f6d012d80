"""Token requests for gated rooms, checked against a real local chain (anvil).

Each rule of DESIGN.md section 3 admits exactly who it should; every way the
chain can fail to answer is 503 `chain_unavailable` with `Retry-After`, and
never a token.
"""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.settings import Settings
from tests.app.chain.conftest import Gated, Tokens
from tests.app.chain.helpers import ask_token, make_room
from tests.conftest import app_running
from tests.support.chain import Chain
from tests.support.clock import FakeClock
from tests.support.rpc_proxy import RPCProxy
from tests.support.server import free_port
from tests.support.settings import AUTH, make_settings

# Above 2**64: amounts are integers in base units, never floats.
THRESHOLD = 2**64 + 12_345


def holders(chain: Chain) -> tuple[str, str]:
    return chain.accounts[1], chain.accounts[2]


async def test_the_erc20_threshold_is_exact(gated: Gated) -> None:
    chain, client = gated.chain, gated.running.client()
    enough, short = holders(chain)
    chain.transact(gated.tokens.erc20, "mint(address,uint256)", enough, THRESHOLD)
    chain.transact(gated.tokens.erc20, "mint(address,uint256)", short, THRESHOLD - 1)
    await make_room(
        client,
        "erc20-room",
        access_type="token",
        token_address=gated.tokens.erc20,
        token_amount=str(THRESHOLD),
    )
    status, body, _ = await ask_token(client, "erc20-room", enough)
    assert status == 200, body
    assert body["identity"] == enough
    status, body, _ = await ask_token(client, "erc20-room", short)
    assert status == 403
    assert body["code"] == "access_denied"
    assert str(THRESHOLD) in body["detail"]
    assert gated.tokens.erc20.lower() in body["detail"]


async def test_an_identity_that_is_no_address_is_denied_without_a_read(gated: Gated) -> None:
    client = gated.running.client()
    await make_room(client, "nft-room", access_type="nft", nft_address=gated.tokens.erc721)
    status, body, _ = await ask_token(client, "nft-room", "alice")
    assert status == 403
    assert body["code"] == "access_denied"
    assert "not an address" in body["detail"]
    assert gated.rpc.eth_calls() == 0


async def test_a_transfer_away_and_back_follows_the_cache_expiry(gated: Gated) -> None:
    chain, client, clock = gated.chain, gated.running.client(), gated.clock
    holder, buyer = holders(chain)
    token = gated.tokens.erc20
    chain.transact(token, "mint(address,uint256)", holder, 100)
    await make_room(
        client, "cached-room", access_type="token", token_address=token, token_amount="100"
    )
    assert (await ask_token(client, "cached-room", holder))[0] == 200

    chain.transact(token, "transfer(address,uint256)", buyer, 100, sender=holder)
    clock.advance(59)
    assert (await ask_token(client, "cached-room", holder))[0] == 200  # the yes is still trusted
    clock.advance(2)
    assert (await ask_token(client, "cached-room", holder))[0] == 403  # expired: read again

    chain.transact(token, "transfer(address,uint256)", holder, 100, sender=buyer)
    clock.advance(4)
    assert (await ask_token(client, "cached-room", holder))[0] == 403  # the no, for <= 5 s
    clock.advance(1.5)
    assert (await ask_token(client, "cached-room", holder))[0] == 200


@pytest.mark.parametrize("rule", ["erc721-any", "erc721-id", "erc1155-id"])
async def test_each_nft_rule(gated: Gated, rule: str) -> None:
    chain, client, tokens = gated.chain, gated.running.client(), gated.tokens
    member, outsider = holders(chain)
    if rule == "erc721-any":
        chain.transact(tokens.erc721, "mint(address,uint256)", member, 1)
        fields: dict[str, object] = {"nft_address": tokens.erc721}
    elif rule == "erc721-id":
        chain.transact(tokens.erc721, "mint(address,uint256)", member, 7)
        # The outsider holds another token of the same contract: not enough.
        chain.transact(tokens.erc721, "mint(address,uint256)", outsider, 8)
        fields = {"nft_address": tokens.erc721, "nft_token_id": "7"}
    else:
        chain.transact(tokens.erc1155, "mint(address,uint256,uint256)", member, 3, 2)
        chain.transact(tokens.erc1155, "mint(address,uint256,uint256)", outsider, 4, 5)
        fields = {"nft_address": tokens.erc1155, "nft_standard": "erc1155", "nft_token_id": "3"}
    await make_room(client, "nft-rule", access_type="nft", **fields)
    assert (await ask_token(client, "nft-rule", member))[0] == 200
    status, body, _ = await ask_token(client, "nft-rule", outsider)
    assert (status, body["code"]) == (403, "access_denied")


async def test_an_erc721_token_id_nobody_owns_admits_nobody(gated: Gated) -> None:
    client = gated.running.client()
    await make_room(
        client, "unminted", access_type="nft", nft_address=gated.tokens.erc721, nft_token_id="99"
    )
    # ownerOf reverts for a token that does not exist: a definite no, not an outage.
    status, body, _ = await ask_token(client, "unminted", holders(gated.chain)[0])
    assert (status, body["code"]) == (403, "access_denied")


def assert_unavailable(status: int, body: dict[str, object], retry_after: str) -> None:
    assert status == 503
    assert body["code"] == "chain_unavailable"
    assert retry_after.isdigit()
    assert "token" not in body


async def test_an_address_without_code_fails_closed_and_says_why(gated: Gated) -> None:
    client = gated.running.client()
    holder = holders(gated.chain)[0]
    # Created while the chain did not answer (a chain that answers refuses it:
    # test_room_creation.py); an ordinary account: eth_call there returns nothing.
    gated.rpc.down = True
    await make_room(client, "no-code", access_type="token", token_address=holder, token_amount="1")
    gated.rpc.down = False
    status, body, retry_after = await ask_token(client, "no-code", holder)
    assert_unavailable(status, body, retry_after)
    # Retrying will not fix it: the detail says the cause instead of "retry".
    assert "no such contract" in str(body["detail"])
    assert "retry" not in str(body["detail"])


async def test_a_chain_not_configured_fails_closed_and_says_why(
    database_url: str, clock: FakeClock, chain: Chain, tokens: Tokens, rpc: RPCProxy
) -> None:
    # A room made while chain 999 was configured, then the setting changed.
    before = make_settings(database_url, chain_rpc_urls=f"999={rpc.url}")
    async with app_running(before, clock) as running:
        await make_room(
            running.client(),
            "elsewhere",
            access_type="nft",
            nft_address=tokens.erc721,
            chain_id=999,
        )
    rpc.exchanges.clear()
    after = make_settings(database_url, chain_rpc_urls=f"{chain.chain_id}={rpc.url}")
    async with app_running(after, clock) as running:
        status, body, retry_after = await ask_token(
            running.client(), "elsewhere", holders(chain)[0]
        )
    assert_unavailable(status, body, retry_after)
    assert "CHAIN_RPC_URLS" in str(body["detail"])
    assert rpc.exchanges == []


async def test_an_rpc_slower_than_the_timeout_fails_closed_and_is_not_cached(
    gated: Gated,
) -> None:
    chain, client = gated.chain, gated.running.client()
    holder = holders(chain)[0]
    chain.transact(gated.tokens.erc721, "mint(address,uint256)", holder, 1)
    await make_room(client, "slow-chain", access_type="nft", nft_address=gated.tokens.erc721)
    gated.rpc.slow_down("", seconds=5)  # every exchange, 10 x CHAIN_TIMEOUT_SECONDS
    assert_unavailable(*await ask_token(client, "slow-chain", holder))
    gated.rpc.slow_down("", seconds=0)
    # The unknown answer was not kept: the next request reads again, and is admitted.
    assert (await ask_token(client, "slow-chain", holder))[0] == 200
    assert gated.running.services.access.stats.rpc_requests["timeout"] == 1


async def test_a_closed_rpc_port_fails_closed(
    database_url: str, clock: FakeClock, chain: Chain
) -> None:
    settings: Settings = make_settings(
        database_url,
        chain_rpc_urls=f"{chain.chain_id}=http://127.0.0.1:{free_port()}",
        default_chain_id=chain.chain_id,
    )
    async with app_running(settings, clock) as running:
        client = running.client()
        await make_room(
            client,
            "closed-port",
            access_type="token",
            token_address=chain.accounts[0],
            token_amount="1",
        )
        assert_unavailable(*await ask_token(client, "closed-port", chain.accounts[1]))
        # One at the room's creation (which a silent chain does not stop), one for the token.
        assert running.services.access.stats.rpc_requests["unreachable"] == 2
        scraped = await client.get("/metrics", headers=AUTH)
        exported = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families((await scraped.get_data()).decode())
            for sample in family.samples
        }
        unreachable = (("outcome", "unreachable"),)
        assert exported[("qari_chain_requests_total", unreachable)] == 2
        assert exported[("qari_gating_checks_total", (("result", "unavailable"),))] == 1


async def test_fifty_concurrent_requests_for_one_pair_make_one_read(gated: Gated) -> None:
    chain, client = gated.chain, gated.running.client()
    holder = holders(chain)[0]
    chain.transact(gated.tokens.erc20, "mint(address,uint256)", holder, 10)
    await make_room(
        client,
        "burst-room",
        access_type="token",
        token_address=gated.tokens.erc20,
        token_amount="10",
    )
    results = await asyncio.gather(*(ask_token(client, "burst-room", holder) for _ in range(50)))
    assert [status for status, _, _ in results] == [200] * 50
    assert gated.rpc.eth_calls() <= 2
    stats = gated.running.services.access.stats
    assert stats.checks >= 50
    assert stats.admitted >= 50
    assert stats.rpc_requests["ok"] == len(gated.rpc.exchanges)
    assert stats.rpc_seconds_count == stats.rpc_requests.total()


async def test_a_slow_check_does_not_hold_other_identities(gated: Gated) -> None:
    chain, client = gated.chain, gated.running.client()
    slow, quick = holders(chain)
    for holder in (slow, quick):
        chain.transact(
            gated.tokens.erc721, "mint(address,uint256)", holder, int(holder, 16) % 10**6
        )
    await make_room(client, "busy-room", access_type="nft", nft_address=gated.tokens.erc721)
    # Under the timeout, so the slow one is admitted in the end.
    gated.rpc.slow_down(slow, seconds=0.4)
    slow_request = asyncio.create_task(ask_token(client, "busy-room", slow))
    async with asyncio.timeout(5):
        while not gated.rpc.exchanges:
            await asyncio.sleep(0.01)
    status, _, _ = await asyncio.wait_for(ask_token(client, "busy-room", quick), 5)
    assert status == 200
    assert not slow_request.done()  # still waiting on its chain read, not on the room
    gated.rpc.release.set()
    assert (await asyncio.wait_for(slow_request, 5))[0] == 200


async def test_a_changed_condition_is_checked_before_the_next_token(gated: Gated) -> None:
    chain, client = gated.chain, gated.running.client()
    holder = holders(chain)[0]
    await make_room(client, "changing")
    assert (await ask_token(client, "changing", holder))[0] == 200
    gate = {"access_type": "nft", "nft_address": gated.tokens.erc721}
    response = await client.patch("/v1/rooms/changing", json=gate, headers=AUTH)
    assert response.status_code == 200
    assert (await ask_token(client, "changing", holder))[0] == 403
    chain.transact(gated.tokens.erc721, "mint(address,uint256)", holder, 5)
    # A stricter condition is a new question: no earlier answer applies to it.
    response = await client.patch("/v1/rooms/changing", json={"nft_token_id": "5"}, headers=AUTH)
    assert response.status_code == 200
    assert (await ask_token(client, "changing", holder))[0] == 200
    response = await client.patch(
        "/v1/rooms/changing", json={"access_type": "public"}, headers=AUTH
    )
    assert response.status_code == 200
    assert (await ask_token(client, "changing", "alice"))[0] == 200


async def test_a_room_without_chain_id_takes_the_default(gated: Gated) -> None:
    room = await make_room(gated.running.client(), "default-chain")
    assert room["chain_id"] == gated.chain.chain_id
