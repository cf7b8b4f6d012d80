"""A hostile or broken JSON-RPC endpoint gives no answer, never an exception (issue 20, item 8).

Each malformed answer below is served by a real loopback HTTP server: the
client says `ChainBadResponseError` (counted as `bad_response`), the token
route 503 `chain_unavailable`, and the re-check leaves only the rooms whose
reads it spoiled undecided.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from livekit.protocol.room import RoomParticipantIdentity

from app.chain.rpc import ChainRPC
from app.chain.rpc_answers import MAX_ANSWER_BYTES
from app.chain.rpc_errors import ChainBadResponseError
from app.chain.rpc_requests import RPCRequest
from tests.app.chain.conftest import Gated
from tests.app.chain.helpers import ask_token, make_room, seat

# A node's answers, given what it was asked (the parsed request body).
Forge = Callable[[Any], bytes]


def _first_id(body: Any) -> Any:
    return body[0]["id"] if isinstance(body, list) else body["id"]


def too_deep(body: Any) -> bytes:
    # Deeper than Python's parser can recurse: json.loads raises RecursionError.
    return b"[" * 100_000 + b"]" * 100_000


def list_as_id(body: Any) -> bytes:
    # A batch answer whose id is a list cannot be looked up (TypeError when hashed).
    items = body if isinstance(body, list) else [body]
    return json.dumps([{"jsonrpc": "2.0", "id": [i["id"]], "result": "0x"} for i in items]).encode()


def another_id(body: Any) -> bytes:
    # Well formed, but the answer to some other request.
    if isinstance(body, list):
        return json.dumps(
            [{"jsonrpc": "2.0", "id": i["id"] + 10_000, "result": "0x" + "00" * 32} for i in body]
        ).encode()
    return json.dumps({"jsonrpc": "2.0", "id": body["id"] + 1, "result": "0x01"}).encode()


def not_json(body: Any) -> bytes:
    return b"\xff\xfe not json at all"


def oversized(body: Any) -> bytes:
    # A valid answer, padded past the cap.
    answer = json.dumps({"jsonrpc": "2.0", "id": _first_id(body), "result": "0x01"}).encode()
    return answer + b" " * MAX_ANSWER_BYTES


MALFORMED: dict[str, Forge] = {
    "too-deep": too_deep,
    "list-as-id": list_as_id,
    "another-id": another_id,
    "not-json": not_json,
    "oversized": oversized,
}


@contextlib.asynccontextmanager
async def hostile_node(forge: Forge) -> AsyncIterator[str]:
    """A loopback HTTP server answering each JSON-RPC request with `forge(request)`."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            answer = forge(json.loads(await reader.readexactly(length)))
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(answer)}\r\nConnection: close\r\n\r\n".encode()
                + answer
            )
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def endless_node() -> AsyncIterator[str]:
    """A loopback server that streams an answer that never ends (chunked, no length)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            chunk = b" " * 65_536
            while True:
                writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def client(url: str, outcomes: list[str], timeout: float = 5.0) -> AsyncIterator[ChainRPC]:
    rpc = ChainRPC({5: url}, timeout, observe=lambda outcome, _: outcomes.append(outcome))
    await rpc.open()
    try:
        yield rpc
    finally:
        await rpc.close()


@pytest.mark.parametrize("kind", MALFORMED)
async def test_a_malformed_answer_is_a_bad_response(kind: str) -> None:
    outcomes: list[str] = []
    async with hostile_node(MALFORMED[kind]) as url, client(url, outcomes) as rpc:
        with pytest.raises(ChainBadResponseError):
            await rpc.get_code(5, "0x" + "11" * 20)
        with pytest.raises(ChainBadResponseError):
            await rpc.batch(5, [RPCRequest("eth_chainId", []), RPCRequest("eth_blockNumber", [])])
    assert outcomes == ["bad_response", "bad_response"]


async def test_an_answer_just_under_the_cap_is_read() -> None:
    def padded(body: Any) -> bytes:
        answer = json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": "0x05"}).encode()
        return answer + b" " * (MAX_ANSWER_BYTES - len(answer))

    async with hostile_node(padded) as url, client(url, []) as rpc:
        assert await rpc.chain_id(5) == 5


async def test_an_endless_answer_is_cut_off_at_the_cap_not_read_until_the_timeout() -> None:
    outcomes: list[str] = []
    # The timeout is far away: only the cap can end this read in time.
    async with endless_node() as url, client(url, outcomes, timeout=30.0) as rpc:
        async with asyncio.timeout(10):
            with pytest.raises(ChainBadResponseError, match="over"):
                await rpc.chain_id(5)
    assert outcomes == ["bad_response"]


@pytest.mark.parametrize("kind", MALFORMED)
async def test_the_token_route_answers_503_on_a_malformed_answer(gated: Gated, kind: str) -> None:
    client_ = gated.running.client()
    holder = gated.chain.accounts[1]
    gated.chain.transact(gated.tokens.erc721, "mint(address,uint256)", holder, 1)
    await make_room(client_, "hostile", access_type="nft", nft_address=gated.tokens.erc721)
    gated.rpc.hostile = MALFORMED[kind]
    status, body, retry_after = await ask_token(client_, "hostile", holder)
    assert (status, body["code"]) == (503, "chain_unavailable")
    assert retry_after.isdigit()
    assert gated.running.services.access.stats.rpc_requests["bad_response"] == 1
    # The node answers properly again: so does the route.
    gated.rpc.hostile = None
    assert (await ask_token(client_, "hostile", holder))[0] == 200


@pytest.mark.parametrize("kind", ["too-deep", "list-as-id"])
async def test_a_malformed_answer_for_one_contract_spoils_only_its_rooms(
    gated: Gated, kind: str
) -> None:
    chain, tokens = gated.chain, gated.tokens
    seller, keeper, member = chain.accounts[1], chain.accounts[2], chain.accounts[3]
    client_ = gated.running.client()
    await make_room(
        client_, "erc20-room", access_type="token", token_address=tokens.erc20, token_amount="5"
    )
    await make_room(client_, "nft-room", access_type="nft", nft_address=tokens.erc721)
    for holder in (seller, keeper):
        chain.transact(tokens.erc20, "mint(address,uint256)", holder, 5)
    chain.transact(tokens.erc721, "mint(address,uint256)", member, 1)
    await seat(gated, "erc20-room", [seller, keeper])
    await seat(gated, "nft-room", [member])
    chain.transact(tokens.erc20, "transfer(address,uint256)", member, 5, sender=seller)
    chain.transact(
        tokens.erc721, "transferFrom(address,address,uint256)", member, keeper, 1, sender=member
    )
    nft = tokens.erc721.lower()
    forge = MALFORMED[kind]
    # Hostile for the NFT contract's reads only; the ERC-20's are answered truly.
    gated.rpc.hostile = lambda body: forge(body) if nft in json.dumps(body).lower() else None

    await gated.running.gating_sleep.tick()

    calls = gated.livekit.calls_to("RemoveParticipant")
    assert [c.identity for c in calls if isinstance(c, RoomParticipantIdentity)] == [seller]
    # The member sold too, but no true answer was had for it: nobody removed on it.
    assert list(gated.livekit.participants["nft-room"]) == [member]
