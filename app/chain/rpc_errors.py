"""The ways a chain read can fail, each its own exception, and what they count as.

Callers decide from the type (fail closed, answer 503) instead of guessing
from a message. A node's JSON-RPC error object is classified here: a revert
and running out of gas are a contract's own failures, kept apart from the
node's errors about anything else.
"""

from __future__ import annotations

import re
from typing import Any


class ChainError(Exception):
    """A chain read that gave no usable answer. Subclasses say why."""

    def __init__(self, chain_id: int, message: str) -> None:
        super().__init__(f"chain {chain_id}: {message}")
        self.chain_id = chain_id


class ChainNotConfiguredError(ChainError):
    """`CHAIN_RPC_URLS` has no URL for this chain."""


class ChainUnreachableError(ChainError):
    """The RPC endpoint could not be reached (refused, reset, DNS, TLS)."""


class ChainTimeoutError(ChainError):
    """The RPC endpoint did not answer within `CHAIN_TIMEOUT_SECONDS`."""


class ChainBadResponseError(ChainError):
    """The endpoint answered, but not with JSON-RPC (an HTTP error page, bad JSON)."""


class ChainRPCError(ChainError):
    """The node answered with a JSON-RPC error object."""

    def __init__(self, chain_id: int, code: int, message: str, data: Any = None) -> None:
        super().__init__(chain_id, f"RPC error {code}: {message}")
        self.code = code
        self.rpc_message = message
        self.data = data


class OutOfGasError(ChainRPCError):
    """An `eth_call` that ran out of the gas it was given (its cap): it did not finish."""


class ExecutionRevertedError(ChainRPCError):
    """An `eth_call` whose execution reverted; `revert_data` is what it returned."""

    @property
    def revert_data(self) -> bytes:
        if isinstance(self.data, str) and self.data.startswith("0x"):
            try:
                return bytes.fromhex(self.data[2:])
            except ValueError:
                return b""
        return b""


# Geth and anvil answer a revert with code 3 and the revert data; older nodes
# use -32000 with the words in the message.
_REVERT_CODE = 3
# Running out of gas has no code of its own: geth says "out of gas", anvil
# "EVM error OutOfGas" (or MemoryOOG).
_OUT_OF_GAS = re.compile(r"out\s*of\s*gas|oog\b", re.IGNORECASE)


def rpc_error(chain_id: int, error: Any) -> ChainRPCError:
    """The exception for a JSON-RPC error object: a revert, out of gas, or another error."""
    if not isinstance(error, dict):
        return ChainRPCError(chain_id, 0, "malformed error object")
    code = error.get("code")
    message = str(error.get("message", ""))
    data = error.get("data")
    code = code if isinstance(code, int) else 0
    if code == _REVERT_CODE or message.lower().startswith("execution reverted"):
        return ExecutionRevertedError(chain_id, code, message, data)
    if _OUT_OF_GAS.search(message):
        return OutOfGasError(chain_id, code, message, data)
    return ChainRPCError(chain_id, code, message, data)


def outcome_of(error: ChainError | None) -> str:
    """An exchange's outcome for the metrics: ok, or what kind of failure.

    A contract's own failure (a revert, running out of its gas) is an answer
    the node gave: ok. A node's error object about anything else is rpc_error.
    """
    if error is None or isinstance(error, ExecutionRevertedError | OutOfGasError):
        return "ok"
    kinds: tuple[tuple[type[ChainError], str], ...] = (
        (ChainNotConfiguredError, "not_configured"),
        (ChainTimeoutError, "timeout"),
        (ChainUnreachableError, "unreachable"),
        (ChainBadResponseError, "bad_response"),
        (ChainRPCError, "rpc_error"),
    )
    for kind, name in kinds:
        if isinstance(error, kind):
            return name
    return "error"
