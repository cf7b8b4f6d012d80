"""Unlock Protocol memberships as a room's `access` (DESIGN section 10), over HTTP only.

An `unlock` leaf admits whoever holds a valid key of the lock
(`getHasValidKey`), refuses an expired key, and the room's actor removes a
member within 5 s of the key's expiry by Qari's clock when that key was what
admitted it (`participant.removed`, `by: access_expired`). The lock is
tests/contracts/UnlockLock.sol (PublicLock v13's interface) on anvil.

Qari's clock here starts at the chain's time, so an expiry means the same
moment to both; the chain's time is moved with `mine_at`, Qari's with the
injected clock. The expiry timer is let go by firing every per-room injected
timer the running app has (each `ManualTimers` on `Running`): which one the
expiry timer sleeps on is the app's business, and a timer let go early must
look at the clock again, as one on a real sleep never wakes early.
"""

from __future__ import annotations

import asyncio
from typing import Any

import jwt
import pytest
from livekit.protocol.room import RoomParticipantIdentity

from actors.room.protocol import AccessConfirmed, ReadVaults
from models.access import parse
from tests.app.chain.conftest import Gated
from tests.app.chain.helpers import ask_token, make_room
from tests.support.applied import apply_pending
from tests.support.chain import Chain
from tests.support.clock import FakeClock
from tests.support.outbox import data_of, numbered
from tests.support.settings import AUTH
from tests.support.timers import ManualTimers
from tests.support.unlock_lock import UnlockLock, deploy_lock, latest_time, mine_at
from tests.support.webhooks import event, participant, room_info, signed

ROOM = "members-only"
INFO = room_info(ROOM, "RM_members")


@pytest.fixture
def clock(chain: Chain) -> FakeClock:
    """Qari's clock, starting at the chain's time now."""
    chain.rpc("evm_mine")  # a block at anvil's time now, whatever earlier tests moved
    return FakeClock(start=latest_time(chain))


@pytest.fixture
def lock(chain: Chain) -> UnlockLock:
    return deploy_lock(chain)


def now(gated: Gated) -> int:
    """Qari's clock, in Unix seconds."""
    return int(gated.clock.now().timestamp())


def unlock(lock: UnlockLock) -> dict[str, Any]:
    return {"unlock": {"lock": lock.address}}


async def members_room(gated: Gated, access: dict[str, Any]) -> None:
    await make_room(gated.running.client(), ROOM, access=access)
    await deliver(gated, event("room_started", INFO))


async def deliver(gated: Gated, *messages: Any) -> None:
    client = gated.running.client()
    for message in messages:
        body, headers = signed(message)
        response = await client.post("/v1/livekit/webhook", data=body, headers=headers)
        assert response.status_code == 200
    await apply_pending(gated.running.services.rooms, ROOM)


async def join(gated: Gated, identity: str, n: int) -> None:
    """`identity` gets a token and joins, with its token's attributes, as LiveKit reports it."""
    status, body, _ = await ask_token(gated.running.client(), ROOM, identity)
    assert status == 200, body
    attributes = jwt.decode(body["token"], options={"verify_signature": False}).get("attributes")
    gated.livekit.join(ROOM, identity, sid=f"PA_{n}")
    who = participant(identity, f"PA_{n}", attributes=attributes or {})
    await deliver(gated, event("participant_joined", INFO, who=who))


def removed(gated: Gated) -> list[str]:
    calls = gated.livekit.calls_to("RemoveParticipant")
    return [c.identity for c in calls if isinstance(c, RoomParticipantIdentity)]


async def let_timers_go(gated: Gated) -> None:
    """End the waits of every per-room timer of the app that is waiting now."""
    for timers in vars(gated.running).values():
        if isinstance(timers, ManualTimers) and timers.sleepers:
            await timers.fire()


async def pass_time_to(gated: Gated, moment: int) -> None:
    """Qari's clock moves to `moment` and the rooms' timers waiting now are let go."""
    gated.clock.advance(moment - gated.clock.now().timestamp())
    await let_timers_go(gated)
    await apply_pending(gated.running.services.rooms, ROOM)


async def until_removed(gated: Gated, identity: str) -> None:
    """Wait (at most 5 s) for the room's actor to remove `identity` through LiveKit."""
    async with asyncio.timeout(5):
        while identity not in removed(gated):
            await let_timers_go(gated)
            await asyncio.sleep(0.01)


async def test_a_key_holder_is_admitted(gated: Gated, lock: UnlockLock) -> None:
    holder = gated.chain.accounts[1]
    lock.grant(holder, now(gated) + 3600)
    await members_room(gated, unlock(lock))

    status, body, _ = await ask_token(gated.running.client(), ROOM, holder)

    assert status == 200, body
    assert body["token"]


async def test_the_room_reads_back_its_unlock_condition(gated: Gated, lock: UnlockLock) -> None:
    created = await make_room(gated.running.client(), ROOM, access=unlock(lock))
    assert created["access"]["unlock"]["lock"].lower() == lock.address.lower()
    assert created["access_type"] == "conditions"


async def test_an_expired_key_and_no_key_are_refused_naming_the_leaf(
    gated: Gated, lock: UnlockLock
) -> None:
    chain = gated.chain
    lapsed, stranger = chain.accounts[1], chain.accounts[2]
    expiry = now(gated) + 60
    lock.grant(lapsed, expiry)
    mine_at(chain, expiry)  # the key ended on the chain
    gated.clock.advance(60)
    await members_room(gated, unlock(lock))

    for identity in (lapsed, stranger):
        status, body, _ = await ask_token(gated.running.client(), ROOM, identity)
        assert (status, body["code"]) == (403, "access_denied"), body
        detail = str(body["detail"]).lower()
        assert "unlock" in detail or lock.address.lower() in detail


async def test_a_key_expired_by_the_lock_manager_is_refused(gated: Gated, lock: UnlockLock) -> None:
    holder = gated.chain.accounts[1]
    token_id = lock.grant(holder, now(gated) + 3600)
    lock.expire(token_id)
    await members_room(gated, unlock(lock))

    status, body, _ = await ask_token(gated.running.client(), ROOM, holder)

    assert (status, body["code"]) == (403, "access_denied")


async def test_the_key_and_its_expiry_are_read_in_at_most_two_batches(
    gated: Gated, lock: UnlockLock
) -> None:
    holder = gated.chain.accounts[1]
    lock.grant(holder, now(gated) + 3600)
    await members_room(gated, unlock(lock))
    before = len(gated.rpc.exchanges)

    assert (await ask_token(gated.running.client(), ROOM, holder))[0] == 200

    assert 1 <= len(gated.rpc.exchanges) - before <= 2


async def test_a_member_is_removed_within_5_s_of_its_key_expiry(
    gated: Gated, lock: UnlockLock
) -> None:
    chain = gated.chain
    member, keeper = chain.accounts[1], chain.accounts[2]
    expiry = now(gated) + 120
    lock.grant(member, expiry)
    lock.grant(keeper, expiry + 3600)
    await members_room(gated, unlock(lock))
    await join(gated, member, 1)
    await join(gated, keeper, 2)
    await pass_time_to(gated, expiry - 1)  # not before the key ends
    assert removed(gated) == []

    mine_at(chain, expiry + 1)  # the chain agrees the key has ended
    await pass_time_to(gated, expiry + 5)
    await until_removed(gated, member)

    assert removed(gated) == [member]
    assert list(gated.livekit.participants[ROOM]) == [keeper]
    (gone,) = data_of(await numbered(gated.running), "participant.removed")
    assert (gone["identity"], gone["by"]) == (member, "access_expired")
    status, body, _ = await ask_token(gated.running.client(), ROOM, member)
    assert (status, body["code"]) == (403, "access_denied")


async def test_a_member_whose_key_was_not_needed_stays_after_it_expires(
    gated: Gated, lock: UnlockLock
) -> None:
    chain = gated.chain
    member = chain.accounts[1]
    expiry = now(gated) + 120
    lock.grant(member, expiry)
    chain.transact(gated.tokens.erc20, "mint(address,uint256)", member, 50)
    # Either the key or 50 tokens: the tokens still admit without the key.
    access = {"any": [unlock(lock), {"erc20": {"address": gated.tokens.erc20, "min": "50"}}]}
    await members_room(gated, access)
    await join(gated, member, 1)

    mine_at(chain, expiry + 1)
    await pass_time_to(gated, expiry + 5)
    await pass_time_to(gated, expiry + 10)

    assert removed(gated) == []
    assert data_of(await numbered(gated.running), "participant.removed") == []
    assert (await ask_token(gated.running.client(), ROOM, member))[0] == 200


async def test_a_member_who_needed_the_key_and_more_is_removed_when_it_expires(
    gated: Gated, lock: UnlockLock
) -> None:
    chain = gated.chain
    member = chain.accounts[1]
    expiry = now(gated) + 120
    lock.grant(member, expiry)
    chain.transact(gated.tokens.erc20, "mint(address,uint256)", member, 50)
    # The key and 50 tokens: without the key, nothing admits.
    access = {"all": [unlock(lock), {"erc20": {"address": gated.tokens.erc20, "min": "50"}}]}
    await members_room(gated, access)
    await join(gated, member, 1)

    mine_at(chain, expiry + 1)
    await pass_time_to(gated, expiry + 5)
    await until_removed(gated, member)

    (gone,) = data_of(await numbered(gated.running), "participant.removed")
    assert (gone["identity"], gone["by"]) == (member, "access_expired")


async def test_an_ended_key_at_index_0_does_not_refuse_a_member_with_a_valid_key(
    gated: Gated, lock: UnlockLock
) -> None:
    chain = gated.chain
    member = chain.accounts[1]
    ended = now(gated) + 60
    lock.grant(member, ended)
    mine_at(chain, ended + 1)  # the first key (index 0) has ended on the chain
    gated.clock.advance(61)
    renewed = now(gated) + 3600
    second = lock.grant(member, renewed)
    assert lock.token_of_owner_by_index(member, 1) == second
    await members_room(gated, unlock(lock))

    await join(gated, member, 1)
    await pass_time_to(gated, ended + 5)
    await gated.running.gating_sleep.tick()

    assert removed(gated) == []


async def test_a_key_whose_end_leaves_only_an_unknown_removes_nobody(
    gated: Gated, lock: UnlockLock
) -> None:
    chain = gated.chain
    member = chain.accounts[1]
    expiry = now(gated) + 120
    lock.grant(member, expiry)
    # An erc20 leaf that never answers: the multi-token has no balanceOf(address), so
    # the call reverts (no answer, not a balance of zero).
    unknown = {"erc20": {"address": gated.tokens.erc1155, "min": "1"}}
    await members_room(gated, {"any": [unlock(lock), unknown]})
    await join(gated, member, 1)

    mine_at(chain, expiry + 1)
    await pass_time_to(gated, expiry + 5)
    await pass_time_to(gated, expiry + 10)
    await gated.running.gating_sleep.tick()

    assert removed(gated) == []
    assert data_of(await numbered(gated.running), "participant.removed") == []


async def test_a_confirmation_of_the_condition_before_a_patch_is_ignored(
    gated: Gated, lock: UnlockLock
) -> None:
    chain = gated.chain
    member = chain.accounts[1]
    expiry = now(gated) + 120
    lock.grant(member, expiry)
    await members_room(gated, unlock(lock))
    await join(gated, member, 1)
    before = parse(unlock(lock), chain.chain_id)
    assert before is not None
    # The room now admits the member by the allowlist: its key's end removes nobody.
    response = await gated.running.client().patch(
        f"/v1/rooms/{ROOM}", json={"access": {"allowlist": [member]}}, headers=AUTH
    )
    assert response.status_code == 200
    # A re-check that read the room before the PATCH confirms the key it saw.
    rooms = gated.running.services.rooms
    rooms.tell(ROOM, AccessConfirmed(member, None, expiry, before))
    await rooms.ask(ROOM, ReadVaults())

    mine_at(chain, expiry + 1)
    await pass_time_to(gated, expiry + 5)
    await pass_time_to(gated, expiry + 10)

    assert removed(gated) == []
    assert data_of(await numbered(gated.running), "participant.removed") == []
