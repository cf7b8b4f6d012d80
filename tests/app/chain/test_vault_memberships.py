"""An Unlock membership held by a vault (DESIGN section 10): the wallet it delegated
to is admitted in the first batch and at most one more per chain, and the
re-check, which follows the vault, arms the timer of the vault's key end."""

from __future__ import annotations

import pytest

from actors.room.protocol import ReadVaults
from tests.app.chain.conftest import Gated
from tests.app.chain.test_delegation_api import (
    ROOM,
    assert_admitted_through,
    cold_room,
    removed,
    seated_through,
    token_for,
)
from tests.app.chain.test_memberships_api import pass_time_to, until_removed
from tests.support import delegate_registry as registry_fixtures
from tests.support.chain import Chain
from tests.support.clock import FakeClock
from tests.support.delegate_registry import DelegateRegistry
from tests.support.unlock_lock import UnlockLock, deploy_lock, latest_time, mine_at

delegate_registries = registry_fixtures.delegate_registries
delegate_registry = registry_fixtures.delegate_registry


@pytest.fixture
def clock(chain: Chain) -> FakeClock:
    """Qari's clock, starting at the chain's time now."""
    chain.rpc("evm_mine")
    return FakeClock(start=latest_time(chain))


def now(gated: Gated) -> int:
    return int(gated.clock.now().timestamp())


async def test_a_vaults_membership_admits_in_at_most_two_batches(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    lock = deploy_lock(gated.chain)
    vault, hot = gated.chain.accounts[4], gated.chain.accounts[5]
    lock.grant(vault, now(gated) + 3600)
    delegate_registry.delegate_all(vault, hot)
    await cold_room(gated, {"unlock": {"lock": lock.address}})
    before = len(gated.rpc.exchanges)

    assert_admitted_through(await token_for(gated, hot), vault)

    assert 1 <= len(gated.rpc.exchanges) - before <= 2


async def test_the_recheck_arms_the_end_of_a_vaults_key(
    gated: Gated, delegate_registry: DelegateRegistry
) -> None:
    lock: UnlockLock = deploy_lock(gated.chain)
    vault, hot = gated.chain.accounts[4], gated.chain.accounts[5]
    expiry = now(gated) + 600
    lock.grant(vault, expiry)
    delegate_registry.delegate_all(vault, hot)
    await cold_room(gated, {"unlock": {"lock": lock.address}})
    await seated_through(gated, vault, hot)
    await gated.running.gating_sleep.tick()  # reads the vault's key end
    await gated.running.services.rooms.ask(ROOM, ReadVaults())  # its confirmation is in

    mine_at(gated.chain, expiry + 1)
    await pass_time_to(gated, expiry + 5)
    await until_removed(gated, hot)

    assert removed(gated) == [hot]
