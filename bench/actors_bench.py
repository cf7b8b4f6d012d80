"""Benchmark of the actor runtime: ask throughput and memory per idle actor.

Run `python -m bench.actors_bench` (or `python bench/actors_bench.py`). Each
figure is measured next to a baseline taken in the same run, and reported as a
ratio to it:

- ask throughput, one actor and 1,000 actors: against the same number of
  awaited calls of a plain `async def` doing the same work directly;
- memory per idle actor (RSS growth after activating 10,000 actors and letting
  them go idle, measured in a fresh process): against the same 10,000 actor
  objects held in a plain dict, with no runtime around them. Target: < 5 KB.

`run()` returns the rows for a collector (`make bench`).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # when run as a file rather than with -m
    sys.path.insert(0, str(ROOT))

from actors.runtime import Actor, ActorRegistry  # noqa: E402

MESSAGES = 50_000
ASKERS = 64
SPREAD = 1_000
IDLE_ACTORS = 10_000
MEMORY_TARGET = 5 * 1024
REPEATS = 3


class Counter:
    """The work under test: a dict update and a reply, as a room's token request does."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}

    async def handle(self, message: int) -> int:
        self.counts[message] = self.counts.get(message, 0) + 1
        return self.counts[message]


class CounterActor(Actor[int, int]):
    def __init__(self, key: int) -> None:
        super().__init__(key)
        self.counter = Counter()

    async def receive(self, message: int) -> int:
        return await self.counter.handle(message)


class IdleRoom(Actor[str, Any]):
    """Sized like an idle room: its loaded config and an empty participant map."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.config: dict[str, Any] = {}
        self.participants: dict[str, Any] = {}

    async def on_start(self) -> None:
        self.config = {"name": self.key, "max_participants": 10, "empty_timeout": 300}

    async def receive(self, message: Any) -> Any:
        return len(self.participants)


# -- throughput -------------------------------------------------------------------


async def _askers(send: Callable[[int, int], Awaitable[int]], keys: int) -> float:
    """`MESSAGES` awaited calls of `send(key, n)` from `ASKERS` concurrent callers."""
    per_asker = MESSAGES // ASKERS

    async def asker(a: int) -> None:
        for n in range(per_asker):
            await send((a * per_asker + n) % keys, n)

    started = time.perf_counter()
    await asyncio.gather(*(asker(a) for a in range(ASKERS)))
    return ASKERS * per_asker / (time.perf_counter() - started)


async def _direct_rate(keys: int) -> float:
    counters = [Counter() for _ in range(keys)]

    async def send(key: int, n: int) -> int:
        return await counters[key].handle(n)

    return await _askers(send, keys)


async def _actor_rate(keys: int) -> float:
    registry: ActorRegistry[int, int] = ActorRegistry(CounterActor)
    await asyncio.gather(*(registry.ask(k, 0) for k in range(keys)))  # activate outside timing
    rate = await _askers(registry.ask, keys)
    await registry.shutdown()
    return rate


def _best(
    measure: Callable[[int], Coroutine[Any, Any, float]], keys: int, repeats: int = REPEATS
) -> float:
    """The best of a few runs, after one warm-up run, each on a fresh event loop."""
    asyncio.run(measure(keys))
    return max(asyncio.run(measure(keys)) for _ in range(repeats))


# -- memory -----------------------------------------------------------------------


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


async def _idle_actors_bytes(with_runtime: bool) -> int:
    """RSS growth, in bytes, from holding IDLE_ACTORS idle rooms."""
    keys = [f"room-{n:05d}" for n in range(IDLE_ACTORS)]  # built before the first reading
    gc.collect()
    before = _rss()
    if with_runtime:
        registry: ActorRegistry[str, Any] = ActorRegistry(IdleRoom, idle_timeout=3600)
        for start in range(0, IDLE_ACTORS, 500):  # in batches, to keep transient tasks few
            await asyncio.gather(*(registry.ask(k, None) for k in keys[start : start + 500]))
        me = asyncio.current_task()
        while any(t is not me for t in asyncio.all_tasks()):  # drain tasks finish
            await asyncio.sleep(0)
        assert len(registry) == IDLE_ACTORS
        holder: Any = registry
    else:
        rooms = {k: IdleRoom(k) for k in keys}
        for room in rooms.values():
            await room.on_start()
        holder = rooms
    gc.collect()
    grown = _rss() - before
    del holder
    return grown


def _measure_memory_in_fresh_process(with_runtime: bool) -> float:
    """Per-actor bytes, measured in a new interpreter so earlier garbage cannot hide growth."""
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--memory", str(int(with_runtime))],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    return float(json.loads(out)["bytes_per_actor"])


# -- report -----------------------------------------------------------------------


def _row(name: str, value: float, unit: str, baseline: float) -> dict[str, Any]:
    return {
        "name": name,
        "value": round(value, 1),
        "unit": unit,
        "baseline": round(baseline, 1),
        "ratio": round(value / baseline, 4),
    }


def run() -> list[dict[str, Any]]:
    """Measure everything; one row per figure, with its same-run baseline and the ratio."""
    direct_one = _best(_direct_rate, 1, repeats=10)  # short runs: more of them
    actor_one = _best(_actor_rate, 1)
    direct_spread = _best(_direct_rate, SPREAD, repeats=10)
    actor_spread = _best(_actor_rate, SPREAD)
    runtime_bytes = _measure_memory_in_fresh_process(with_runtime=True)
    bare_bytes = _measure_memory_in_fresh_process(with_runtime=False)
    return [
        _row(f"ask, 1 actor, {ASKERS} askers", actor_one, "msg/s", direct_one),
        _row(f"ask, {SPREAD:,} actors, {ASKERS} askers", actor_spread, "msg/s", direct_spread),
        _row(f"memory per idle actor ({IDLE_ACTORS:,})", runtime_bytes, "B", bare_bytes),
    ]


def _print(rows: list[dict[str, Any]]) -> None:
    print(f"{'figure':<32} {'value':>12} {'unit':<6} {'baseline':>12} {'ratio':>8}")
    for r in rows:
        print(
            f"{r['name']:<32} {r['value']:>12,.0f} {r['unit']:<6} "
            f"{r['baseline']:>12,.0f} {r['ratio']:>8.4f}"
        )
    memory = rows[-1]["value"]
    verdict = "ok" if memory < MEMORY_TARGET else "OVER TARGET"
    print(
        f"(baseline: plain awaited calls for throughput; bare actor objects for memory. "
        f"Memory target < {MEMORY_TARGET} B: {verdict})"
    )


def main() -> None:
    if sys.argv[1:2] == ["--memory"]:
        grown = asyncio.run(_idle_actors_bytes(with_runtime=sys.argv[2] == "1"))
        print(json.dumps({"bytes_per_actor": grown / IDLE_ACTORS}))
        return
    _print(run())


if __name__ == "__main__":
    main()
