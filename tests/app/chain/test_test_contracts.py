"""The test contracts do what their interfaces say, so the app's tests can trust them.

TestPublicLock behaves as Unlock's PublicLock v13 for the views Qari reads;
the DelegateRegistry (delegate.xyz v2's published source) answers the checks
and the enumeration Qari reads, at the canonical address as where deployed.
Raw eth_calls through tests/support/unlock_lock.py and delegate_registry.py.
"""

from __future__ import annotations

import pytest
from eth_utils import to_checksum_address

from tests.app.chain.conftest import Tokens
from tests.support import delegate_registry as registry_fixtures
from tests.support.chain import Chain
from tests.support.delegate_registry import (
    ALL_RIGHTS,
    CANONICAL_ADDRESS,
    DelegateRegistry,
    DelegationType,
    Registries,
)
from tests.support.unlock_lock import NEVER_EXPIRES, deploy_lock, latest_timestamp, mine_at

# The registry's fixtures, for this module's tests (tests/app/chain/conftest.py is not ours).
delegate_registries = registry_fixtures.delegate_registries
delegate_registry = registry_fixtures.delegate_registry

# Addresses no one holds keys for: cold vaults and hot wallets made up for the test.
VAULT = to_checksum_address("0x" + "c0" * 20)
OTHER_VAULT = to_checksum_address("0x" + "c1" * 20)
HOT = to_checksum_address("0x" + "a0" * 20)
STRANGER = to_checksum_address("0x" + "a1" * 20)
SOME_RIGHT = b"\x01" * 32


# -- the lock --


def test_a_granted_key_is_valid_until_its_expiry_by_block_time(chain: Chain) -> None:
    lock = deploy_lock(chain)
    expiry = latest_timestamp(chain) + 3600
    token_id = lock.grant(HOT, expiry)

    assert token_id == 1  # Unlock numbers keys from 1
    assert lock.has_valid_key(HOT)
    assert lock.balance_of(HOT) == 1
    assert lock.token_of_owner_by_index(HOT, 0) == token_id
    assert lock.expiration_of(token_id) == expiry
    assert lock.owner_of(token_id) == HOT

    mine_at(chain, expiry - 1)
    assert lock.has_valid_key(HOT)

    mine_at(chain, expiry)  # valid while expiry > block.timestamp
    assert not lock.has_valid_key(HOT)
    assert lock.balance_of(HOT) == 0  # v13: valid keys only
    # The expired key is still held and enumerable, its expiry still readable.
    assert lock.token_of_owner_by_index(HOT, 0) == token_id
    assert lock.expiration_of(token_id) == expiry


def test_expiring_a_key_ends_it_at_once(chain: Chain) -> None:
    lock = deploy_lock(chain)
    token_id = lock.grant(HOT, NEVER_EXPIRES)
    assert lock.has_valid_key(HOT)

    lock.expire(token_id)

    assert not lock.has_valid_key(HOT)
    assert lock.expiration_of(token_id) == latest_timestamp(chain)
    with pytest.raises(RuntimeError, match="reverted"):
        lock.expire(token_id)  # only a valid key can be expired


def test_a_transferred_key_belongs_to_its_new_holder(chain: Chain) -> None:
    lock = deploy_lock(chain)
    token_id = lock.grant(HOT, latest_timestamp(chain) + 3600)

    lock.transfer(token_id, STRANGER)

    assert not lock.has_valid_key(HOT)
    assert lock.has_valid_key(STRANGER)
    assert lock.owner_of(token_id) == STRANGER
    assert lock.token_of_owner_by_index(STRANGER, 0) == token_id


def test_the_lock_answers_unknown_holders_and_keys_as_unlock_does(chain: Chain) -> None:
    lock = deploy_lock(chain)

    assert not lock.has_valid_key(STRANGER)
    assert lock.balance_of(STRANGER) == 0
    assert lock.expiration_of(42) == 0  # no such key: 0
    assert lock.owner_of(42) == to_checksum_address("0x" + "00" * 20)
    with pytest.raises(RuntimeError, match="revert"):
        lock.token_of_owner_by_index(STRANGER, 0)  # no key at index 0


def test_only_the_lock_manager_grants_keys(chain: Chain) -> None:
    lock = deploy_lock(chain)
    with pytest.raises(RuntimeError, match="reverted"):
        chain.transact(
            lock.address,
            "grantKeys(address[],uint256[],address[])",
            [HOT],
            [NEVER_EXPIRES],
            [HOT],
            sender=chain.accounts[1],
        )
    assert not lock.has_valid_key(HOT)


# -- the delegate registry --


def test_the_registry_runs_at_the_canonical_address_and_where_deployed(
    chain: Chain, delegate_registries: Registries
) -> None:
    canonical, deployed = delegate_registries.canonical, delegate_registries.deployed_at
    assert canonical.address == CANONICAL_ADDRESS
    assert chain.rpc("eth_getCode", [CANONICAL_ADDRESS, "latest"]) == chain.rpc(
        "eth_getCode", [deployed.address, "latest"]
    )
    # Separate storage: a delegation on one is not on the other.
    canonical.delegate_all(VAULT, HOT)
    assert canonical.check_all(HOT, VAULT)
    assert not deployed.check_all(HOT, VAULT)


def test_delegating_everything_covers_every_contract_and_token(
    delegate_registry: DelegateRegistry, tokens: Tokens
) -> None:
    registry = delegate_registry
    registry.delegate_all(VAULT, HOT)

    assert registry.check_all(HOT, VAULT)
    assert registry.check_contract(HOT, VAULT, tokens.erc20)
    assert registry.check_erc721(HOT, VAULT, tokens.erc721, 7)
    # Only from that vault, only to that wallet.
    assert not registry.check_all(HOT, OTHER_VAULT)
    assert not registry.check_all(STRANGER, VAULT)
    (delegation,) = registry.incoming(HOT)
    assert (delegation.type, delegation.vault, delegation.to, delegation.rights) == (
        DelegationType.ALL,
        VAULT,
        HOT,
        ALL_RIGHTS,
    )


def test_delegating_one_contract_covers_it_and_its_tokens_only(
    delegate_registry: DelegateRegistry, tokens: Tokens
) -> None:
    registry = delegate_registry
    registry.delegate_contract(VAULT, HOT, tokens.erc721)

    assert registry.check_contract(HOT, VAULT, tokens.erc721)
    assert registry.check_erc721(HOT, VAULT, tokens.erc721, 7)
    assert not registry.check_contract(HOT, VAULT, tokens.erc20)
    assert not registry.check_all(HOT, VAULT)
    (delegation,) = registry.incoming(HOT)
    assert (delegation.type, delegation.contract) == (DelegationType.CONTRACT, tokens.erc721)


def test_delegating_one_erc721_token_covers_that_token_only(
    delegate_registry: DelegateRegistry, tokens: Tokens
) -> None:
    registry = delegate_registry
    registry.delegate_erc721(VAULT, HOT, tokens.erc721, 7)

    assert registry.check_erc721(HOT, VAULT, tokens.erc721, 7)
    assert not registry.check_erc721(HOT, VAULT, tokens.erc721, 8)
    assert not registry.check_contract(HOT, VAULT, tokens.erc721)
    (delegation,) = registry.incoming(HOT)
    assert (delegation.type, delegation.contract, delegation.token_id) == (
        DelegationType.ERC721,
        tokens.erc721,
        7,
    )


def test_an_amount_of_an_erc20_is_not_the_contract(
    delegate_registry: DelegateRegistry, tokens: Tokens
) -> None:
    registry = delegate_registry
    registry.delegate_erc20(VAULT, HOT, tokens.erc20, 100)

    assert not registry.check_contract(HOT, VAULT, tokens.erc20)
    (delegation,) = registry.incoming(HOT)
    assert (delegation.type, delegation.amount) == (DelegationType.ERC20, 100)


def test_rights_zero_is_all_rights_and_a_specific_right_is_not(
    delegate_registry: DelegateRegistry, tokens: Tokens
) -> None:
    registry = delegate_registry
    registry.delegate_contract(VAULT, HOT, tokens.erc20, rights=SOME_RIGHT)
    registry.delegate_all(OTHER_VAULT, HOT)

    # A delegation of one right answers for that right, not for "all rights" (0).
    assert registry.check_contract(HOT, VAULT, tokens.erc20, SOME_RIGHT)
    assert not registry.check_contract(HOT, VAULT, tokens.erc20)
    # A delegation of all rights answers for any right asked.
    assert registry.check_contract(HOT, OTHER_VAULT, tokens.erc20, SOME_RIGHT)


def test_a_revoked_delegation_no_longer_counts_nor_lists(
    delegate_registry: DelegateRegistry, tokens: Tokens
) -> None:
    registry = delegate_registry
    registry.delegate_contract(VAULT, HOT, tokens.erc20)
    registry.delegate_all(OTHER_VAULT, HOT)

    registry.delegate_contract(VAULT, HOT, tokens.erc20, enable=False)
    registry.delegate_all(OTHER_VAULT, HOT, enable=False)

    assert not registry.check_contract(HOT, VAULT, tokens.erc20)
    assert not registry.check_all(HOT, OTHER_VAULT)
    assert registry.incoming(HOT) == []


def test_incoming_delegations_come_in_the_order_they_were_made(
    delegate_registry: DelegateRegistry, tokens: Tokens
) -> None:
    registry = delegate_registry
    vaults = [to_checksum_address(f"0x{n:040x}") for n in range(0xB00, 0xB0C)]
    for vault in vaults:
        registry.delegate_contract(vault, HOT, tokens.erc20)
    registry.delegate_contract(vaults[3], HOT, tokens.erc20, enable=False)

    assert [d.vault for d in registry.incoming(HOT)] == vaults[:3] + vaults[4:]


def test_an_unlocked_account_delegates_as_itself(
    chain: Chain, delegate_registry: DelegateRegistry
) -> None:
    vault = chain.accounts[2]
    delegate_registry.delegate_all(vault, HOT)
    assert delegate_registry.check_all(HOT, vault)
    assert [d.vault for d in delegate_registry.incoming(HOT)] == [vault]
