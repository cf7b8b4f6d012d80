"""Chain reads are bounded (issue 20, item 2): a hostile contract costs only its own rooms.

The attack: a gated room whose token's `balanceOf` burns every unit of gas
(tests/contracts/Burner.sol), joined by a dozen wallets. Without a gas cap
each read costs the node a block's worth of gas (about 0.2 s on anvil); in
one batch per chain, the whole chain's re-check timed out every round and a
seller in another room stayed.
"""

from __future__ import annotations

from eth_utils.address import to_checksum_address
from livekit.protocol.room import RoomParticipantIdentity

from app.chain.checker import MAX_BATCH, batches_in_turns
from tests.app.chain.conftest import Gated, Tokens, gated_app
from tests.app.chain.helpers import make_room, seat
from tests.fakes.livekit_server import FakeLiveKit
from tests.support.chain import Chain
from tests.support.clock import FakeClock
from tests.support.rpc_proxy import RPCProxy

HOLDERS = "holders-only"
BURNER = "burner-room"
# Twelve wallets in the burner's room, as in the attack.
BURNER_SEATS = 12


def wallets(count: int) -> list[str]:
    return [to_checksum_address(f"0x{0xB0B0 + n:040x}") for n in range(count)]


async def two_rooms(gated: Gated, burner_seats: int) -> tuple[str, str, str]:
    """A holders' room (seller and keeper) and a burner's room on the same chain, all
    seated while the burner still answered; then the burner armed and the seller sold.
    Returns the burner's address, the seller and the keeper."""
    chain, client = gated.chain, gated.running.client()
    seller, keeper, buyer = chain.accounts[1], chain.accounts[2], chain.accounts[3]
    burner = chain.deploy("BurnerToken")
    await make_room(
        client, HOLDERS, access_type="token", token_address=gated.tokens.erc20, token_amount="50"
    )
    await make_room(client, BURNER, access_type="token", token_address=burner, token_amount="1")
    for holder in (seller, keeper):
        chain.transact(gated.tokens.erc20, "mint(address,uint256)", holder, 50)
    await seat(gated, HOLDERS, [seller, keeper])
    await seat(gated, BURNER, wallets(burner_seats))
    chain.transact(burner, "arm()")
    chain.transact(gated.tokens.erc20, "transfer(address,uint256)", buyer, 1, sender=seller)
    return burner, seller, keeper


def removed(gated: Gated) -> list[str]:
    calls = gated.livekit.calls_to("RemoveParticipant")
    return [c.identity for c in calls if isinstance(c, RoomParticipantIdentity)]


async def test_a_contract_that_times_out_leaves_only_its_own_room_undecided(
    gated: Gated,
) -> None:
    burner, seller, keeper = await two_rooms(gated, burner_seats=3)
    # The burner's reads get no answer within CHAIN_TIMEOUT_SECONDS, whatever their gas.
    gated.rpc.slow_down(burner, seconds=30)

    await gated.running.gating_sleep.tick()

    assert removed(gated) == [seller]
    assert list(gated.livekit.participants[HOLDERS]) == [keeper]
    assert sorted(gated.livekit.participants[BURNER]) == sorted(wallets(3))
    assert gated.running.services.access.stats.rpc_requests["timeout"] == 1


async def test_the_gas_cap_makes_a_burner_answer_at_once_as_an_error(
    database_url: str,
    clock: FakeClock,
    chain: Chain,
    tokens: Tokens,
    rpc: RPCProxy,
    fake_livekit: FakeLiveKit,
) -> None:
    # A budget the capped reads meet many times over, and the uncapped ones
    # (twelve times 30M gas, about 2.4 s on anvil) do not.
    async with gated_app(
        database_url, clock, chain, tokens, rpc, fake_livekit, chain_timeout_seconds=1.0
    ) as gated:
        _, seller, keeper = await two_rooms(gated, burner_seats=BURNER_SEATS)
        before = len(rpc.exchanges)

        await gated.running.gating_sleep.tick()

        assert removed(gated) == [seller]
        assert list(gated.livekit.participants[HOLDERS]) == [keeper]
        # The burner ran out of its gas: an error answer (undecided), not a timeout.
        assert sorted(gated.livekit.participants[BURNER]) == sorted(wallets(BURNER_SEATS))
        assert gated.running.services.access.stats.rpc_requests["timeout"] == 0
        calls = [
            item
            for body in rpc.exchanges
            for item in (body if isinstance(body, list) else [body])
            if item["method"] == "eth_call"
        ]
        assert calls, "the test made no eth_call"
        assert {call["params"][0].get("gas") for call in calls} == {hex(1_000_000)}
        # The round read each contract in an exchange of its own.
        round_batches = rpc.exchanges[before:]
        assert len(round_batches) == 2
        assert sorted(len(batch) for batch in round_batches) == [2, BURNER_SEATS]


def test_a_round_takes_every_contracts_first_batch_before_any_second() -> None:
    # A room with many participants cannot make the others wait behind all of its reads.
    big = [(f"big-{n}",) for n in range(2 * MAX_BATCH + 1)]
    small, other = [("small",)], [("other",)]
    batches = batches_in_turns([big, small, other])
    assert [len(b) for b in batches] == [MAX_BATCH, 1, 1, MAX_BATCH, 1]
    assert batches[1] == small
    assert batches[2] == other
    assert [pair for batch in batches for pair in batch if pair[0].startswith("big")] == big
