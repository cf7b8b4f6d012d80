"""Gated-room fixtures: test tokens on the session's anvil, the app reading it via a proxy."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.conftest import Running, app_running
from tests.fakes.livekit_server import FakeLiveKit
from tests.support.chain import Chain
from tests.support.clock import FakeClock
from tests.support.rpc_proxy import RPCProxy
from tests.support.settings import make_settings

# Short, so the timeout case takes little of the suite's time.
CHAIN_TIMEOUT_SECONDS = 0.5


@dataclass(frozen=True)
class Tokens:
    """The gating test contracts, deployed once per session."""

    erc20: str
    erc721: str
    erc1155: str


@pytest.fixture(scope="session")
def tokens(anvil_node: Chain) -> Tokens:
    # Session scope sets this up before any test's snapshot, so reverts keep it.
    return Tokens(
        erc20=anvil_node.deploy("TestToken"),
        erc721=anvil_node.deploy("TestNFT"),
        erc1155=anvil_node.deploy("TestMultiToken"),
    )


@pytest.fixture
async def rpc(chain: Chain, tokens: Tokens) -> AsyncIterator[RPCProxy]:
    async with RPCProxy(chain.url) as proxy:
        yield proxy


@dataclass
class Gated:
    """The app with gating on the local chain, LiveKit's RoomService faked."""

    running: Running
    chain: Chain
    tokens: Tokens
    rpc: RPCProxy
    livekit: FakeLiveKit
    clock: FakeClock


@contextlib.asynccontextmanager
async def gated_app(
    database_url: str,
    clock: FakeClock,
    chain: Chain,
    tokens: Tokens,
    rpc: RPCProxy,
    fake_livekit: FakeLiveKit,
    **overrides: object,
) -> AsyncIterator[Gated]:
    """The app as `gated` runs it, with some settings changed."""
    values: dict[str, object] = {
        "chain_rpc_urls": f"{chain.chain_id}={rpc.url}",
        "chain_timeout_seconds": CHAIN_TIMEOUT_SECONDS,
        "default_chain_id": chain.chain_id,
        "livekit_url": fake_livekit.url,
        "livekit_timeout_seconds": 2,
        **overrides,
    }
    async with app_running(make_settings(database_url, **values), clock) as running:
        yield Gated(running, chain, tokens, rpc, fake_livekit, clock)


@pytest.fixture
async def gated(
    database_url: str,
    clock: FakeClock,
    chain: Chain,
    tokens: Tokens,
    rpc: RPCProxy,
    fake_livekit: FakeLiveKit,
) -> AsyncIterator[Gated]:
    async with gated_app(database_url, clock, chain, tokens, rpc, fake_livekit) as app:
        yield app
