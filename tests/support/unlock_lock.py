"""An Unlock Protocol lock on the test chain (tests/contracts/UnlockLock.sol), and its time.

`TestPublicLock` answers PublicLock v13's views (`getHasValidKey`, `balanceOf`,
`tokenOfOwnerByIndex`, `keyExpirationTimestampFor`, `ownerOf`); its lock
manager (the deployer, anvil's first account) grants keys with an expiry,
expires them and moves them. A key is valid while its expiry is after the
block's timestamp, so tests move the chain's time with `mine_at` (anvil's
`evm_setNextBlockTimestamp` + `evm_mine`) to cross an expiry.

Deploy a lock inside a test (on the `chain` fixture): the snapshot reverted
after the test takes it away again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address

from tests.support.chain import Chain, selector

LOCK_CONTRACT = "TestPublicLock"
# Unlock's value for a key that never expires (type(uint).max).
NEVER_EXPIRES = 2**256 - 1


def latest_timestamp(chain: Chain) -> int:
    """The latest block's timestamp (Unix seconds)."""
    block = chain.rpc("eth_getBlockByNumber", ["latest", False])
    return int(block["timestamp"], 16)


def latest_time(chain: Chain) -> dt.datetime:
    return dt.datetime.fromtimestamp(latest_timestamp(chain), dt.UTC)


def mine_at(chain: Chain, timestamp: int) -> None:
    """Mine one block at `timestamp`; later blocks (and calls) go on from there."""
    chain.rpc("evm_setNextBlockTimestamp", [timestamp])
    chain.rpc("evm_mine")


def _decoded(result: bytes, kind: str) -> Any:
    return decode([kind], result)[0]


@dataclass(frozen=True)
class UnlockLock:
    """One deployed lock; the admin calls are sent by its lock manager."""

    chain: Chain
    address: str
    manager: str

    # -- the lock manager's calls (mined at once) --

    def grant(self, holder: str, expires_at: int) -> int:
        """A new key for `holder` valid until `expires_at` (Unix seconds); its token id."""
        data = selector("grantKeys(address[],uint256[],address[])") + encode(
            ["address[]", "uint256[]", "address[]"], [[holder], [expires_at], [holder]]
        )
        receipt = self.chain.send(
            {"from": self.manager, "to": self.address, "data": "0x" + data.hex()}
        )
        transfer = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
        (log,) = [entry for entry in receipt["logs"] if entry["topics"][0] == transfer]
        return int(log["topics"][3], 16)

    def expire(self, token_id: int) -> None:
        """Expire a valid key now (Unlock's `expireAndRefundFor(tokenId, 0)`)."""
        self.chain.transact(
            self.address,
            "expireAndRefundFor(uint256,uint256)",
            token_id,
            0,
            sender=self.manager,
        )

    def transfer(self, token_id: int, to: str) -> None:
        """Move a key to `to` (this test lock lets its manager move any key)."""
        self.chain.transact(
            self.address,
            "transferFrom(address,address,uint256)",
            self.owner_of(token_id),
            to,
            token_id,
            sender=self.manager,
        )

    # -- PublicLock v13's views, by eth_call at the latest block --

    def has_valid_key(self, holder: str) -> bool:
        return bool(
            _decoded(self.chain.call(self.address, "getHasValidKey(address)", holder), "bool")
        )

    def balance_of(self, holder: str) -> int:
        return int(_decoded(self.chain.call(self.address, "balanceOf(address)", holder), "uint256"))

    def token_of_owner_by_index(self, holder: str, index: int) -> int:
        result = self.chain.call(
            self.address, "tokenOfOwnerByIndex(address,uint256)", holder, index
        )
        return int(_decoded(result, "uint256"))

    def expiration_of(self, token_id: int) -> int:
        result = self.chain.call(self.address, "keyExpirationTimestampFor(uint256)", token_id)
        return int(_decoded(result, "uint256"))

    def owner_of(self, token_id: int) -> str:
        owner = _decoded(self.chain.call(self.address, "ownerOf(uint256)", token_id), "address")
        return to_checksum_address(str(owner))


def deploy_lock(chain: Chain) -> UnlockLock:
    """A new lock whose manager is anvil's first account."""
    return UnlockLock(chain, chain.deploy(LOCK_CONTRACT), chain.accounts[0])
