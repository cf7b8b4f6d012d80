"""A small async Ethereum JSON-RPC client: the reads sign-in and gating need.

Why not web3.py: its async provider validates every call with extra
`eth_chainId` round trips and retries by default, turning a 1 s budget into
several. Here each request is one HTTP POST with one total timeout and no
retries, and every way it can fail is its own exception, so callers decide
(fail closed, answer 503) instead of guessing from a message.

The endpoint is not trusted (DESIGN.md section 12): an answer is read up to
MAX_ANSWER_BYTES, and one that is bigger, does not parse, or answers another
id is no answer (`ChainBadResponseError`), never an unexpected exception.
Every exchange is reported to `observe` with its outcome, whoever asked.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from eth_abi.abi import decode, encode
from eth_utils.crypto import keccak

# What `block` may be: a tag or a block number.
BlockId = str | int

# An answer to the reads here is a few hundred bytes; past this it is refused
# unread, so a hostile endpoint cannot make the service read and parse megabytes.
MAX_ANSWER_BYTES = 1 << 20
_READ_CHUNK = 64 * 1024

# Reported once per exchange (a batch counts once): outcome, seconds.
Observer = Callable[[str, float], None]


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


def _rpc_error(chain_id: int, error: Any) -> ChainRPCError:
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
    return RPCRequest("eth_call", [call, _block(block)])


def _block(block: BlockId) -> str:
    return hex(block) if isinstance(block, int) else block


def _hex_bytes(chain_id: int, value: Any) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ChainBadResponseError(chain_id, "expected hex data in the result")
    try:
        return bytes.fromhex(value[2:])
    except ValueError as error:
        raise ChainBadResponseError(chain_id, "malformed hex data in the result") from error


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


class ChainRPC:
    """JSON-RPC reads on the chains of `CHAIN_RPC_URLS`; opened and closed by the lifecycle."""

    def __init__(
        self,
        urls: Mapping[int, str],
        timeout_seconds: float,
        *,
        observe: Observer | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._urls = dict(urls)
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None
        self._ids = itertools.count(1)
        self._observe = observe
        self._clock = clock

    @property
    def chain_ids(self) -> tuple[int, ...]:
        return tuple(self._urls)

    def is_configured(self, chain_id: int) -> bool:
        return chain_id in self._urls

    async def open(self) -> None:
        if self._session is None:
            # No cookies: nodes behind load balancers set them, and nothing here is a browser.
            # No compression either: MAX_ANSWER_BYTES then bounds what is read and
            # what is parsed alike (a small gzip body can inflate to gigabytes).
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                headers={"Accept-Encoding": "identity"},
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, chain_id: int, method: str, params: Sequence[Any]) -> Any:
        """One JSON-RPC call: its `result`, or the error it answered as an exception."""
        request_id = next(self._ids)
        started = self._clock()
        try:
            answer = await self._post(
                chain_id, {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
            )
            result = _single_result(chain_id, request_id, answer)
        except ChainError as error:
            self._report(error, started)
            raise
        self._report(None, started)
        return result

    async def batch(
        self, chain_id: int, requests: Sequence[RPCRequest]
    ) -> list[Any | ChainRPCError]:
        """Several calls in one JSON-RPC batch (one HTTP round trip).

        Answers come back in the order asked: each the `result`, or the
        `ChainRPCError` of that call alone. A failure of the whole exchange
        (unreachable, timeout, not a batch answer) raises.
        """
        if not requests:
            return []
        first = next(self._ids)
        ids = list(range(first, first + len(requests)))
        # Keep the counter ahead of the ids this batch used.
        for _ in range(len(requests) - 1):
            next(self._ids)
        body = [
            {"jsonrpc": "2.0", "id": request_id, "method": r.method, "params": list(r.params)}
            for request_id, r in zip(ids, requests, strict=True)
        ]
        started = self._clock()
        try:
            results = _batch_results(chain_id, ids, await self._post(chain_id, body))
        except ChainError as error:
            self._report(error, started)
            raise
        self._report(None, started)
        return results

    async def chain_id(self, chain_id: int) -> int:
        """What the endpoint configured for `chain_id` says its chain is."""
        result = await self.request(chain_id, "eth_chainId", [])
        if not isinstance(result, str):
            raise ChainBadResponseError(chain_id, "eth_chainId did not answer a hex number")
        try:
            return int(result, 16)
        except ValueError as error:
            raise ChainBadResponseError(chain_id, "eth_chainId answered bad hex") from error

    async def get_code(self, chain_id: int, address: str, block: BlockId = "latest") -> bytes:
        """The code at `address` (empty for an ordinary account)."""
        result = await self.request(chain_id, "eth_getCode", [address, _block(block)])
        return _hex_bytes(chain_id, result)

    async def call(
        self,
        chain_id: int,
        to: str | None,
        data: bytes,
        block: BlockId = "latest",
        *,
        gas: int | None = None,
    ) -> bytes:
        """`eth_call`; with `to=None`, `data` runs as init code and nothing is deployed."""
        request = eth_call_request(to, data, block, gas=gas)
        result = await self.request(chain_id, request.method, request.params)
        return _hex_bytes(chain_id, result)

    async def _post(self, chain_id: int, body: Any) -> Any:
        url = self._urls.get(chain_id)
        if url is None:
            raise ChainNotConfiguredError(chain_id, "no RPC URL in CHAIN_RPC_URLS")
        if self._session is None:
            raise ChainUnreachableError(chain_id, "the chain client is not open")
        # The URL may carry a provider key: it stays out of every message.
        try:
            async with self._session.post(url, json=body) as response:
                raw = await _read_bounded(chain_id, response)
                status = response.status
        except TimeoutError as error:
            raise ChainTimeoutError(chain_id, "the RPC did not answer in time") from error
        except (aiohttp.ClientError, OSError) as error:
            raise ChainUnreachableError(
                chain_id, f"the RPC cannot be reached ({type(error).__name__})"
            ) from error
        try:
            return json.loads(raw)
        # RecursionError: JSON nested deeper than the parser's stack.
        except (ValueError, RecursionError) as error:
            raise ChainBadResponseError(
                chain_id, f"the RPC answered HTTP {status} without JSON"
            ) from error

    def _report(self, error: ChainError | None, started: float) -> None:
        if self._observe is not None:
            self._observe(outcome_of(error), self._clock() - started)


async def _read_bounded(chain_id: int, response: aiohttp.ClientResponse) -> bytes:
    """The answer's body, or ChainBadResponseError once it passes MAX_ANSWER_BYTES."""
    if (response.content_length or 0) > MAX_ANSWER_BYTES:
        raise ChainBadResponseError(chain_id, f"the RPC answer is over {MAX_ANSWER_BYTES} bytes")
    raw = bytearray()
    async for chunk in response.content.iter_chunked(_READ_CHUNK):
        raw += chunk
        if len(raw) > MAX_ANSWER_BYTES:
            raise ChainBadResponseError(
                chain_id, f"the RPC answer is over {MAX_ANSWER_BYTES} bytes"
            )
    return bytes(raw)


def _is_id(value: Any) -> bool:
    # JSON-RPC ids here are the ints we sent; `true` would equal 1 in Python.
    return type(value) is int


def _single_result(chain_id: int, request_id: int, answer: Any) -> Any:
    """The `result` of a single call's answer, or why there is none."""
    if not isinstance(answer, dict):
        raise ChainBadResponseError(chain_id, "expected a JSON-RPC response object")
    answered = answer.get("id")
    if not _is_id(answered) or answered != request_id:
        raise ChainBadResponseError(chain_id, "the RPC answered another request's id")
    if answer.get("error") is not None:
        raise _rpc_error(chain_id, answer["error"])
    if "result" not in answer:
        raise ChainBadResponseError(chain_id, "a JSON-RPC response without a result")
    return answer["result"]


def _batch_results(chain_id: int, ids: Sequence[int], answer: Any) -> list[Any | ChainRPCError]:
    """Each asked id's result or error object, in the order asked; or why there are none."""
    if isinstance(answer, dict) and "error" in answer:
        # A node that refuses batches answers with one error for all of them.
        raise _rpc_error(chain_id, answer["error"])
    if not isinstance(answer, list):
        raise ChainBadResponseError(chain_id, "expected a JSON-RPC batch response")
    by_id: dict[int, dict[str, Any]] = {}
    for item in answer:
        # Items that are no object or carry an id we never sent answer nothing asked.
        if isinstance(item, dict) and _is_id(item.get("id")):
            by_id[item["id"]] = item
    results: list[Any | ChainRPCError] = []
    for request_id in ids:
        item = by_id.get(request_id)
        if item is None:
            raise ChainBadResponseError(chain_id, "a batch response is missing an answer")
        if item.get("error") is not None:
            results.append(_rpc_error(chain_id, item["error"]))
        elif "result" in item:
            results.append(item["result"])
        else:
            raise ChainBadResponseError(chain_id, "a batch answer without a result")
    return results


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
