"""The periodic re-check: whoever sold the token is removed from LiveKit, nobody on no answer."""

from __future__ import annotations

from livekit.protocol.room import RoomParticipantIdentity

from tests.app.chain.conftest import Gated
from tests.app.chain.helpers import ask_token, make_room
from tests.support.applied import apply_pending
from tests.support.webhooks import event, participant, room_info, signed

ROOM = "holders-only"


async def meeting_with(gated: Gated, *identities: str) -> None:
    """A gated ERC-20 room where each identity got a token and joined."""
    client = gated.running.client()
    await make_room(
        client, ROOM, access_type="token", token_address=gated.tokens.erc20, token_amount="50"
    )
    room = room_info(ROOM, "RM_recheck")
    messages = [event("room_started", room)]
    for n, identity in enumerate(identities):
        gated.chain.transact(gated.tokens.erc20, "mint(address,uint256)", identity, 50)
        assert (await ask_token(client, ROOM, identity))[0] == 200
        gated.livekit.join(ROOM, identity)
        messages.append(event("participant_joined", room, who=participant(identity, f"PA_{n}")))
    for message in messages:
        body, headers = signed(message)
        response = await client.post("/v1/livekit/webhook", data=body, headers=headers)
        assert response.status_code == 200
    await apply_pending(gated.running.services.rooms, ROOM)


def removed(gated: Gated) -> list[str]:
    calls = gated.livekit.calls_to("RemoveParticipant")
    return [c.identity for c in calls if isinstance(c, RoomParticipantIdentity)]


async def test_the_recheck_removes_who_sold_and_keeps_who_kept(gated: Gated) -> None:
    chain = gated.chain
    seller, keeper, buyer = chain.accounts[1], chain.accounts[2], chain.accounts[3]
    await meeting_with(gated, seller, keeper)
    chain.transact(gated.tokens.erc20, "transfer(address,uint256)", buyer, 1, sender=seller)
    before = len(gated.rpc.exchanges)

    await gated.running.gating_sleep.tick()

    assert removed(gated) == [seller]
    assert list(gated.livekit.participants[ROOM]) == [keeper]
    # Both participants were read in one JSON-RPC batch.
    batches = gated.rpc.exchanges[before:]
    assert len(batches) == 1
    assert isinstance(batches[0], list)
    assert len(batches[0]) == 2
    # The seller's cached yes was replaced by the no: refused at once, no new read.
    status, body, _ = await ask_token(gated.running.client(), ROOM, seller)
    assert (status, body["code"]) == (403, "access_denied")
    assert (await ask_token(gated.running.client(), ROOM, keeper))[0] == 200
    assert gated.running.services.access.stats.recheck_removals == 1


async def test_the_recheck_removes_nobody_while_the_rpc_is_down(gated: Gated) -> None:
    chain = gated.chain
    seller, keeper = chain.accounts[1], chain.accounts[2]
    await meeting_with(gated, seller, keeper)
    chain.transact(gated.tokens.erc20, "transfer(address,uint256)", keeper, 50, sender=seller)
    gated.rpc.down = True

    await gated.running.gating_sleep.tick()

    assert removed(gated) == []
    assert sorted(gated.livekit.participants[ROOM]) == sorted([seller, keeper])
    # When the chain answers again, the next round does remove the seller.
    gated.rpc.down = False
    await gated.running.gating_sleep.tick()
    assert removed(gated) == [seller]
