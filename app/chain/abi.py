"""ABI encoding of contract calls: selectors, calldata, and decoding what a call returned."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi.abi import decode, encode
from eth_utils.crypto import keccak


def function_selector(signature: str) -> bytes:
    """The 4-byte selector of a function signature such as `balanceOf(address)`."""
    return keccak(text=signature)[:4]


def encode_call(signature: str, *args: Any) -> bytes:
    """Calldata for `signature` (e.g. `balanceOf(address)`) with `args`, ABI-encoded."""
    types = _argument_types(signature)
    return function_selector(signature) + encode(types, list(args))


def decode_result(types: Sequence[str], data: bytes) -> tuple[Any, ...]:
    """Decode an `eth_call` result; raises `eth_abi` errors on data of the wrong shape."""
    return tuple(decode(list(types), data))


def _argument_types(signature: str) -> list[str]:
    inner = signature[signature.index("(") + 1 : signature.rindex(")")]
    if not inner:
        return []
    # Top-level commas only: tuple types have commas of their own.
    types: list[str] = []
    depth = 0
    current = ""
    for char in inner:
        if char == "," and depth == 0:
            types.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    types.append(current)
    return types
