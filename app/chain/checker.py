"""Whether an identity meets a gated room's condition, asked of the chain and cached.

The token route calls `require` before it asks the room's actor for a token,
so a slow chain holds only the request that needs it, never the room's
mailbox. Every way the chain can fail to answer (not configured, refused,
slower than CHAIN_TIMEOUT_SECONDS, an error, no contract at the address) is
`ChainUnavailableError`: nobody is admitted on an unknown answer.

Reads are bounded (DESIGN.md section 12): every `eth_call` carries the
CHAIN_CALL_GAS cap, and the re-check reads each contract in exchanges of its
own, so a contract that fails or is slow leaves only its own pairs undecided.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from eth_abi.exceptions import DecodingError

from app.chain.abi import decode_result, encode_call
from app.chain.cache import VerdictCache
from app.chain.rpc import ChainRPC
from app.chain.rpc_errors import (
    ChainError,
    ChainNotConfiguredError,
    ChainRPCError,
    ExecutionRevertedError,
)
from app.chain.rpc_requests import RPCRequest, eth_call_request
from app.chain.rules import (
    REVERTED,
    Answer,
    ChainRead,
    UnknownAnswerError,
    holder_address,
    qualifies,
    read_for,
)
from app.chain.stats import GatingStats
from models.rooms import AccessCondition

# JSON-RPC batches are capped by providers (often 100 to 1000 calls): stay well under.
MAX_BATCH = 100
# Exchanges of one re-check in flight at once per chain: contracts are read
# side by side, so a slow one costs the others nothing, without flooding the node.
MAX_CONCURRENT_EXCHANGES = 4


class AccessDeniedError(Exception):
    """The identity does not meet the condition (or is not an address at all)."""

    def __init__(self, condition: AccessCondition, reason: str) -> None:
        super().__init__(reason)
        self.condition = condition
        self.reason = reason


class ChainUnavailableError(Exception):
    """The chain gave no usable answer; `reason` says why, for logs and the client.

    `lasting`: a cause retrying will not fix (the chain is not configured, no
    contract at the address), which the client is told instead of "retry".
    """

    def __init__(self, condition: AccessCondition, reason: str, *, lasting: bool = False) -> None:
        super().__init__(reason)
        self.condition = condition
        self.reason = reason
        self.lasting = lasting


Pair = tuple[AccessCondition, str]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What the RPC said of one read: an answer, or why there was none."""

    answer: Answer | None
    problem: str | None = None
    # The problem is one that asking again will not fix.
    lasting: bool = False


class AccessChecker:
    """Checks conditions on chain for the token route and the periodic re-check."""

    def __init__(
        self,
        rpc: ChainRPC,
        cache: VerdictCache[Pair],
        stats: GatingStats,
        *,
        call_gas: int,
    ) -> None:
        self._rpc = rpc
        self.cache = cache
        # Counts checks; the ChainRPC reports its exchanges into it too.
        self.stats = stats
        self._call_gas = call_gas

    async def require(self, condition: AccessCondition, identity: str) -> None:
        """Return if `identity` meets `condition`, else raise why not.

        AccessDeniedError: it does not (or is no address); ChainUnavailableError: no answer.
        """
        stats = self.stats
        stats.checks += 1
        holder = holder_address(identity)
        if holder is None:
            stats.denied += 1
            raise AccessDeniedError(condition, "the identity is not an address")
        key = (condition, holder)
        verdict = self.cache.get(key)
        if verdict is None:
            try:
                verdict = await self.cache.get_or_check(key, lambda: self._check(condition, holder))
            except ChainUnavailableError:
                stats.unavailable += 1
                raise
        else:
            stats.cache_hits += 1
        if not verdict:
            stats.denied += 1
            raise AccessDeniedError(condition, "the identity does not meet the condition")
        stats.admitted += 1

    async def verdicts(self, pairs: Sequence[Pair]) -> dict[Pair, bool | None]:
        """Fresh verdicts for many (condition, holder) pairs; None where the chain gave
        no answer. Answers go to the cache.

        One JSON-RPC batch per contract and MAX_BATCH reads, so a contract that
        fails or times out (a `balanceOf` that burns its gas) takes only its own
        pairs with it. Batches go out contract by contract in turn (every
        contract's first batch before any second one), at most
        MAX_CONCURRENT_EXCHANGES at once per chain: a round's time is shared
        across contracts, and a room with many participants does not starve others.
        """
        by_contract: dict[tuple[int, str], list[Pair]] = {}
        for pair in dict.fromkeys(pairs):
            by_contract.setdefault((pair[0].chain_id, pair[0].contract), []).append(pair)
        limits: dict[int, asyncio.Semaphore] = {}
        found: dict[Pair, bool | None] = {}

        async def read(chunk: list[Pair]) -> None:
            chain_id = chunk[0][0].chain_id
            async with limits.setdefault(chain_id, asyncio.Semaphore(MAX_CONCURRENT_EXCHANGES)):
                reads = [read_for(condition, holder) for condition, holder in chunk]
                outcomes = await self._read_batch(chain_id, reads)
            for (condition, holder), outcome in zip(chunk, outcomes, strict=True):
                verdict = _verdict(condition, holder, outcome)
                found[(condition, holder)] = verdict
                if verdict is not None:
                    self.cache.store((condition, holder), verdict)

        # Tasks start in list order and take the semaphore in that order (FIFO).
        await asyncio.gather(*(read(chunk) for chunk in batches_in_turns(by_contract.values())))
        return found

    async def _check(self, condition: AccessCondition, holder: str) -> bool:
        read = read_for(condition, holder)
        [outcome] = await self._read_batch(condition.chain_id, [read], batch=False)
        if outcome.answer is None:
            raise ChainUnavailableError(
                condition, outcome.problem or "no answer", lasting=outcome.lasting
            )
        try:
            return qualifies(condition, holder, outcome.answer)
        except UnknownAnswerError as error:
            raise ChainUnavailableError(condition, str(error)) from None

    async def _read_batch(
        self, chain_id: int, reads: Sequence[ChainRead], *, batch: bool = True
    ) -> list[_Outcome]:
        """The reads in one exchange (a JSON-RPC batch, or one call when `batch` is False)."""
        requests = [_request(read, self._call_gas) for read in reads]
        try:
            if batch:
                results: list[object] = list(await self._rpc.batch(chain_id, requests))
            else:
                try:
                    results = [
                        await self._rpc.request(chain_id, requests[0].method, requests[0].params)
                    ]
                except ChainRPCError as error:
                    # One call's error object is its answer, as in a batch.
                    results = [error]
        except ChainNotConfiguredError as error:
            return [_Outcome(None, _not_configured(error.chain_id), lasting=True)] * len(reads)
        except ChainError as error:
            return [_Outcome(None, str(error))] * len(reads)
        return [_decode(read, result) for read, result in zip(reads, results, strict=True)]


def batches_in_turns(groups: Iterable[list[T]]) -> list[list[T]]:
    """Each group cut into batches of MAX_BATCH, interleaved: every group's first
    batch, then every group's second, and so on."""
    batches = [
        [group[start : start + MAX_BATCH] for start in range(0, len(group), MAX_BATCH)]
        for group in groups
    ]
    return [
        batch for turn in itertools.zip_longest(*batches) for batch in turn if batch is not None
    ]


def _not_configured(chain_id: int) -> str:
    return f"chain {chain_id} is not one this service reads (CHAIN_RPC_URLS)"


def _request(read: ChainRead, gas: int) -> RPCRequest:
    return eth_call_request(read.contract, encode_call(read.signature, *read.args), gas=gas)


def _decode(read: ChainRead, result: object) -> _Outcome:
    where = f"chain {read.chain_id}: {read.signature} at {read.contract}"
    if isinstance(result, ExecutionRevertedError):
        return _Outcome(REVERTED)
    if isinstance(result, ChainRPCError):
        return _Outcome(None, f"{where} failed: {result.rpc_message}")
    if not isinstance(result, str) or not result.startswith("0x"):
        return _Outcome(None, f"{where} answered no hex data")
    try:
        data = bytes.fromhex(result[2:])
    except ValueError:
        return _Outcome(None, f"{where} answered malformed hex")
    if not data:
        # What an eth_call to an address without code returns (or to a contract
        # without that function and a silent fallback): no answer either way,
        # and asking again will not change it.
        return _Outcome(
            None,
            f"{read.contract} answers nothing to {read.signature} on chain {read.chain_id}:"
            " there is no such contract there",
            lasting=True,
        )
    try:
        (value,) = decode_result([read.returns], data)
    except DecodingError:
        return _Outcome(None, f"{where} answered data that is not a {read.returns}")
    return _Outcome(value.lower() if isinstance(value, str) else int(value))


def _verdict(condition: AccessCondition, holder: str, outcome: _Outcome) -> bool | None:
    if outcome.answer is None:
        return None
    try:
        return qualifies(condition, holder, outcome.answer)
    except UnknownAnswerError:
        return None
