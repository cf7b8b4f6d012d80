"""delegate.xyz v2's DelegateRegistry on the test chain, and delegating through it.

The registry is compiled from its published source (tests/contracts/
delegate_registry/, imported by DelegateRegistryV2.sol). The session fixture
`delegate_registries` deploys it once and puts the same code at the canonical
address too (anvil's `anvil_setCode`; the registry has no constructor or
immutables, so the copy behaves the same), where the app looks by default
(DELEGATE_REGISTRY_ADDRESS); `delegate_registry` is that canonical one for a
test. A test module registers both by naming them at its top level
(`delegate_registry = delegate_registry_module.delegate_registry`).

A delegation is sent by its vault (the registry's `from` is `msg.sender`): a
vault that is not one of anvil's unlocked accounts is impersonated and given
gas money, so any address can be a cold vault.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import pytest
from eth_abi import decode
from eth_utils import to_checksum_address

from tests.support.chain import Chain

REGISTRY_CONTRACT = "DelegateRegistry"
CANONICAL_ADDRESS = to_checksum_address("0x00000000000000447e69651d841bd8d104bed493")
# `rights` 0: the delegation covers every right (what Qari asks for).
ALL_RIGHTS = bytes(32)
GAS_MONEY = 10**18
_DELEGATION = "(uint8,address,address,bytes32,address,uint256,uint256)"


class DelegationType(enum.IntEnum):
    """IDelegateRegistry.DelegationType."""

    NONE = 0
    ALL = 1
    CONTRACT = 2
    ERC721 = 3
    ERC20 = 4
    ERC1155 = 5


@dataclass(frozen=True)
class Delegation:
    """IDelegateRegistry.Delegation, as getIncomingDelegations returns it."""

    type: DelegationType
    to: str
    vault: str  # the struct's `from`
    rights: bytes
    contract: str
    token_id: int
    amount: int


def _decoded(result: bytes, kind: str) -> Any:
    return decode([kind], result)[0]


@dataclass(frozen=True)
class DelegateRegistry:
    """One registry on the chain: delegate (as the vault) and read back."""

    chain: Chain
    address: str

    def _as_vault(self, vault: str, signature: str, *args: Any) -> None:
        if to_checksum_address(vault) not in self.chain.accounts:
            self.chain.rpc("anvil_impersonateAccount", [vault])
            self.chain.rpc("anvil_setBalance", [vault, hex(GAS_MONEY)])
        self.chain.transact(self.address, signature, *args, sender=vault)

    # -- delegations, sent by `vault`; enable=False revokes --

    def delegate_all(
        self, vault: str, to: str, *, enable: bool = True, rights: bytes = ALL_RIGHTS
    ) -> None:
        self._as_vault(vault, "delegateAll(address,bytes32,bool)", to, rights, enable)

    def delegate_contract(
        self,
        vault: str,
        to: str,
        contract: str,
        *,
        enable: bool = True,
        rights: bytes = ALL_RIGHTS,
    ) -> None:
        self._as_vault(
            vault,
            "delegateContract(address,address,bytes32,bool)",
            to,
            contract,
            rights,
            enable,
        )

    def delegate_erc721(
        self,
        vault: str,
        to: str,
        contract: str,
        token_id: int,
        *,
        enable: bool = True,
        rights: bytes = ALL_RIGHTS,
    ) -> None:
        self._as_vault(
            vault,
            "delegateERC721(address,address,uint256,bytes32,bool)",
            to,
            contract,
            token_id,
            rights,
            enable,
        )

    def delegate_erc20(
        self, vault: str, to: str, contract: str, amount: int, *, rights: bytes = ALL_RIGHTS
    ) -> None:
        """An amount of one ERC-20 (amount 0 revokes): Qari does not count it as the contract."""
        self._as_vault(
            vault,
            "delegateERC20(address,address,bytes32,uint256)",
            to,
            contract,
            rights,
            amount,
        )

    # -- the registry's views, by eth_call at the latest block --

    def check_all(self, to: str, vault: str, rights: bytes = ALL_RIGHTS) -> bool:
        result = self.chain.call(
            self.address, "checkDelegateForAll(address,address,bytes32)", to, vault, rights
        )
        return bool(_decoded(result, "bool"))

    def check_contract(
        self, to: str, vault: str, contract: str, rights: bytes = ALL_RIGHTS
    ) -> bool:
        result = self.chain.call(
            self.address,
            "checkDelegateForContract(address,address,address,bytes32)",
            to,
            vault,
            contract,
            rights,
        )
        return bool(_decoded(result, "bool"))

    def check_erc721(
        self, to: str, vault: str, contract: str, token_id: int, rights: bytes = ALL_RIGHTS
    ) -> bool:
        result = self.chain.call(
            self.address,
            "checkDelegateForERC721(address,address,address,uint256,bytes32)",
            to,
            vault,
            contract,
            token_id,
            rights,
        )
        return bool(_decoded(result, "bool"))

    def incoming(self, to: str) -> list[Delegation]:
        """getIncomingDelegations(to): the live delegations to `to`, in the registry's order."""
        result = self.chain.call(self.address, "getIncomingDelegations(address)", to)
        return [
            Delegation(
                type=DelegationType(kind),
                to=to_checksum_address(delegate),
                vault=to_checksum_address(vault),
                rights=bytes(rights),
                contract=to_checksum_address(contract),
                token_id=int(token_id),
                amount=int(amount),
            )
            for kind, delegate, vault, rights, contract, token_id, amount in _decoded(
                result, _DELEGATION + "[]"
            )
        ]


def deploy_registry(chain: Chain) -> DelegateRegistry:
    """A registry deployed the ordinary way, at whatever address the deployer gets."""
    return DelegateRegistry(chain, chain.deploy(REGISTRY_CONTRACT))


def place_at(chain: Chain, source: DelegateRegistry, address: str) -> DelegateRegistry:
    """The deployed registry's code also at `address` (its own, empty, storage)."""
    code = chain.rpc("eth_getCode", [source.address, "latest"])
    chain.rpc("anvil_setCode", [address, code])
    return DelegateRegistry(chain, to_checksum_address(address))


@dataclass(frozen=True)
class Registries:
    """The session's registry at the canonical address, and where it was deployed."""

    canonical: DelegateRegistry
    deployed_at: DelegateRegistry


@pytest.fixture(scope="session")
def delegate_registries(anvil_node: Chain) -> Registries:
    # Session scope sets this up before any test's snapshot, so reverts keep it.
    deployed = deploy_registry(anvil_node)
    return Registries(place_at(anvil_node, deployed, CANONICAL_ADDRESS), deployed)


@pytest.fixture
def delegate_registry(chain: Chain, delegate_registries: Registries) -> DelegateRegistry:
    """The registry at the canonical address, on this test's (reverted after) chain."""
    return delegate_registries.canonical
