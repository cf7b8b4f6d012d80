"""Whether an identity meets a gated room's condition, asked of the chain and cached.

The token route calls `require` before it asks the room's actor for a token,
so a slow chain holds only the request that needs it, never the room's
mailbox. Every way the chain can fail to answer (not configured, refused,
slower than CHAIN_TIMEOUT_SECONDS, an error, no contract at the address) is
`ChainUnavailableError`: nobody is admitted on an unknown answer.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from eth_abi.exceptions import DecodingError

from app.chain_rpc import (
    ChainBadResponseError,
    ChainError,
    ChainNotConfiguredError,
    ChainRPC,
    ChainRPCError,
    ChainTimeoutError,
    ChainUnreachableError,
    ExecutionRevertedError,
    RPCRequest,
    decode_result,
    encode_call,
    eth_call_request,
)
from app.gating.cache import VerdictCache
from app.gating.rules import (
    REVERTED,
    Answer,
    ChainRead,
    UnknownAnswerError,
    holder_address,
    qualifies,
    read_for,
)
from app.gating.stats import GatingStats
from models.rooms import AccessCondition

# JSON-RPC batches are capped by providers (often 100 to 1000 calls): stay well under.
MAX_BATCH = 100


class AccessDeniedError(Exception):
    """The identity does not meet the condition (or is not an address at all)."""

    def __init__(self, condition: AccessCondition, reason: str) -> None:
        super().__init__(reason)
        self.condition = condition
        self.reason = reason


class ChainUnavailableError(Exception):
    """The chain gave no usable answer; `reason` says why, for logs and the client."""

    def __init__(self, condition: AccessCondition, reason: str) -> None:
        super().__init__(reason)
        self.condition = condition
        self.reason = reason


Pair = tuple[AccessCondition, str]


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What the RPC said of one read: an answer, or why there was none."""

    answer: Answer | None
    problem: str | None = None


class AccessChecker:
    """Checks conditions on chain for the token route and the periodic re-check."""

    def __init__(self, rpc: ChainRPC, cache: VerdictCache[Pair], stats: GatingStats) -> None:
        self._rpc = rpc
        self.cache = cache
        self.stats = stats
        # The condition each gated room had when its actor last said so: a hint,
        # so a token request checks first and asks the actor once. The actor
        # refuses a token checked against anything but its current condition.
        self.room_conditions: dict[str, AccessCondition] = {}

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
        """Fresh verdicts for many (condition, holder) pairs, one JSON-RPC batch per chain
        and MAX_BATCH reads; None where the chain gave no answer. Answers go to the cache.
        """
        found: dict[Pair, bool | None] = {}
        by_chain: dict[int, list[Pair]] = {}
        for pair in dict.fromkeys(pairs):
            by_chain.setdefault(pair[0].chain_id, []).append(pair)
        for chain_id, chain_pairs in by_chain.items():
            for start in range(0, len(chain_pairs), MAX_BATCH):
                chunk = chain_pairs[start : start + MAX_BATCH]
                reads = [read_for(condition, holder) for condition, holder in chunk]
                outcomes = await self._read_batch(chain_id, reads)
                for (condition, holder), outcome in zip(chunk, outcomes, strict=True):
                    verdict = _verdict(condition, holder, outcome)
                    found[(condition, holder)] = verdict
                    if verdict is not None:
                        self.cache.store((condition, holder), verdict)
        return found

    async def _check(self, condition: AccessCondition, holder: str) -> bool:
        read = read_for(condition, holder)
        [outcome] = await self._read_batch(condition.chain_id, [read], batch=False)
        if outcome.answer is None:
            raise ChainUnavailableError(condition, outcome.problem or "no answer")
        try:
            return qualifies(condition, holder, outcome.answer)
        except UnknownAnswerError as error:
            raise ChainUnavailableError(condition, str(error)) from None

    async def _read_batch(
        self, chain_id: int, reads: Sequence[ChainRead], *, batch: bool = True
    ) -> list[_Outcome]:
        """The reads in one exchange (a JSON-RPC batch, or one call when `batch` is False)."""
        requests = [_request(read) for read in reads]
        started = time.perf_counter()
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
        except ChainError as error:
            self.stats.observe_rpc(_outcome_name(error), time.perf_counter() - started)
            return [_Outcome(None, str(error))] * len(reads)
        self.stats.observe_rpc("ok", time.perf_counter() - started)
        return [_decode(read, result) for read, result in zip(reads, results, strict=True)]


def _request(read: ChainRead) -> RPCRequest:
    return eth_call_request(read.contract, encode_call(read.signature, *read.args))


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
        # without that function and a silent fallback): no answer either way.
        return _Outcome(None, f"{where} returned nothing: no such contract on that chain")
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


def _outcome_name(error: ChainError) -> str:
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
