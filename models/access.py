"""A room's access condition (DESIGN.md section 10): a tree of `all`/`any` over leaves.

Plain frozen values, so a condition is a cache key and the room actor can
compare the one a route checked with its current one. `parse` reads the API's
JSON (and says what is wrong, with where), `as_json` writes it back, and the
older `access_type` fields map to a one-leaf tree and back.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from eth_utils.address import to_checksum_address

MAX_UINT256 = 2**256 - 1
MAX_CHILDREN = 10
MAX_DEPTH = 3
MAX_LEAVES = 10
MAX_ALLOWLIST = 1000
MAX_CHAIN_ID = 2**53 - 1

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_DECIMAL = re.compile(r"^[0-9]{1,78}$")


@dataclass(frozen=True, slots=True)
class Erc20:
    chain_id: int
    address: str  # checksummed
    min: int

    def describe(self) -> str:
        where = f"{self.address.lower()} on chain {self.chain_id}"
        return f"hold at least {self.min} base units of ERC-20 {where}"


@dataclass(frozen=True, slots=True)
class Erc721:
    chain_id: int
    address: str
    token_id: int | None = None

    def describe(self) -> str:
        where = f"{self.address.lower()} on chain {self.chain_id}"
        if self.token_id is not None:
            return f"own ERC-721 token {self.token_id} of {where}"
        return f"hold an ERC-721 token of {where}"


@dataclass(frozen=True, slots=True)
class Erc1155:
    chain_id: int
    address: str
    token_id: int
    min: int = 1

    def describe(self) -> str:
        amount = "" if self.min == 1 else f"at least {self.min} of "
        return (
            f"hold {amount}ERC-1155 token {self.token_id} of {self.address.lower()}"
            f" on chain {self.chain_id}"
        )


@dataclass(frozen=True, slots=True)
class Native:
    chain_id: int
    min: int

    def describe(self) -> str:
        return f"hold at least {self.min} wei of chain {self.chain_id}'s coin"


@dataclass(frozen=True, slots=True)
class Unlock:
    chain_id: int
    lock: str

    def describe(self) -> str:
        return f"hold a valid key of Unlock lock {self.lock.lower()} on chain {self.chain_id}"


@dataclass(frozen=True, slots=True)
class Allowlist:
    # The room's chain: where a vault's delegation of everything is read.
    chain_id: int
    addresses: tuple[str, ...]  # checksummed, as given
    members: frozenset[str] = field(compare=False, hash=False, default=frozenset())

    def __post_init__(self) -> None:
        object.__setattr__(self, "members", frozenset(a.lower() for a in self.addresses))

    def describe(self) -> str:
        return f"be one of the {len(self.addresses)} allowlisted addresses"


@dataclass(frozen=True, slots=True)
class All:
    children: tuple[Condition, ...]

    def describe(self) -> str:
        return "all of: " + "; ".join(_nested(c) for c in self.children)


@dataclass(frozen=True, slots=True)
class AnyOf:
    children: tuple[Condition, ...]

    def describe(self) -> str:
        return "one of: " + "; ".join(_nested(c) for c in self.children)


Leaf = Erc20 | Erc721 | Erc1155 | Native | Unlock | Allowlist
Condition = Leaf | All | AnyOf
# Leaves whose reads are of a contract (a vault counts for them when it delegated that contract).
CONTRACT_LEAVES = (Erc20, Erc721, Erc1155, Unlock)


def _nested(condition: Condition) -> str:
    text = condition.describe()
    return f"({text})" if isinstance(condition, All | AnyOf) else text


def leaves(condition: Condition) -> list[Leaf]:
    """The condition's leaves, left to right."""
    if isinstance(condition, All | AnyOf):
        return [leaf for child in condition.children for leaf in leaves(child)]
    return [condition]


def contract_of(leaf: Leaf) -> str | None:
    """The contract a leaf reads (None: native and allowlist)."""
    if isinstance(leaf, Unlock):
        return leaf.lock
    if isinstance(leaf, Erc20 | Erc721 | Erc1155):
        return leaf.address
    return None


def chains_of(condition: Condition) -> list[int]:
    return sorted({leaf.chain_id for leaf in leaves(condition)})


class ConditionError(ValueError):
    """What is wrong with an `access` body, and where (`access.any[1].erc20.min`)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


# -- reading the API's JSON ---------------------------------------------------------


def parse(value: Any, room_chain: int) -> Condition | None:
    """The condition of an `access` body (None: public); ConditionError says what is wrong."""
    if value is None:
        return None
    condition = _condition(value, "access", room_chain, 0)
    count = len(leaves(condition))
    if count > MAX_LEAVES:
        raise ConditionError("access", f"at most {MAX_LEAVES} leaves in all, not {count}")
    return condition


def _condition(value: Any, where: str, room_chain: int, depth: int) -> Condition:
    if not isinstance(value, dict) or len(value) != 1:
        raise ConditionError(
            where,
            "a condition is an object with one key: all, any, erc20, erc721, erc1155,"
            " native, unlock or allowlist",
        )
    [(kind, body)] = value.items()
    at = f"{where}.{kind}"
    if kind in ("all", "any"):
        if depth + 1 > MAX_DEPTH:
            raise ConditionError(at, f"at most {MAX_DEPTH} all/any nested inside one another")
        if not isinstance(body, list) or not 1 <= len(body) <= MAX_CHILDREN:
            raise ConditionError(at, f"a list of 1 to {MAX_CHILDREN} conditions")
        children = tuple(
            _condition(child, f"{at}[{i}]", room_chain, depth + 1) for i, child in enumerate(body)
        )
        return All(children) if kind == "all" else AnyOf(children)
    if kind == "allowlist":
        if not isinstance(body, list) or not 1 <= len(body) <= MAX_ALLOWLIST:
            raise ConditionError(at, f"a list of 1 to {MAX_ALLOWLIST} addresses")
        addresses = tuple(_address(a, f"{at}[{i}]") for i, a in enumerate(body))
        return Allowlist(room_chain, tuple(dict.fromkeys(addresses)))
    reader = _LEAVES.get(kind)
    if reader is None:
        raise ConditionError(where, f"unknown condition {kind!r}")
    allowed, required = reader[1], reader[2]
    if not isinstance(body, dict):
        raise ConditionError(at, "an object")
    for key in body:
        if key not in allowed:
            raise ConditionError(f"{at}.{key}", "not a field of this condition")
    for key in required:
        if key not in body:
            raise ConditionError(f"{at}.{key}", "required")
    chain = _chain(body.get("chain_id", room_chain), f"{at}.chain_id")
    leaf: Leaf = reader[0](body, at, chain)
    return leaf


def _erc20(body: dict[str, Any], at: str, chain: int) -> Leaf:
    return Erc20(
        chain, _address(body["address"], f"{at}.address"), _amount(body["min"], f"{at}.min")
    )


def _erc721(body: dict[str, Any], at: str, chain: int) -> Leaf:
    token_id = body.get("token_id")
    return Erc721(
        chain,
        _address(body["address"], f"{at}.address"),
        None if token_id is None else _token_id(token_id, f"{at}.token_id"),
    )


def _erc1155(body: dict[str, Any], at: str, chain: int) -> Leaf:
    return Erc1155(
        chain,
        _address(body["address"], f"{at}.address"),
        _token_id(body["token_id"], f"{at}.token_id"),
        _amount(body.get("min", "1"), f"{at}.min"),
    )


def _native(body: dict[str, Any], at: str, chain: int) -> Leaf:
    return Native(chain, _amount(body["min"], f"{at}.min"))


def _unlock(body: dict[str, Any], at: str, chain: int) -> Leaf:
    return Unlock(chain, _address(body["lock"], f"{at}.lock"))


_LEAVES: dict[str, tuple[Any, frozenset[str], tuple[str, ...]]] = {
    "erc20": (_erc20, frozenset({"address", "min", "chain_id"}), ("address", "min")),
    "erc721": (_erc721, frozenset({"address", "token_id", "chain_id"}), ("address",)),
    "erc1155": (
        _erc1155,
        frozenset({"address", "token_id", "min", "chain_id"}),
        ("address", "token_id"),
    ),
    "native": (_native, frozenset({"min", "chain_id"}), ("min",)),
    "unlock": (_unlock, frozenset({"lock", "chain_id"}), ("lock",)),
}


def _address(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
        raise ConditionError(where, "an address: 0x and 40 hex digits")
    return str(to_checksum_address(value))


def _decimal(value: Any, where: str) -> int:
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
        raise ConditionError(where, "a decimal string of base units")
    number = int(value)
    if number > MAX_UINT256:
        raise ConditionError(where, "does not fit in a uint256")
    return number


def _amount(value: Any, where: str) -> int:
    number = _decimal(value, where)
    if number < 1:
        raise ConditionError(where, "at least 1")
    return number


def _token_id(value: Any, where: str) -> int:
    return _decimal(value, where)


def _chain(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CHAIN_ID:
        raise ConditionError(where, "a chain id: an integer from 1")
    return value


# -- writing it back ------------------------------------------------------------------


def as_json(condition: Condition | None) -> Any:
    """The API's JSON of a condition (every leaf names its chain)."""
    if condition is None:
        return None
    if isinstance(condition, All):
        return {"all": [as_json(c) for c in condition.children]}
    if isinstance(condition, AnyOf):
        return {"any": [as_json(c) for c in condition.children]}
    if isinstance(condition, Allowlist):
        return {"allowlist": list(condition.addresses)}
    if isinstance(condition, Erc20):
        body: dict[str, Any] = {"address": condition.address, "min": str(condition.min)}
        kind = "erc20"
    elif isinstance(condition, Erc721):
        body = {"address": condition.address}
        if condition.token_id is not None:
            body["token_id"] = str(condition.token_id)
        kind = "erc721"
    elif isinstance(condition, Erc1155):
        body = {
            "address": condition.address,
            "token_id": str(condition.token_id),
            "min": str(condition.min),
        }
        kind = "erc1155"
    elif isinstance(condition, Native):
        body, kind = {"min": str(condition.min)}, "native"
    else:
        body, kind = {"lock": condition.lock}, "unlock"
    return {kind: {**body, "chain_id": condition.chain_id}}


def dumps(condition: Condition | None) -> str | None:
    """The stored text of a condition (the rooms row's `access` column)."""
    found = as_json(condition)
    return None if found is None else json.dumps(found, separators=(",", ":"))


def loads(text: str | None, room_chain: int) -> Condition | None:
    """A stored condition (written by `dumps`, so valid).

    Memoised by its text: every room read (GET /v1/rooms, room.* events, each
    re-check round) loads it, and parsing checksums every address (a keccak
    each), ~0.1 s for a full allowlist. A condition is immutable, so one parsed
    object serves every read of the same text."""
    return None if text is None else _parsed(text, room_chain)


# Distinct stored conditions kept parsed; past it the least recently read is parsed again.
PARSED_CONDITIONS = 1024


@functools.lru_cache(maxsize=PARSED_CONDITIONS)
def _parsed(text: str, room_chain: int) -> Condition | None:
    return parse(json.loads(text), room_chain)


# -- the older fields -------------------------------------------------------------------


def from_legacy(
    access_type: str,
    chain_id: int,
    token_address: str | None,
    token_amount: str | None,
    nft_address: str | None,
    nft_standard: str,
    nft_token_id: str | None,
) -> Condition | None:
    """The condition the older fields say (they pass models/access_rules.py); None: public."""
    if access_type == "token" and token_address and token_amount:
        return Erc20(chain_id, str(to_checksum_address(token_address)), int(token_amount))
    if access_type == "nft" and nft_address:
        address = str(to_checksum_address(nft_address))
        token_id = None if nft_token_id is None else int(nft_token_id)
        if nft_standard == "erc1155" and token_id is not None:
            return Erc1155(chain_id, address, token_id, 1)
        return Erc721(chain_id, address, token_id)
    return None


LEGACY_PUBLIC: dict[str, Any] = {
    "access_type": "public",
    "token_address": None,
    "token_amount": None,
    "nft_address": None,
    "nft_standard": "erc721",
    "nft_token_id": None,
}


def to_legacy(condition: Condition | None, room_chain: int) -> dict[str, Any]:
    """The older fields of a condition: `public`, `token` or `nft` when they can say it,
    else `conditions` (the other fields null)."""
    if condition is None:
        return dict(LEGACY_PUBLIC)
    if isinstance(condition, Erc20) and condition.chain_id == room_chain:
        return {
            **LEGACY_PUBLIC,
            "access_type": "token",
            "token_address": condition.address,
            "token_amount": str(condition.min),
        }
    if isinstance(condition, Erc721) and condition.chain_id == room_chain:
        token_id = None if condition.token_id is None else str(condition.token_id)
        return {
            **LEGACY_PUBLIC,
            "access_type": "nft",
            "nft_address": condition.address,
            "nft_token_id": token_id,
        }
    if isinstance(condition, Erc1155) and condition.chain_id == room_chain and condition.min == 1:
        return {
            **LEGACY_PUBLIC,
            "access_type": "nft",
            "nft_address": condition.address,
            "nft_standard": "erc1155",
            "nft_token_id": str(condition.token_id),
        }
    return {**LEGACY_PUBLIC, "access_type": "conditions"}


def stored_condition(
    access: str | None,
    access_type: str,
    chain_id: int,
    token_address: str | None,
    token_amount: str | None,
    nft_address: str | None,
    nft_standard: str,
    nft_token_id: str | None,
) -> Condition | None:
    """A rooms row's condition: its `access`, or for a row written before that column
    (not carried over yet), what its older fields say."""
    if access is not None:
        return loads(access, chain_id)
    return from_legacy(
        access_type, chain_id, token_address, token_amount, nft_address, nft_standard, nft_token_id
    )
