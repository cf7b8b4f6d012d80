"""What a JSON-RPC request is: a method and its params, and the `eth_call` one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# What `block` may be: a tag or a block number.
BlockId = str | int


@dataclass(frozen=True)
class RPCRequest:
    """One JSON-RPC request (for `ChainRPC.batch`)."""

    method: str
    params: Sequence[Any]


def eth_call_request(
    to: str | None, data: bytes, block: BlockId = "latest", *, gas: int | None = None
) -> RPCRequest:
    """An `eth_call`; with `to=None` the data is init code run without deploying (EIP-6492).

    `gas` caps the call's execution: without it a node allows its own cap
    (30M on anvil and geth), which a contract that loops spends in full.
    """
    call: dict[str, str] = {"data": "0x" + data.hex()}
    if to is not None:
        call["to"] = to
    if gas is not None:
        call["gas"] = hex(gas)
    return RPCRequest("eth_call", [call, block_param(block)])


def block_param(block: BlockId) -> str:
    """`block` as JSON-RPC writes it: a tag as it is, a number in hex."""
    return hex(block) if isinstance(block, int) else block
