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
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from eth_abi.exceptions import DecodingError
from eth_utils.address import to_checksum_address

from app.chain.abi import decode_result, encode_call
from app.chain.cache import SingleFlight, VerdictCache
from app.chain.evaluation import Evaluation, Outcome
from app.chain.rpc import ChainRPC
from app.chain.rpc_errors import (
    ChainError,
    ChainNotConfiguredError,
    ChainRPCError,
    ExecutionRevertedError,
)
from app.chain.rpc_requests import RPCRequest, block_param, eth_call_request
from app.chain.rules import INCOMING_SIGNATURE, REVERTED, Answer, ChainRead, holder_address
from app.chain.stats import GatingStats
from models.access import Condition, Leaf, leaves

# delegate.xyz v2's registry, at the same address on every chain it is deployed to.
DEFAULT_DELEGATE_REGISTRY = "0x00000000000000447e69651d841bd8d104bed493"

# The registry's `getIncomingDelegations` costs ~15,000 gas per delegation listed,
# and anyone may delegate to anyone: under CHAIN_CALL_GAS it runs out past ~67, so
# a spammed wallet could never qualify through a vault. This one call gets a higher
# cap (~600 delegations); its answer is bounded by the RPC's 1 MiB answer limit.
INCOMING_DELEGATIONS_GAS = 10_000_000

# JSON-RPC batches are capped by providers (often 100 to 1000 calls): stay well under.
MAX_BATCH = 100
# Exchanges of one re-check in flight at once per chain: contracts are read
# side by side, so a slow one costs the others nothing, without flooding the node.
MAX_CONCURRENT_EXCHANGES = 4
# Rounds of reads for one check (DESIGN.md section 10): first reads; what depends
# on them (an Unlock key's expiry, a found vault's holdings). A found vault's key
# end is not read (evaluation.py `_key_end`): the re-check reads it.
MAX_ROUNDS = 2


class AccessDeniedError(Exception):
    """The identity does not meet the condition (or is not an address at all).

    `what`: what it must do, naming the leaves that said no.
    """

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(reason)
        self.what = what
        self.reason = reason


class ChainUnavailableError(Exception):
    """The chain gave no usable answer that decides; `reason` says why, for logs and
    the client.

    `lasting`: a cause retrying will not fix (the chain is not configured, no
    contract at the address), which the client is told instead of "retry".
    """

    def __init__(self, chain_id: int, what: str, reason: str, *, lasting: bool = False) -> None:
        super().__init__(reason)
        self.chain_id = chain_id
        self.what = what
        self.reason = reason
        self.lasting = lasting


@dataclass(frozen=True, slots=True)
class Admission:
    """Who was admitted through what: the vault that qualified (checksummed; None:
    the wallet itself), and when the Unlock key that admitted ends (unix seconds)."""

    vault: str | None = None
    expires_at: int | None = None


@dataclass(frozen=True, slots=True)
class Check:
    """One identity against one room's condition (the re-check's unit)."""

    condition: Condition
    identity: str
    delegation: bool = False
    # The vault to follow, None: search the registry (delegation rooms).
    vault: str | None = None

    def __post_init__(self) -> None:
        # The one place addresses are normalised: the actor keeps a vault as the token
        # carries it (checksummed), the rules compare lower case (holders, allowlists).
        object.__setattr__(self, "identity", self.identity.lower())
        if self.vault is not None:
            object.__setattr__(self, "vault", self.vault.lower())


T = TypeVar("T")
# Why a read had no answer, and whether asking again would not fix it.
Problem = tuple[str, bool]


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
        cache: VerdictCache[Hashable, object],
        stats: GatingStats,
        *,
        call_gas: int,
        registry: str = DEFAULT_DELEGATE_REGISTRY,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._rpc = rpc
        self.cache = cache
        # Counts checks; the ChainRPC reports its exchanges into it too.
        self.stats = stats
        self._call_gas = call_gas
        self._registry = registry.lower()
        self._now = now
        self._flights: SingleFlight[tuple[object, ...], tuple[Outcome, Problem | None]] = (
            SingleFlight()
        )

    async def require(
        self,
        condition: Condition,
        identity: str,
        *,
        delegation: bool = False,
        vault: str | None = None,
    ) -> Admission:
        """What admitted `identity` under `condition`, else raise why not.

        AccessDeniedError: it does not (or is no address); ChainUnavailableError:
        an unknown answer decides. Concurrent identical checks share one.
        """
        stats = self.stats
        stats.checks += 1
        holder = holder_address(identity)
        if holder is None:
            stats.denied += 1
            raise AccessDeniedError(_what(condition, []), "the identity is not an address")
        check = Check(condition, holder, delegation, vault)
        evaluation = self._evaluation(check, cached=True)
        decided = evaluation.cached_outcome()
        if decided is not None:
            # Decided by cached verdicts alone (the common case): no task, no flight.
            stats.cache_hits += 1
            outcome, problem = decided, None
        else:
            key = (condition, holder, delegation, check.vault)
            try:
                outcome, problem = await self._flights.run(key, lambda: self._decide(check))
            except ChainUnavailableError:
                stats.unavailable += 1
                raise
        return self._admission(condition, outcome, problem)

    def _admission(
        self, condition: Condition, outcome: Outcome, problem: Problem | None
    ) -> Admission:
        stats = self.stats
        if outcome.verdict is None:
            stats.unavailable += 1
            reason, lasting = problem or ("no answer", False)
            chain = (outcome.unknown or leaves(condition))[0].chain_id
            raise ChainUnavailableError(
                chain, _what(condition, outcome.unknown), reason, lasting=lasting
            )
        if not outcome.verdict:
            stats.denied += 1
            raise AccessDeniedError(
                _what(condition, outcome.failed), "the identity does not meet the condition"
            )
        stats.admitted += 1
        return Admission(
            vault=None if outcome.vault is None else to_checksum_address(outcome.vault),
            expires_at=outcome.expires_at,
        )

    async def _decide(self, check: Check) -> tuple[Outcome, Problem | None]:
        [(outcome, problem)] = await self._evaluate_all([check], per_contract=False, cached=True)
        return outcome, problem

    async def verdicts(self, checks: Sequence[Check]) -> dict[Check, Outcome]:
        """Fresh outcomes for many checks (the re-check). Answers go to the cache.

        First reads in one JSON-RPC batch per contract and MAX_BATCH reads, so a
        contract that fails or times out (a `balanceOf` that burns its gas) takes
        only its own checks with it. Batches go out contract by contract in turn
        (every contract's first batch before any second one), at most
        MAX_CONCURRENT_EXCHANGES at once per chain: a round's time is shared
        across contracts, and a room with many participants does not starve others.
        """
        unique = list(dict.fromkeys(checks))
        found = await self._evaluate_all(unique, per_contract=True, cached=False)
        return {check: outcome for check, (outcome, _) in zip(unique, found, strict=True)}

    def _evaluation(self, check: Check, *, cached: bool) -> Evaluation:
        lookup = self.cache.get if cached else _nothing_cached
        return Evaluation(
            check.condition,
            check.identity,
            self._now(),
            lookup,
            registry=self._registry if check.delegation else None,
            vault=check.vault,
        )

    async def _evaluate_all(
        self, checks: Sequence[Check], *, per_contract: bool, cached: bool
    ) -> list[tuple[Outcome, Problem | None]]:
        evaluations = [self._evaluation(check, cached=cached) for check in checks]
        answers: dict[ChainRead, Answer | None] = {}
        problems: dict[ChainRead, Problem] = {}
        for _ in range(MAX_ROUNDS):
            wanted = list(
                dict.fromkeys(
                    read
                    for evaluation in evaluations
                    for read in evaluation.wanted(answers)
                    if read not in answers
                )
            )
            if not wanted:
                break
            outcomes = await self._read_all(wanted, per_contract=per_contract)
            for read, outcome in outcomes.items():
                answers[read] = outcome.answer
                if outcome.answer is None:
                    problems[read] = (outcome.problem or "no answer", outcome.lasting)
        results = []
        for evaluation in evaluations:
            decided = evaluation.outcome(answers)
            for key, value in decided.learned.items():
                self.cache.store(key, value)
            problem = _problem_of(problems) if decided.verdict is None else None
            results.append((decided, problem))
        return results

    async def _read_all(
        self, reads: Sequence[ChainRead], *, per_contract: bool
    ) -> dict[ChainRead, _Outcome]:
        """The reads: one batch per chain (a token request), or per contract in turns
        (the re-check)."""
        groups: dict[tuple[int, str | None], list[ChainRead]] = {}
        for read in reads:
            groups.setdefault((read.chain_id, read.contract if per_contract else None), []).append(
                read
            )
        limits: dict[int, asyncio.Semaphore] = {}
        found: dict[ChainRead, _Outcome] = {}

        async def read_chunk(chunk: list[ChainRead]) -> None:
            chain_id = chunk[0].chain_id
            async with limits.setdefault(chain_id, asyncio.Semaphore(MAX_CONCURRENT_EXCHANGES)):
                outcomes = await self._read_batch(chain_id, chunk)
            found.update(zip(chunk, outcomes, strict=True))

        # Tasks start in list order and take the semaphore in that order (FIFO).
        await asyncio.gather(*(read_chunk(chunk) for chunk in batches_in_turns(groups.values())))
        return found

    async def _read_batch(self, chain_id: int, reads: Sequence[ChainRead]) -> list[_Outcome]:
        """The reads in one exchange: a JSON-RPC batch (one call alone goes as one call)."""
        requests = [_request(read, self._call_gas) for read in reads]
        try:
            if len(requests) > 1:
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


def _nothing_cached(key: Hashable) -> object | None:
    return None


def _problem_of(problems: dict[ChainRead, Problem]) -> Problem | None:
    """The problem to tell: one retrying will not fix first (it is what to act on)."""
    if not problems:
        return None
    lasting = [p for p in problems.values() if p[1]]
    return (lasting or list(problems.values()))[0]


def _what(condition: Condition, named: list[Leaf]) -> str:
    """What the identity must do, naming `named` (the leaves that said no, or gave no
    answer), else the whole condition."""
    if not named:
        return condition.describe()
    return " or ".join(dict.fromkeys(leaf.describe() for leaf in named))


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
    if read.contract is None:
        return RPCRequest("eth_getBalance", [read.args[0], block_param("latest")])
    if read.signature == INCOMING_SIGNATURE:
        gas = max(gas, INCOMING_DELEGATIONS_GAS)
    return eth_call_request(read.contract, encode_call(read.signature, *read.args), gas=gas)


def _decode(read: ChainRead, result: object) -> _Outcome:
    where = f"chain {read.chain_id}: {read.signature} at {read.contract}"
    if isinstance(result, ExecutionRevertedError):
        return _Outcome(REVERTED)
    if isinstance(result, ChainRPCError):
        return _Outcome(None, f"{where} failed: {result.rpc_message}")
    if not isinstance(result, str) or not result.startswith("0x"):
        return _Outcome(None, f"{where} answered no hex data")
    if read.contract is None:
        try:
            return _Outcome(int(result, 16))
        except ValueError:
            return _Outcome(None, f"chain {read.chain_id}: eth_getBalance answered bad hex")
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
    except (DecodingError, ValueError, OverflowError):
        return _Outcome(None, f"{where} answered data that is not a {read.returns}")
    return _Outcome(_plain(value))


def _plain(value: Any) -> Answer:
    """A decoded value as the rules read it: addresses in lower case, bools as 0/1,
    arrays and tuples as tuples."""
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, bytes):
        return value  # type: ignore[return-value]
    if isinstance(value, list | tuple):
        return tuple(_plain(item) for item in value)
    return int(value)
