"""The JSON-RPC client against a real anvil, and each way a chain read fails, for real."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from eth_utils import to_checksum_address

from app.chain.abi import decode_result, encode_call
from app.chain.rpc import ChainRPC
from app.chain.rpc_errors import (
    ChainBadResponseError,
    ChainNotConfiguredError,
    ChainRPCError,
    ChainTimeoutError,
    ChainUnreachableError,
    ExecutionRevertedError,
    OutOfGasError,
)
from app.chain.rpc_requests import RPCRequest, eth_call_request
from app.settings import Settings
from app.settings_checks import parse_chain_rpc_urls
from tests.support.chain import Chain
from tests.support.server import free_port

SALT = b"\x01" * 32


@contextlib.asynccontextmanager
async def client(urls: dict[int, str], timeout: float = 2.0) -> AsyncIterator[ChainRPC]:
    rpc = ChainRPC(urls, timeout)
    await rpc.open()
    try:
        yield rpc
    finally:
        await rpc.close()


@contextlib.asynccontextmanager
async def loopback_server(answer: bytes | None) -> AsyncIterator[str]:
    """An HTTP server that reads a request, then answers `answer`, or stalls (None)."""
    release = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            await reader.readuntil(b"\r\n\r\n")
            if answer is None:
                await release.wait()
            else:
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(answer)}\r\nConnection: close\r\n\r\n".encode()
                    + answer
                )
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        release.set()
        server.close()
        await server.wait_closed()


async def test_eth_chain_id_and_get_code(chain: Chain) -> None:
    async with client({chain.chain_id: chain.url}) as rpc:
        assert await rpc.chain_id(chain.chain_id) == chain.chain_id
        factory = chain.addresses["wallet_factory"]
        assert len(await rpc.get_code(chain.chain_id, factory)) > 0
        assert await rpc.get_code(chain.chain_id, chain.accounts[1]) == b""


async def test_eth_call_encodes_and_decodes_with_eth_abi(chain: Chain) -> None:
    factory = chain.addresses["wallet_factory"]
    owner = chain.accounts[1]
    async with client({chain.chain_id: chain.url}) as rpc:
        data = encode_call("predict(address,bytes32)", owner, SALT)
        (predicted,) = decode_result(["address"], await rpc.call(chain.chain_id, factory, data))
        assert await rpc.get_code(chain.chain_id, predicted) == b""
        chain.transact(factory, "deploy(address,bytes32)", owner, SALT)
        assert await rpc.get_code(chain.chain_id, predicted) != b""
        wallet = to_checksum_address(predicted)
        (stored,) = decode_result(
            ["address"], await rpc.call(chain.chain_id, wallet, encode_call("owner()"))
        )
        assert to_checksum_address(stored) == owner


async def test_eth_call_at_an_older_block_sees_the_state_then(chain: Chain) -> None:
    factory = chain.addresses["wallet_factory"]
    owner = chain.accounts[2]
    async with client({chain.chain_id: chain.url}) as rpc:
        data = encode_call("predict(address,bytes32)", owner, SALT)
        (predicted,) = decode_result(["address"], await rpc.call(chain.chain_id, factory, data))
        before = int(chain.rpc("eth_blockNumber"), 16)
        chain.transact(factory, "deploy(address,bytes32)", owner, SALT)
        assert await rpc.get_code(chain.chain_id, predicted, before) == b""
        assert await rpc.get_code(chain.chain_id, predicted, "latest") != b""


async def test_a_deployless_call_runs_init_code_without_deploying(chain: Chain) -> None:
    # Init code that returns the 32-byte word 0x2a: PUSH1 2a PUSH1 0 MSTORE PUSH1 20 PUSH1 0 RETURN.
    init_code = bytes.fromhex("602a60005260206000f3")
    async with client({chain.chain_id: chain.url}) as rpc:
        result = await rpc.call(chain.chain_id, None, init_code)
    assert decode_result(["uint256"], result) == (42,)


async def test_a_batch_answers_in_order_with_per_call_errors(chain: Chain) -> None:
    factory = chain.addresses["wallet_factory"]
    async with client({chain.chain_id: chain.url}) as rpc:
        answers = await rpc.batch(
            chain.chain_id,
            [
                RPCRequest("eth_chainId", []),
                RPCRequest("eth_getCode", [factory, "latest"]),
                eth_call_request(factory, encode_call("nope()")),
                RPCRequest("eth_noSuchMethod", []),
            ],
        )
    assert int(answers[0], 16) == chain.chain_id
    assert isinstance(answers[1], str)
    assert len(answers[1]) > 2
    assert isinstance(answers[2], ExecutionRevertedError)
    assert isinstance(answers[3], ChainRPCError)
    assert not isinstance(answers[3], ExecutionRevertedError)
    async with client({chain.chain_id: chain.url}) as rpc:
        assert await rpc.batch(chain.chain_id, []) == []


async def test_a_reverted_call_is_execution_reverted(chain: Chain) -> None:
    async with client({chain.chain_id: chain.url}) as rpc:
        with pytest.raises(ExecutionRevertedError):
            await rpc.call(chain.chain_id, chain.addresses["wallet_factory"], encode_call("nope()"))


async def test_an_error_answer_is_an_rpc_error_with_its_code(chain: Chain) -> None:
    async with client({chain.chain_id: chain.url}) as rpc:
        with pytest.raises(ChainRPCError) as raised:
            await rpc.request(chain.chain_id, "eth_noSuchMethod", [])
    assert raised.value.code == -32601
    assert not isinstance(raised.value, ExecutionRevertedError)


async def test_a_closed_port_is_unreachable() -> None:
    async with client({5: f"http://127.0.0.1:{free_port()}"}) as rpc:
        with pytest.raises(ChainUnreachableError):
            await rpc.chain_id(5)


async def test_a_slow_rpc_times_out_after_the_budget() -> None:
    async with loopback_server(None) as url, client({5: url}, timeout=0.2) as rpc:
        with pytest.raises(ChainTimeoutError):
            await rpc.get_code(5, "0x" + "11" * 20)


async def test_an_answer_that_is_not_json_rpc_is_a_bad_response() -> None:
    async with loopback_server(b"<html>bad gateway</html>") as url, client({5: url}) as rpc:
        with pytest.raises(ChainBadResponseError):
            await rpc.chain_id(5)


async def test_an_error_answer_from_a_loopback_node_keeps_code_and_data() -> None:
    body = (
        b'{"jsonrpc":"2.0","id":1,"error":'
        b'{"code":3,"message":"execution reverted","data":"0x08c379a0"}}'
    )
    async with loopback_server(body) as url, client({5: url}) as rpc:
        with pytest.raises(ExecutionRevertedError) as raised:
            await rpc.call(5, "0x" + "11" * 20, b"")
    assert raised.value.revert_data == bytes.fromhex("08c379a0")


async def test_a_chain_without_a_url_is_not_configured() -> None:
    async with client({}) as rpc:
        with pytest.raises(ChainNotConfiguredError):
            await rpc.chain_id(1)


def test_chain_rpc_urls_parse_and_malformed_ones_are_refused() -> None:
    assert parse_chain_rpc_urls(" 1=https://a.example/k , 137=http://b:8545 ") == {
        1: "https://a.example/k",
        137: "http://b:8545",
    }
    assert parse_chain_rpc_urls("") == {}
    for bad in ("mainnet=https://a", "1=ftp://a", "1https://a", "1=https://a,1=https://b"):
        with pytest.raises(ValueError, match=r"chain|CHAIN_ID"):
            parse_chain_rpc_urls(bad)
    settings = Settings(_env_file=None, chain_rpc_urls="1=https://node.example/secret-key")  # type: ignore[call-arg]
    assert settings.rpc_urls == {1: "https://node.example/secret-key"}
    assert "https://node.example/secret-key" in settings.secrets()


async def test_a_call_that_burns_its_gas_cap_stops_there_as_out_of_gas(chain: Chain) -> None:
    burner = chain.deploy("BurnerToken")
    chain.transact(burner, "arm()")
    data = encode_call("balanceOf(address)", chain.accounts[1])
    outcomes: list[str] = []
    rpc = ChainRPC({chain.chain_id: chain.url}, 5.0, observe=lambda o, _: outcomes.append(o))
    await rpc.open()
    try:
        with pytest.raises(OutOfGasError):
            await rpc.call(chain.chain_id, burner, data, gas=100_000)
        # In a batch, the error is that call's answer alone.
        [answer] = await rpc.batch(chain.chain_id, [eth_call_request(burner, data, gas=100_000)])
    finally:
        await rpc.close()
    assert isinstance(answer, OutOfGasError)
    # The node answered both times: a contract's failure is not the chain's.
    assert outcomes == ["ok", "ok"]
