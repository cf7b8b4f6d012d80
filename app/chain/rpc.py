"""A small async Ethereum JSON-RPC client: the reads sign-in and gating need.

Why not web3.py: its async provider validates every call with extra
`eth_chainId` round trips and retries by default, turning a 1 s budget into
several. Here each request is one HTTP POST with one total timeout and no
retries, and every way it can fail is its own exception (app/chain/rpc_errors.py),
so callers decide (fail closed, answer 503) instead of guessing from a message.

The endpoint is not trusted (DESIGN.md section 12): its answers are read and
checked by app/chain/rpc_answers.py, so a bad one is `ChainBadResponseError`,
never an unexpected exception. Every exchange is reported to `observe` with
its outcome, whoever asked.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiohttp

from app.chain.rpc_answers import batch_results, hex_bytes, read_bounded, single_result
from app.chain.rpc_errors import (
    ChainBadResponseError,
    ChainError,
    ChainNotConfiguredError,
    ChainRPCError,
    ChainTimeoutError,
    ChainUnreachableError,
    outcome_of,
)
from app.chain.rpc_requests import BlockId, RPCRequest, block_param, eth_call_request

# Reported once per exchange (a batch counts once): outcome, seconds.
Observer = Callable[[str, float], None]


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
            result = single_result(chain_id, request_id, answer)
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
            results = batch_results(chain_id, ids, await self._post(chain_id, body))
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
        result = await self.request(chain_id, "eth_getCode", [address, block_param(block)])
        return hex_bytes(chain_id, result)

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
        return hex_bytes(chain_id, result)

    async def _post(self, chain_id: int, body: Any) -> Any:
        url = self._urls.get(chain_id)
        if url is None:
            raise ChainNotConfiguredError(chain_id, "no RPC URL in CHAIN_RPC_URLS")
        if self._session is None:
            raise ChainUnreachableError(chain_id, "the chain client is not open")
        # The URL may carry a provider key: it stays out of every message.
        try:
            async with self._session.post(url, json=body) as response:
                raw = await read_bounded(chain_id, response)
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
