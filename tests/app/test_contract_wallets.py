"""Contract wallets sign in through EIP-1271, and before deployment through EIP-6492 (anvil)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from eth_abi.abi import encode
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from prometheus_client.parser import text_string_to_metric_families

from app.chain.abi import encode_call
from app.wallet.contract_signatures import VALIDATOR_INIT_CODE
from tests.conftest import Client, Running, app_running
from tests.support.chain import Chain
from tests.support.clock import FakeClock
from tests.support.rpc_proxy import RPCProxy
from tests.support.server import free_port
from tests.support.settings import AUTH, make_settings
from tests.support.wallets import SIWE_DOMAIN, get_nonce, new_account, sign_text, siwe_text

ERC6492_SUFFIX = bytes.fromhex("64926492" * 8)
SALT = b"\x07" * 32


@contextlib.asynccontextmanager
async def app_on(
    database_url: str, clock: FakeClock, chain_id: int, url: str, **overrides: object
) -> AsyncIterator[Running]:
    settings = make_settings(
        database_url, siwe_domain=SIWE_DOMAIN, chain_rpc_urls=f"{chain_id}={url}", **overrides
    )
    async with app_running(settings, clock) as running:
        yield running


async def attempt(
    client: Client,
    clock: FakeClock,
    address: str,
    signer: LocalAccount,
    chain_id: int,
    wrap: bool | tuple[str, bytes] = False,
) -> tuple[int, dict]:
    text = siwe_text(address, await get_nonce(client), clock.now(), chain_id=chain_id)
    signature = sign_text(signer, text)
    if isinstance(wrap, tuple):
        factory, calldata = wrap
        inner = bytes.fromhex(signature[2:])
        signature = (
            "0x"
            + (
                encode(["address", "bytes", "bytes"], [factory, calldata, inner]) + ERC6492_SUFFIX
            ).hex()
        )
    response = await client.post("/v1/auth/siwe", json={"message": text, "signature": signature})
    return response.status_code, await response.get_json()


def test_the_embedded_validator_is_its_solidity_source_compiled(anvil_node: Chain) -> None:
    assert anvil_node.artifacts["Erc6492Validator"].bytecode == VALIDATOR_INIT_CODE


async def test_a_deployed_wallet_signs_in_with_its_owners_signature(
    database_url: str, clock: FakeClock, chain: Chain
) -> None:
    owner, stranger = new_account(), new_account()
    wallet = chain.deploy("OwnedWallet", owner.address)
    async with app_on(database_url, clock, chain.chain_id, chain.url) as running:
        client = running.client()
        status, body = await attempt(client, clock, wallet, owner, chain.chain_id)
        assert status == 200, body
        assert (body["address"], body["chain_id"]) == (wallet, chain.chain_id)
        status, body = await attempt(client, clock, wallet, stranger, chain.chain_id)
        assert (status, body["code"]) == (401, "siwe_bad_signature")


def predicted_wallet(chain: Chain, owner: str) -> str:
    factory = chain.addresses["wallet_factory"]
    result = chain.call(factory, "predict(address,bytes32)", owner, SALT)
    return to_checksum_address("0x" + result[-20:].hex())


async def test_an_undeployed_wallet_signs_in_with_eip_6492(
    database_url: str, clock: FakeClock, chain: Chain
) -> None:
    owner, stranger = new_account(), new_account()
    factory = chain.addresses["wallet_factory"]
    wallet = predicted_wallet(chain, owner.address)
    calldata = encode_call("deploy(address,bytes32)", owner.address, SALT)
    async with app_on(database_url, clock, chain.chain_id, chain.url) as running:
        client = running.client()
        status, body = await attempt(
            client, clock, wallet, owner, chain.chain_id, wrap=(factory, calldata)
        )
        assert status == 200, body
        assert body["address"] == wallet
        status, body = await attempt(
            client, clock, wallet, stranger, chain.chain_id, wrap=(factory, calldata)
        )
        assert (status, body["code"]) == (401, "siwe_bad_signature")
    # Checked in a call, not a transaction: the wallet is still not deployed.
    assert chain.rpc("eth_getCode", [wallet, "latest"]) == "0x"


async def test_an_ordinary_account_with_a_wrong_signature_is_refused_on_chain(
    database_url: str, clock: FakeClock, chain: Chain
) -> None:
    account = new_account()
    async with app_on(database_url, clock, chain.chain_id, chain.url) as running:
        status, body = await attempt(
            running.client(), clock, account.address, new_account(), chain.chain_id
        )
    assert (status, body["code"]) == (401, "siwe_bad_signature")


async def test_a_chain_that_cannot_be_asked_is_503_never_a_yes(
    database_url: str, clock: FakeClock, chain: Chain
) -> None:
    owner = new_account()
    wallet = chain.deploy("OwnedWallet", owner.address)
    closed = f"http://127.0.0.1:{free_port()}"
    async with app_on(database_url, clock, chain.chain_id, closed) as running:
        client = running.client()
        response_status, body = await attempt(client, clock, wallet, owner, chain.chain_id)
        assert (response_status, body["code"]) == (503, "chain_unavailable")
        # An ordinary account needs no chain: it still signs in.
        account = new_account()
        status, _ = await attempt(client, clock, account.address, account, chain.chain_id)
        assert status == 200


# -- bounded: SIWE_CALL_GAS, and every chain exchange counted (issue 20, item 5) --


def eth_calls(proxy: RPCProxy) -> list[dict[str, Any]]:
    return [
        item
        for body in proxy.exchanges
        for item in (body if isinstance(body, list) else [body])
        if item["method"] == "eth_call"
    ]


def chain_requests(scraped: str) -> dict[str, float]:
    return {
        sample.labels["outcome"]: sample.value
        for family in text_string_to_metric_families(scraped)
        for sample in family.samples
        if sample.name == "qari_chain_requests_total"
    }


async def test_a_wallet_whose_check_burns_all_gas_is_refused_within_the_cap(
    database_url: str, clock: FakeClock, chain: Chain
) -> None:
    wallet = chain.deploy("BurnerWallet")
    async with (
        RPCProxy(chain.url) as proxy,
        app_on(database_url, clock, chain.chain_id, proxy.url) as running,
    ):
        status, body = await attempt(running.client(), clock, wallet, new_account(), chain.chain_id)
        assert (status, body["code"]) == (401, "siwe_bad_signature")
        [call] = eth_calls(proxy)
        # Not the node's own cap (30M gas, ~0.2 s of work on anvil per attempt).
        assert call["params"][0]["gas"] == hex(3_000_000)
        assert running.services.access.stats.rpc_requests == {"ok": 1}


async def test_a_check_the_node_stops_for_lack_of_gas_is_a_bad_signature(
    database_url: str, clock: FakeClock, chain: Chain
) -> None:
    owner = new_account()
    wallet = chain.deploy("OwnedWallet", owner.address)

    def out_of_gas(body: Any) -> bytes:
        # What anvil answers when the call's own frame runs out of its gas.
        error = {"code": -32603, "message": "EVM error OutOfGas"}
        return json.dumps({"jsonrpc": "2.0", "id": body["id"], "error": error}).encode()

    async with (
        RPCProxy(chain.url) as proxy,
        app_on(database_url, clock, chain.chain_id, proxy.url) as running,
    ):
        proxy.hostile = out_of_gas
        status, body = await attempt(running.client(), clock, wallet, owner, chain.chain_id)
    assert (status, body["code"]) == (401, "siwe_bad_signature")


async def test_a_sign_in_check_that_times_out_is_counted(
    database_url: str, clock: FakeClock, chain: Chain
) -> None:
    owner = new_account()
    wallet = chain.deploy("OwnedWallet", owner.address)
    async with (
        RPCProxy(chain.url) as proxy,
        app_on(
            database_url, clock, chain.chain_id, proxy.url, chain_timeout_seconds=0.3
        ) as running,
    ):
        proxy.slow_down("", seconds=30)
        client = running.client()
        status, body = await attempt(client, clock, wallet, owner, chain.chain_id)
        assert (status, body["code"]) == (503, "chain_unavailable")
        scraped = await client.get("/metrics", headers=AUTH)
        counted = chain_requests((await scraped.get_data()).decode())
    assert counted["timeout"] == 1
    assert counted["ok"] == 0
