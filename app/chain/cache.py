"""Verdicts of chain checks, cached briefly, with one check in flight per question.

A yes is trusted for GATING_CACHE_SECONDS; a no for at most NO_CACHE_SECONDS,
so someone who has just bought in is not kept out for long. A check that
failed (the chain gave no answer) is never cached: the next request asks
again. Concurrent requests for the same (condition, holder), the burst when
a meeting starts, share one in-flight check instead of each calling the RPC.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
# A verdict: its truth decides how long it is kept (a yes, or a no).
V = TypeVar("V")

NO_CACHE_SECONDS = 5.0
# Past this many entries, expired ones are dropped, then the oldest.
MAX_ENTRIES = 100_000


class SingleFlight(Generic[K, V]):
    """One piece of work in flight per key, shared by every concurrent caller; nothing kept.

    A whole gating check (its leaves' verdicts go to the VerdictCache): the burst
    of identical token requests when a meeting starts makes one set of reads.
    """

    def __init__(self) -> None:
        # Strong references to the work in flight (tasks are otherwise only weakly held).
        self._in_flight: dict[K, asyncio.Task[V]] = {}

    async def run(self, key: K, work: Callable[[], Awaitable[V]]) -> V:
        task = self._in_flight.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(work())  # type: ignore[arg-type]
            self._in_flight[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        # Shielded: a caller that gives up (client gone) must not cancel what the
        # others wait on.
        return await asyncio.shield(task)

    def _finished(self, key: K, task: asyncio.Task[V]) -> None:
        if self._in_flight.get(key) is task:
            del self._in_flight[key]
        if not task.cancelled():
            # Retrieved here so a failure nobody awaited any more is not reported as lost.
            with contextlib.suppress(Exception):
                task.exception()


class VerdictCache(Generic[K, V]):
    """Yes/no per key (a value whose truth is the verdict), each with its own expiry
    on an injected monotonic clock."""

    def __init__(
        self,
        clock: Callable[[], float],
        yes_seconds: float,
        no_seconds: float = NO_CACHE_SECONDS,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self._clock = clock
        self._yes_seconds = yes_seconds
        # Never trust a no longer than a yes.
        self._no_seconds = min(no_seconds, yes_seconds)
        self._max_entries = max_entries
        self._verdicts: dict[K, tuple[V, float]] = {}
        # The checks in flight, one per key, shared by its concurrent callers.
        self._flight: SingleFlight[K, V] = SingleFlight()

    def get(self, key: K) -> V | None:
        """The cached verdict, or None when there is none or it has expired."""
        found = self._verdicts.get(key)
        if found is None:
            return None
        verdict, expires = found
        if expires <= self._clock():
            del self._verdicts[key]
            return None
        return verdict

    def store(self, key: K, verdict: V) -> None:
        """Remember a verdict the chain gave (also from the periodic re-check)."""
        seconds = self._yes_seconds if verdict else self._no_seconds
        self._verdicts.pop(key, None)
        if seconds <= 0:
            return
        self._verdicts[key] = (verdict, self._clock() + seconds)
        if len(self._verdicts) > self._max_entries:
            self._shrink()

    async def get_or_check(self, key: K, check: Callable[[], Awaitable[V]]) -> V:
        """The cached verdict, else the result of `check()`, shared by every concurrent caller.

        `check` raising (no answer from the chain) reaches every caller waiting
        on it and caches nothing.
        """
        cached = self.get(key)
        if cached is not None:
            return cached
        return await self._flight.run(key, lambda: self._run(key, check))

    async def _run(self, key: K, check: Callable[[], Awaitable[V]]) -> V:
        verdict = await check()
        self.store(key, verdict)
        return verdict

    def _shrink(self) -> None:
        now = self._clock()
        for key in [k for k, (_, expires) in self._verdicts.items() if expires <= now]:
            del self._verdicts[key]
        # Insertion order is age order (store re-inserts): drop the oldest.
        while len(self._verdicts) > self._max_entries:
            del self._verdicts[next(iter(self._verdicts))]

    def __len__(self) -> int:
        return len(self._verdicts)
