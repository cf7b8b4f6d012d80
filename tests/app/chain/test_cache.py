"""The verdict cache: a yes for GATING_CACHE_SECONDS, a no for at most 5 s, one check in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from app.chain.cache import VerdictCache
from tests.support.clock import FakeClock


class Boom(Exception):
    pass


def counting(verdict: bool) -> tuple[list[int], Callable[[], Awaitable[bool]]]:
    calls: list[int] = []

    async def check() -> bool:
        calls.append(1)
        return verdict

    return calls, check


async def test_a_yes_is_kept_for_the_cache_time(clock: FakeClock) -> None:
    cache: VerdictCache[str] = VerdictCache(clock.monotonic, yes_seconds=60)
    calls, check = counting(True)
    assert await cache.get_or_check("k", check) is True
    clock.advance(59.9)
    assert await cache.get_or_check("k", check) is True
    assert len(calls) == 1
    clock.advance(0.2)
    assert await cache.get_or_check("k", check) is True
    assert len(calls) == 2


async def test_a_no_is_kept_at_most_five_seconds(clock: FakeClock) -> None:
    cache: VerdictCache[str] = VerdictCache(clock.monotonic, yes_seconds=60)
    calls, check = counting(False)
    assert await cache.get_or_check("k", check) is False
    clock.advance(4.9)
    assert await cache.get_or_check("k", check) is False
    assert len(calls) == 1
    clock.advance(0.2)
    await cache.get_or_check("k", check)
    assert len(calls) == 2


async def test_a_failed_check_is_never_cached(clock: FakeClock) -> None:
    cache: VerdictCache[str] = VerdictCache(clock.monotonic, yes_seconds=60)
    calls: list[int] = []

    async def failing() -> bool:
        calls.append(1)
        raise Boom

    for _ in range(2):
        with pytest.raises(Boom):
            await cache.get_or_check("k", failing)
    assert len(calls) == 2
    assert cache.get("k") is None


async def test_concurrent_identical_checks_share_one_call(clock: FakeClock) -> None:
    cache: VerdictCache[str] = VerdictCache(clock.monotonic, yes_seconds=60)
    release = asyncio.Event()
    calls: list[int] = []

    async def slow() -> bool:
        calls.append(1)
        await release.wait()
        return True

    waiters = [asyncio.create_task(cache.get_or_check("k", slow)) for _ in range(50)]
    other = asyncio.create_task(cache.get_or_check("other", slow))
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.wait_for(asyncio.gather(*waiters, other), 5)
    assert all(results)
    assert len(calls) == 2  # one per distinct key


async def test_a_caller_giving_up_does_not_cancel_the_shared_check(clock: FakeClock) -> None:
    cache: VerdictCache[str] = VerdictCache(clock.monotonic, yes_seconds=60)
    release = asyncio.Event()

    async def slow() -> bool:
        await release.wait()
        return True

    first = asyncio.create_task(cache.get_or_check("k", slow))
    second = asyncio.create_task(cache.get_or_check("k", slow))
    await asyncio.sleep(0)
    first.cancel()
    release.set()
    assert await asyncio.wait_for(second, 5) is True
    assert cache.get("k") is True


async def test_entries_are_bounded(clock: FakeClock) -> None:
    cache: VerdictCache[int] = VerdictCache(clock.monotonic, yes_seconds=60, max_entries=10)
    for key in range(25):
        cache.store(key, True)
    assert len(cache) == 10
    assert cache.get(24) is True
    assert cache.get(0) is None
