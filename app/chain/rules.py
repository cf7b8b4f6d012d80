"""The join rules of gated rooms, pure: which chain read a condition needs, and what it means.

One place states them, for the token route and the periodic re-check alike:
- token: ERC-20 `balanceOf(holder) >= amount` (integers in base units);
- nft, erc721: `balanceOf(holder) >= 1`; with a token id, `ownerOf(id) == holder`;
- nft, erc1155: `balanceOf(holder, id) >= 1`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from models.rooms import AccessCondition, AccessType, NftStandard

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


class Reverted(Enum):
    """The read's execution reverted (an answer, unlike a failed request)."""

    REVERTED = "reverted"


REVERTED = Reverted.REVERTED

# What a read answered: a decoded uint256, a decoded address (lower case), or a revert.
Answer = int | str | Reverted


class UnknownAnswerError(Exception):
    """The chain answered something the rule cannot decide on: never admit on it."""


@dataclass(frozen=True, slots=True)
class ChainRead:
    """One `eth_call`: a view function of the condition's contract and what it returns."""

    chain_id: int
    contract: str
    signature: str
    args: tuple[str | int, ...]
    returns: str


def holder_address(identity: str) -> str | None:
    """The identity as a lower-case address, or None when it is not an address."""
    return identity.lower() if _ADDRESS.fullmatch(identity) else None


def read_for(condition: AccessCondition, holder: str) -> ChainRead:
    """The one read that decides whether `holder` meets `condition`."""
    chain, contract = condition.chain_id, condition.contract
    if condition.access_type == AccessType.NFT and condition.nft_token_id is not None:
        if condition.nft_standard == NftStandard.ERC1155:
            return ChainRead(
                chain,
                contract,
                "balanceOf(address,uint256)",
                (holder, condition.nft_token_id),
                "uint256",
            )
        return ChainRead(chain, contract, "ownerOf(uint256)", (condition.nft_token_id,), "address")
    # ERC-20 and ERC-721 share `balanceOf(address)`.
    return ChainRead(chain, contract, "balanceOf(address)", (holder,), "uint256")


def qualifies(condition: AccessCondition, holder: str, answer: Answer) -> bool:
    """Whether `answer` (to `read_for(condition, holder)`) admits `holder`."""
    read = read_for(condition, holder)
    if read.returns == "address":
        if answer is REVERTED:
            # ERC-721 `ownerOf` throws for a token that does not exist: nobody owns it.
            return False
        if not isinstance(answer, str):
            raise UnknownAnswerError("ownerOf did not answer an address")
        return answer.lower() == holder
    if isinstance(answer, bool) or not isinstance(answer, int):
        # A reverting `balanceOf` is not a balance of zero: it is no answer.
        raise UnknownAnswerError(f"{read.signature} did not answer a uint256")
    return answer >= condition.amount
