"""The join rules of gated rooms, pure: which chain reads a leaf needs, what they mean,
and how a condition tree decides on them (DESIGN.md sections 3 and 10).

One place states them, for the token route and the periodic re-check alike:
- erc20: `balanceOf(holder) >= min` (integers in base units);
- erc721: `balanceOf(holder) >= 1`; with a token id, `ownerOf(id) == holder`;
- erc1155: `balanceOf(holder, id) >= min`;
- native: `eth_getBalance(holder) >= min`;
- unlock: `getHasValidKey(holder)` decides; the expiry of the key at index 0
  (`keyExpirationTimestampFor(tokenOfOwnerByIndex(holder, 0))`) only arms the
  end-of-key timer, when it is in the future;
- allowlist: the holder is on it (no read).

Three-valued (Kleene): True, False, or None for no answer. `any` is yes on one
yes whatever else is unknown; `all` is no on one no.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from models.access import (
    CONTRACT_LEAVES,
    All,
    Allowlist,
    AnyOf,
    Condition,
    Erc20,
    Erc721,
    Erc1155,
    Leaf,
    Native,
    Unlock,
    contract_of,
)

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")

# An Unlock key that never expires reads as the largest uint256; past this it is "never".
NEVER_EXPIRES = 2**255
NO_RIGHTS = b"\x00" * 32
# delegate.xyz v2's DelegationType values that can count (amount-limited ones never do).
DELEGATION_ALL = 1
DELEGATION_CONTRACT = 2
DELEGATION_ERC721 = 3
DELEGATION_TUPLE = "(uint8,address,address,bytes32,address,uint256,uint256)[]"
INCOMING_SIGNATURE = "getIncomingDelegations(address)"
# Vaults tried when the token request names none (DESIGN.md section 10).
MAX_VAULTS = 10


class Reverted(Enum):
    """The read's execution reverted (an answer, unlike a failed request)."""

    REVERTED = "reverted"


REVERTED = Reverted.REVERTED

# What a read answered: a decoded uint256 or bool (as int), an address (lower
# case), a list of delegations, or a revert.
Answer = int | str | tuple[object, ...] | Reverted
Tri = bool | None


class UnknownAnswerError(Exception):
    """The chain answered something the rule cannot decide on: never admit on it."""


@dataclass(frozen=True, slots=True)
class ChainRead:
    """One read: an `eth_call` of a view function, or `eth_getBalance` (contract None)."""

    chain_id: int
    contract: str | None
    signature: str
    args: tuple[str | int | bytes, ...]
    returns: str


@dataclass(frozen=True, slots=True)
class Held:
    """What one address has of one leaf: yes or no, and for a yes through an Unlock
    key, when that key ends (unix seconds; None: never, or not known)."""

    yes: bool
    expires_at: int | None = None

    def __bool__(self) -> bool:
        return self.yes


def holder_address(identity: str) -> str | None:
    """The identity as a lower-case address, or None when it is not an address."""
    return identity.lower() if _ADDRESS.fullmatch(identity) else None


# -- one leaf ---------------------------------------------------------------------------


def first_reads(leaf: Leaf, holder: str) -> list[ChainRead]:
    """The reads that decide `leaf` for `holder` (none for an allowlist)."""
    chain = leaf.chain_id
    if isinstance(leaf, Erc20) or (isinstance(leaf, Erc721) and leaf.token_id is None):
        return [ChainRead(chain, leaf.address, "balanceOf(address)", (holder,), "uint256")]
    if isinstance(leaf, Erc721):
        token_id: int = leaf.token_id  # type: ignore[assignment]  # not None: see above
        return [ChainRead(chain, leaf.address, "ownerOf(uint256)", (token_id,), "address")]
    if isinstance(leaf, Erc1155):
        return [
            ChainRead(
                chain,
                leaf.address,
                "balanceOf(address,uint256)",
                (holder, leaf.token_id),
                "uint256",
            )
        ]
    if isinstance(leaf, Native):
        return [ChainRead(chain, None, "eth_getBalance", (holder,), "uint256")]
    if isinstance(leaf, Unlock):
        return [
            ChainRead(chain, leaf.lock, "getHasValidKey(address)", (holder,), "bool"),
            ChainRead(
                chain, leaf.lock, "tokenOfOwnerByIndex(address,uint256)", (holder, 0), "uint256"
            ),
        ]
    return []


def expiry_read(leaf: Unlock, token_id: int) -> ChainRead:
    return ChainRead(
        leaf.chain_id, leaf.lock, "keyExpirationTimestampFor(uint256)", (token_id,), "uint256"
    )


# Answers found so far: a read's answer, or None where the chain gave none.
Answers = Mapping[ChainRead, Answer | None]
_MISSING = object()


def follow_up_reads(leaf: Leaf, holder: str, answers: Answers) -> list[ChainRead]:
    """Reads that depend on the first ones' answers (an Unlock key's expiry)."""
    if not isinstance(leaf, Unlock):
        return []
    has_key, token = (answers.get(r, _MISSING) for r in first_reads(leaf, holder))
    if has_key == 1 and isinstance(token, int) and not isinstance(token, bool):
        return [expiry_read(leaf, token)]
    return []


def leaf_held(
    leaf: Leaf, holder: str, answers: Answers, now: float, *, key_end: bool = True
) -> Held | object | None:
    """What `holder` has of `leaf` given `answers`: Held, None (no answer), or
    _MISSING when a read it needs has not been made. Without `key_end`, an Unlock
    key's end is not read (a yes without an end: the re-check follows it)."""
    if isinstance(leaf, Allowlist):
        return Held(holder in leaf.members)
    reads = first_reads(leaf, holder)
    found = [answers.get(read, _MISSING) for read in reads]
    if any(a is _MISSING for a in found):
        return _MISSING
    if isinstance(leaf, Unlock):
        has_key, token = found
        if has_key is None or has_key is REVERTED or not isinstance(has_key, int):
            return None
        if has_key != 1:
            return Held(False)
        if key_end and isinstance(token, int) and not isinstance(token, bool):
            expiry = answers.get(expiry_read(leaf, token), _MISSING)
            if expiry is _MISSING:
                return _MISSING
            if isinstance(expiry, int) and not isinstance(expiry, bool) and now < expiry:
                # `getHasValidKey` decides; the expiry only arms the timer, and only a
                # future one: index 0 may be an ended key while a later one is valid
                # (PublicLock counts ended keys in tokenOfOwnerByIndex).
                return Held(True, None if expiry >= NEVER_EXPIRES else expiry)
        # A valid key whose expiry cannot be read (or is past): admitted; the
        # re-check follows it.
        return Held(True)
    [answer] = found
    if answer is None:
        return None
    try:
        return Held(qualifies(leaf, holder, answer))  # type: ignore[arg-type]
    except UnknownAnswerError:
        return None


def qualifies(leaf: Leaf, holder: str, answer: Answer) -> bool:
    """Whether `answer` (to the leaf's one read for `holder`) admits `holder`."""
    [read] = first_reads(leaf, holder)
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
    minimum = leaf.min if isinstance(leaf, Erc20 | Erc1155 | Native) else 1
    return answer >= minimum


def is_missing(value: object) -> bool:
    return value is _MISSING


# -- delegation (delegate.xyz v2) --------------------------------------------------------


def delegation_read(registry: str, leaf: Leaf, wallet: str, vault: str) -> ChainRead:
    """Whether `vault` delegated to `wallet` what `leaf` needs: its contract (or, for
    an ERC-721 token id, that token), or everything for native and allowlist."""
    contract = contract_of(leaf)
    chain = leaf.chain_id
    if contract is None:
        return ChainRead(
            chain,
            registry,
            "checkDelegateForAll(address,address,bytes32)",
            (wallet, vault, NO_RIGHTS),
            "bool",
        )
    if isinstance(leaf, Erc721) and leaf.token_id is not None:
        return ChainRead(
            chain,
            registry,
            "checkDelegateForERC721(address,address,address,uint256,bytes32)",
            (wallet, vault, contract, leaf.token_id, NO_RIGHTS),
            "bool",
        )
    return ChainRead(
        chain,
        registry,
        "checkDelegateForContract(address,address,address,bytes32)",
        (wallet, vault, contract, NO_RIGHTS),
        "bool",
    )


def incoming_read(registry: str, chain_id: int, wallet: str) -> ChainRead:
    return ChainRead(chain_id, registry, INCOMING_SIGNATURE, (wallet,), DELEGATION_TUPLE)


@dataclass(frozen=True, slots=True)
class Delegation:
    """One delegation to the wallet, as `getIncomingDelegations` lists it (lower case)."""

    chain_id: int
    kind: int
    vault: str
    contract: str
    token_id: int


def delegations_of(answer: Answer | None, chain_id: int) -> list[Delegation] | None:
    """The delegations without rights (the only ones that count), or None (no answer)."""
    if answer is None or not isinstance(answer, tuple):
        return None
    found = []
    for item in answer:
        if not isinstance(item, tuple) or len(item) != 7:
            return None
        kind, _to, vault, rights, contract, token_id, _amount = item
        if rights != NO_RIGHTS:
            continue
        if kind in (DELEGATION_ALL, DELEGATION_CONTRACT, DELEGATION_ERC721):
            found.append(Delegation(chain_id, int(kind), str(vault), str(contract), int(token_id)))
    return found


def vaults_in(
    delegations: list[Delegation], wallet: str, condition_leaves: Sequence[Leaf]
) -> list[str]:
    """The vaults to try, in the registry's order, at most MAX_VAULTS: only those whose
    delegations cover some leaf of the condition (that costs no read), so vaults
    delegating something else (anyone may delegate to anyone) do not crowd out one
    that counts."""
    vaults = dict.fromkeys(d.vault for d in delegations if d.vault != wallet)
    covering = [
        vault
        for vault in vaults
        if any(delegated(delegations, vault, leaf) for leaf in condition_leaves)
    ]
    return covering[:MAX_VAULTS]


def delegated(delegations: list[Delegation], vault: str, leaf: Leaf) -> bool:
    """Whether `vault`'s delegations cover `leaf` (as `delegation_read` asks it)."""
    contract = contract_of(leaf)
    for d in delegations:
        if d.vault != vault or d.chain_id != leaf.chain_id:
            continue
        if d.kind == DELEGATION_ALL:
            return True
        if contract is None or not isinstance(leaf, CONTRACT_LEAVES):
            continue
        if d.contract != contract.lower():
            continue
        if d.kind == DELEGATION_CONTRACT:
            return True
        if isinstance(leaf, Erc721) and leaf.token_id is not None and d.token_id == leaf.token_id:
            return True
    return False


# -- the tree ----------------------------------------------------------------------------


def evaluate(condition: Condition, value: Callable[[Leaf], Tri]) -> Tri:
    """Kleene's three-valued `all`/`any` over the leaves' values."""
    if isinstance(condition, All | AnyOf):
        found = [evaluate(child, value) for child in condition.children]
        if isinstance(condition, All):
            if False in found:
                return False
            return None if None in found else True
        if True in found:
            return True
        return None if None in found else False
    return value(condition)


def failing(condition: Condition, value: Callable[[Leaf], Tri]) -> list[Leaf]:
    """The leaves a refusal names: for `all` the first child that says no, for `any`
    every child (each says no)."""
    if isinstance(condition, All):
        for child in condition.children:
            if evaluate(child, value) is False:
                return failing(child, value)
        return []
    if isinstance(condition, AnyOf):
        return [leaf for child in condition.children for leaf in failing(child, value)]
    return [condition]


def expiry(condition: Condition, held: Mapping[Leaf, Held | None]) -> int | None:
    """When a yes on `held` becomes a definite no as Unlock keys end: the expiry of
    the key that then decides (None: no key ending takes the yes away for sure).

    A leaf without an answer (None) is not a no: an unknown removes nobody
    (DESIGN.md section 3), so a key whose end leaves only an unknown arms no
    timer, and the re-check decides then."""
    ending = sorted(
        (
            (h.expires_at, leaf)
            for leaf, h in held.items()
            if h is not None and h.yes and h.expires_at is not None
        ),
        key=lambda item: item[0],
    )
    gone: set[Leaf] = set()
    for expires_at, leaf in ending:
        gone.add(leaf)

        def value(item: Leaf) -> Tri:
            if item in gone:
                return False
            found = held.get(item)
            return None if found is None else found.yes

        if evaluate(condition, value) is False:
            return expires_at
    return None
