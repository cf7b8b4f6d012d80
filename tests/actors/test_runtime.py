"""The actor runtime: ordering, failures, passivation, shutdown, scale.

Real asyncio throughout. Nothing waits on wall-clock sleeps to synchronise:
tests wait on futures and events (bounded by `wait_for`), time is a fake clock
the test advances, and passivation sweeps are called directly.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from actors.runtime import (
    Actor,
    ActorDeadError,
    ActorError,
    ActorInfo,
    ActorRegistry,
    AskBudgetSpentError,
    AskTimeoutError,
    MailboxFullError,
    RegistryClosedError,
)

T = TypeVar("T")

IDLE = 60.0


async def within(awaitable: Awaitable[T], seconds: float = 5) -> T:
    """Await with a bound, so a broken runtime fails the test instead of hanging it."""
    return await asyncio.wait_for(awaitable, seconds)


async def settle(*background: asyncio.Task[Any]) -> None:
    """Yield until every other task has finished (drain tasks end just after their reply).

    `background` names long-lived tasks (a sweeper) not to wait for.
    """
    ignore = {asyncio.current_task(), *background}

    async def others_done() -> None:
        ignore.add(asyncio.current_task())  # wait_for runs this in its own task
        while any(t not in ignore and not t.done() for t in asyncio.all_tasks()):
            await asyncio.sleep(0)

    await within(others_done())


async def until(condition: Callable[[], bool]) -> None:
    """Yield to the loop until `condition` holds (bounded)."""

    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0)

    await within(poll())


# -- a scriptable test actor ----------------------------------------------------


@dataclass(frozen=True)
class Get:
    """Reply with the actor's value."""


@dataclass(frozen=True)
class Add:
    amount: int


@dataclass(frozen=True)
class Save:
    """Write the in-memory value to the fake database."""


@dataclass(frozen=True)
class Block:
    """Set `entered`, then wait for `gate`: a handler that is stuck until released."""

    gate: asyncio.Event
    entered: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class Crash:
    """Raise an unexpected error (a bug in the handler)."""


@dataclass(frozen=True)
class Raise:
    error: Exception


@dataclass(frozen=True)
class Note:
    """Just record that it was handled."""

    label: Any


class Boom(Exception):
    pass


class World:
    """Everything the test actors share: a fake database, an event log, knobs."""

    def __init__(self, db: dict[str, int] | None = None) -> None:
        self.db: dict[str, int] = db if db is not None else {}
        self.log: list[tuple[Any, ...]] = []
        self.instances = itertools.count(1)
        self.made = 0
        self.keep_alive: set[str] = set()
        self.stop_gate: asyncio.Event | None = None  # on_stop waits on it when set
        self.fail_start = False
        self.stopped = asyncio.Event()

    def factory(self, key: str) -> Room:
        self.made += 1
        return Room(key, self)

    def events(self, kind: str) -> list[tuple[Any, ...]]:
        return [e for e in self.log if e[0] == kind]


class Room(Actor[str, Any]):
    """A small stateful actor; state loads from `world.db` on start."""

    def __init__(self, key: str, world: World) -> None:
        super().__init__(key)
        self.world = world
        self.id = next(world.instances)
        self.value = 0
        self.inside = False

    async def on_start(self) -> None:
        self.world.log.append(("start", self.key, self.id))
        if self.world.fail_start:
            raise Boom("cannot load")
        self.value = self.world.db.get(self.key, 0)

    async def on_stop(self) -> None:
        self.world.log.append(("stop", self.key, self.id))
        if self.world.stop_gate is not None:
            await self.world.stop_gate.wait()
        self.world.log.append(("stopped", self.key, self.id))
        self.world.stopped.set()

    async def on_failure(self, error: BaseException) -> None:
        self.world.log.append(("failure", self.key, self.id, error))

    def can_passivate(self) -> bool:
        return self.key not in self.world.keep_alive

    async def receive(self, message: Any) -> Any:
        assert not self.inside, "receive re-entered"
        self.inside = True
        try:
            return await self._dispatch(message)
        finally:
            self.inside = False

    async def _dispatch(self, message: Any) -> Any:
        self.world.log.append(("recv", self.key, self.id, message))
        match message:
            case Get():
                return self.value
            case Add(amount):
                self.value += amount
                return self.value
            case Save():
                self.world.db[self.key] = self.value
                return None
            case Block(gate, entered):
                entered.set()
                await gate.wait()
                return "unblocked"
            case Crash():
                raise Boom("handler bug")
            case Raise(error):
                raise error
            case Note(label):
                return label
        raise AssertionError(f"unexpected message {message!r}")


def registry_for(
    world: World, now: list[float] | None = None, **options: Any
) -> ActorRegistry[str, Any]:
    clock = (lambda: now[0]) if now is not None else (lambda: 0.0)
    options.setdefault("idle_timeout", IDLE)
    return ActorRegistry(world.factory, clock=clock, **options)


async def blocked(registry: ActorRegistry[str, Any], key: str) -> asyncio.Event:
    """Make `key`'s actor stuck in a handler; returns the gate that releases it."""
    block = Block(asyncio.Event())
    registry.tell(key, block)
    await within(block.entered.wait())
    return block.gate


# -- 1. ordering and one message at a time ---------------------------------------


class Recorder(Actor[str, tuple[int, int]]):
    """Records (sender, seq); fails loudly if two handlers ever overlap."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.seen: list[tuple[int, int]] = []
        self.inside = False
        self.overlaps = 0

    async def receive(self, message: tuple[int, int]) -> int:
        if self.inside:
            self.overlaps += 1
        self.inside = True
        await asyncio.sleep(0)  # give any would-be concurrent handler its chance
        self.seen.append(message)
        self.inside = False
        return len(self.seen)


async def test_messages_from_each_sender_arrive_in_order_one_at_a_time() -> None:
    senders, per_sender = 1_000, 5
    registry: ActorRegistry[str, tuple[int, int]] = ActorRegistry(
        Recorder, mailbox_size=senders * per_sender
    )

    async def sender(s: int) -> None:
        for seq in range(per_sender):
            if seq % 2:
                await registry.ask("one", (s, seq))
            else:
                registry.tell("one", (s, seq))
                await asyncio.sleep(0)

    await within(asyncio.gather(*(sender(s) for s in range(senders))))
    await within(registry.ask("one", (-1, 0)))  # everything told before is handled by now

    actor = registry.actor_for("one")
    assert isinstance(actor, Recorder)
    seen = actor.seen[:-1]
    assert len(seen) == senders * per_sender
    assert len(set(seen)) == len(seen)  # exactly once
    by_sender: dict[int, list[int]] = {}
    for s, seq in seen:
        by_sender.setdefault(s, []).append(seq)
    assert by_sender == {s: list(range(per_sender)) for s in range(senders)}
    assert actor.overlaps == 0
    assert registry.total_activations == 1
    assert registry.total_restarts == 0
    await within(registry.shutdown())


# -- 2. ask errors go to the caller -----------------------------------------------


async def test_ask_error_reaches_caller_and_actor_keeps_its_state() -> None:
    world = World()
    registry = registry_for(world)
    assert await within(registry.ask("a", Add(5))) == 5
    actor = registry.actor_for("a")
    error = Boom("bad request")

    with pytest.raises(Boom) as caught:
        await within(registry.ask("a", Raise(error)))

    assert caught.value is error
    assert await within(registry.ask("a", Add(1))) == 6  # state intact
    assert registry.actor_for("a") is actor
    assert registry.total_restarts == 0
    assert world.events("failure") == []
    await within(registry.shutdown())


# -- 3. ask timeout ---------------------------------------------------------------


async def test_ask_times_out_and_a_timed_out_queued_ask_is_skipped() -> None:
    world = World()
    registry = registry_for(world)
    block = Block(asyncio.Event())

    # Begun before its timeout: the asker waits for the outcome, not a lie.
    stuck = asyncio.ensure_future(registry.ask("a", block, timeout=0.05))
    await within(block.entered.wait())
    with pytest.raises(TimeoutError):  # AskTimeoutError is a TimeoutError too
        await within(registry.ask("a", Note("late"), timeout=0.05))  # never started
    assert not stuck.done()

    block.gate.set()
    await within(stuck)
    assert await within(registry.ask("a", Note("after"))) == "after"

    handled = [e[3] for e in world.events("recv")]
    assert handled == [block, Note("after")]  # "late" was dropped, not handled
    assert registry.total_restarts == 0
    await within(registry.shutdown())


# -- 4. bounded mailbox -----------------------------------------------------------


async def test_full_mailbox_refuses_then_everything_queued_is_handled() -> None:
    world = World()
    registry = registry_for(world, mailbox_size=3)
    gate = await blocked(registry, "a")  # the message in hand is not in the mailbox

    registry.tell("a", Note(1))
    asks = [asyncio.create_task(registry.ask("a", Note(n))) for n in (2, 3)]
    await asyncio.sleep(0)  # let the asks enqueue
    assert [i.mailbox_depth for i in registry.snapshot()] == [3]

    with pytest.raises(MailboxFullError):
        registry.tell("a", Note(4))
    with pytest.raises(MailboxFullError):
        await registry.ask("a", Note(4))
    registry.tell("b", Note("other"))  # other actors are unaffected
    # The answer to work the actor started is never refused (a commit's outcome).
    registry.tell("a", Note("answer"), bounded=False)

    gate.set()
    assert await within(asyncio.gather(*asks)) == [2, 3]
    assert await within(registry.ask("a", Note(5))) == 5
    handled = [e[3] for e in world.events("recv") if e[1] == "a"][1:]
    assert handled == [Note(1), Note(2), Note(3), Note("answer"), Note(5)]
    await within(registry.shutdown())


# -- 5. activation race -----------------------------------------------------------


async def test_concurrent_first_messages_activate_exactly_one_actor() -> None:
    world = World()
    registry = registry_for(world, mailbox_size=2_000)

    replies = await within(asyncio.gather(*(registry.ask("new", Add(1)) for _ in range(1_000))))

    assert sorted(replies) == list(range(1, 1_001))
    assert world.made == 1
    assert len(world.events("start")) == 1
    assert registry.total_activations == 1
    assert len(registry) == 1
    await within(registry.shutdown())


# -- 6. passivation ---------------------------------------------------------------


async def test_idle_actor_is_passivated_and_on_stop_runs() -> None:
    now = [0.0]
    world = World()
    registry = registry_for(world, now)
    await within(registry.ask("a", Add(1)))
    await settle()

    now[0] += IDLE - 0.001
    assert registry.passivate_idle() == 0
    assert "a" in registry

    now[0] += 0.001
    assert registry.passivate_idle() == 1
    assert "a" not in registry
    assert registry.actor_for("a") is None
    await within(world.stopped.wait())
    assert world.events("stopped") == [("stopped", "a", 1)]
    await within(registry.shutdown())


async def test_actor_that_refuses_passivation_is_kept() -> None:
    now = [0.0]
    world = World()
    world.keep_alive.add("live")
    registry = registry_for(world, now)
    await within(registry.ask("live", Add(1)))
    await within(registry.ask("idle", Add(1)))
    await settle()

    now[0] += IDLE * 10
    assert registry.passivate_idle() == 1
    assert "live" in registry
    assert "idle" not in registry

    world.keep_alive.clear()  # the room emptied: now it may go
    assert registry.passivate_idle() == 1
    assert len(registry) == 0
    await within(registry.shutdown())


async def test_a_message_counts_as_activity() -> None:
    now = [0.0]
    world = World()
    registry = registry_for(world, now)
    await within(registry.ask("a", Add(1)))
    now[0] += IDLE * 0.75
    registry.tell("a", Add(1))
    await settle()

    now[0] += IDLE * 0.75  # idle for longer than the timeout since activation...
    assert registry.passivate_idle() == 0  # ...but not since the last message
    assert "a" in registry

    now[0] += IDLE * 0.25
    assert registry.passivate_idle() == 1
    await within(registry.shutdown())


async def test_busy_actor_is_not_passivated() -> None:
    now = [0.0]
    world = World()
    registry = registry_for(world, now)
    gate = await blocked(registry, "a")

    now[0] += IDLE * 10
    assert registry.passivate_idle() == 0
    assert "a" in registry

    gate.set()
    await settle()
    assert registry.passivate_idle() == 1
    await within(registry.shutdown())


# -- 7. passivation race ----------------------------------------------------------


async def test_messages_sent_while_passivating_go_to_a_fresh_activation_after_on_stop() -> None:
    now = [0.0]
    world = World()
    registry = registry_for(world, now)
    await within(registry.ask("a", Add(1)))
    await settle()
    world.stop_gate = asyncio.Event()

    now[0] += IDLE
    assert registry.passivate_idle() == 1
    for n in range(5):  # sent in the same tick as the passivation
        registry.tell("a", Note(n))
    first_reply = asyncio.create_task(registry.ask("a", Note("ask")))
    await until(lambda: bool(world.events("stop")))
    registry.tell("a", Note(5))  # sent while the old actor's on_stop is running
    for _ in range(10):
        await asyncio.sleep(0)

    assert world.made == 2
    assert registry.total_activations == 2
    assert world.events("start") == [("start", "a", 1)]  # the fresh one waits
    assert not first_reply.done()

    world.stop_gate.set()
    assert await within(first_reply) == "ask"
    assert await within(registry.ask("a", Note("last"))) == "last"

    order = [e[:3] for e in world.log if e[0] in ("start", "stop", "stopped")]
    assert order == [
        ("start", "a", 1),
        ("stop", "a", 1),
        ("stopped", "a", 1),
        ("start", "a", 2),
    ]
    after = [(e[2], e[3]) for e in world.events("recv")][1:]
    expected = [Note(n) for n in range(5)] + [Note("ask"), Note(5), Note("last")]
    assert after == [(2, m) for m in expected]  # each once, all by the fresh actor
    world.stop_gate = None
    await within(registry.shutdown())


# -- 8. crash and restart ---------------------------------------------------------


async def test_crash_in_tell_restarts_the_actor_from_the_database() -> None:
    world = World(db={"a": 10, "b": 20})
    registry = registry_for(world)
    assert await within(registry.ask("a", Add(2))) == 12
    await within(registry.ask("a", Save()))
    assert await within(registry.ask("a", Add(1))) == 13  # not saved: lost in the crash
    assert await within(registry.ask("b", Add(1))) == 21
    old_a, b = registry.actor_for("a"), registry.actor_for("b")

    registry.tell("a", Crash())
    registry.tell("a", Add(100))  # queued behind the crash: handled by the new actor

    assert await within(registry.ask("a", Get())) == 112
    new_a = registry.actor_for("a")
    assert new_a is not old_a
    assert registry.total_restarts == 1
    lifecycle = [(e[0], e[2]) for e in world.log if e[0] != "recv" and e[1] == "a"]
    assert lifecycle == [("start", 1), ("failure", 1), ("stop", 1), ("stopped", 1), ("start", 3)]
    failure = world.events("failure")[0]
    assert isinstance(failure[3], Boom)

    assert registry.actor_for("b") is b  # the other actor is untouched
    assert await within(registry.ask("b", Get())) == 21
    restarts = {i.key: i.restarts for i in registry.snapshot()}
    assert restarts == {"a": 1, "b": 0}
    await within(registry.shutdown())


# -- 9. restart limit -------------------------------------------------------------


async def test_actor_past_its_restart_limit_is_retired_and_reactivated_later() -> None:
    world = World()
    registry = registry_for(world, max_restarts=2)
    gate = await blocked(registry, "a")
    for _ in range(3):  # three failures with no success between them
        registry.tell("a", Crash())
    queued = [asyncio.create_task(registry.ask("a", Note(n))) for n in range(3)]
    await asyncio.sleep(0)
    assert [i.mailbox_depth for i in registry.snapshot()] == [6]
    gate.set()

    results = await within(asyncio.gather(*queued, return_exceptions=True))
    assert all(isinstance(r, ActorDeadError) for r in results), results
    assert "a" not in registry
    assert registry.total_restarts == 3  # the counter counts the retiring crash too
    assert not [e for e in world.events("recv") if isinstance(e[3], Note)]

    assert await within(registry.ask("a", Add(7))) == 7  # a fresh activation
    assert [i.restarts for i in registry.snapshot()] == [0]
    assert registry.total_activations == 2
    await within(registry.shutdown())


async def test_failures_separated_by_successes_never_reach_the_limit() -> None:
    world = World()
    registry = registry_for(world, max_restarts=2)
    for expected in range(1, 6):
        registry.tell("a", Crash())
        await within(registry.ask("a", Get()))  # a success resets the run of failures
        assert registry.total_restarts == expected
    assert "a" in registry
    assert [i.restarts for i in registry.snapshot()] == [5]
    await within(registry.shutdown())


async def test_actor_whose_start_always_fails_fails_its_asks() -> None:
    world = World()
    world.fail_start = True
    registry = registry_for(world, max_restarts=2)

    results = await within(
        asyncio.gather(*(registry.ask("a", Get()) for _ in range(5)), return_exceptions=True)
    )

    assert all(isinstance(r, ActorDeadError) for r in results), results
    assert "a" not in registry
    assert world.made == 3  # the first actor and two replacements
    assert len(world.events("failure")) == 3
    assert world.events("recv") == []
    assert world.events("stop") == []  # never started, so never stopped
    await within(registry.shutdown())


# -- 10. shutdown -----------------------------------------------------------------


async def test_shutdown_drains_pending_asks_then_refuses_messages() -> None:
    world = World()
    registry = registry_for(world)
    keys = [f"room-{n}" for n in range(5)]
    gates = [await blocked(registry, key) for key in keys]
    asks = {
        (key, n): asyncio.create_task(registry.ask(key, Note((key, n))))
        for key in keys
        for n in range(10)
    }
    await asyncio.sleep(0)
    assert all(i.mailbox_depth == 10 and i.busy for i in registry.snapshot())

    stopping = asyncio.create_task(registry.shutdown(timeout=5))
    await asyncio.sleep(0)
    assert registry.closed
    with pytest.raises(RegistryClosedError):
        registry.tell(keys[0], Note("too late"))
    for gate in gates:
        gate.set()
    await within(stopping)

    assert {k: t.result() for k, t in asks.items()} == {k: k for k in asks}
    assert sorted(e[1] for e in world.events("stopped")) == keys
    assert len(registry) == 0
    with pytest.raises(RegistryClosedError):
        registry.tell(keys[0], Note("after"))
    with pytest.raises(RegistryClosedError):
        await registry.ask("someone-new", Note("after"))


async def test_shutdown_gives_up_on_a_stuck_actor_within_its_timeout() -> None:
    world = World()
    registry = registry_for(world)
    stuck = Block(asyncio.Event())  # never released
    stuck_ask = asyncio.create_task(registry.ask("stuck", stuck))
    await within(stuck.entered.wait())
    behind_stuck = [asyncio.create_task(registry.ask("stuck", Note(n))) for n in range(3)]
    healthy = [asyncio.create_task(registry.ask("ok", Note(n))) for n in range(3)]
    await asyncio.sleep(0)

    loop = asyncio.get_running_loop()
    started = loop.time()
    await within(registry.shutdown(timeout=0.2))
    elapsed = loop.time() - started

    assert 0.2 <= elapsed < 1.0
    for task in [stuck_ask, *behind_stuck]:
        with pytest.raises(ActorDeadError):
            await within(task)
    assert await within(asyncio.gather(*healthy)) == [0, 1, 2]
    assert sorted(e[1] for e in world.events("stopped")) == ["ok", "stuck"]
    with pytest.raises(RegistryClosedError):
        await registry.ask("ok", Note("after"))


# -- 11. scale --------------------------------------------------------------------


async def test_ten_thousand_actors_alive_at_once_then_all_passivate() -> None:
    now = [0.0]
    world = World()
    registry = registry_for(world, now)
    keys = [f"room-{n}" for n in range(10_000)]

    replies = await within(asyncio.gather(*(registry.ask(k, Note(k)) for k in keys)))

    assert replies == keys
    assert len(registry) == 10_000
    snapshot = registry.snapshot()
    assert len(snapshot) == 10_000
    assert {i.key for i in snapshot} == set(keys)
    await settle()

    now[0] += IDLE
    assert registry.passivate_idle() == 10_000
    assert len(registry) == 0
    await settle()
    assert len(world.events("stopped")) == 10_000
    await within(registry.shutdown())


# -- 12. introspection ------------------------------------------------------------


async def test_snapshot_reports_mailbox_depth_busy_and_restarts() -> None:
    world = World()
    registry = registry_for(world)
    registry.tell("crashy", Crash())
    await within(registry.ask("crashy", Get()))
    await within(registry.ask("calm", Get()))
    await settle()
    assert set(registry.snapshot()) == {
        ActorInfo("calm", mailbox_depth=0, restarts=0, busy=False),
        ActorInfo("crashy", mailbox_depth=0, restarts=1, busy=False),
    }

    gate = await blocked(registry, "crashy")
    for n in range(3):
        registry.tell("crashy", Note(n))
    info = {i.key: i for i in registry.snapshot()}
    assert info["crashy"] == ActorInfo("crashy", mailbox_depth=3, restarts=1, busy=True)
    assert info["calm"] == ActorInfo("calm", mailbox_depth=0, restarts=0, busy=False)

    gate.set()
    await within(registry.ask("crashy", Get()))
    await settle()
    assert {i.key: i.mailbox_depth for i in registry.snapshot()} == {"crashy": 0, "calm": 0}
    await within(registry.shutdown())


# -- 13. the passivation loop -----------------------------------------------------


def stepped_sleep() -> tuple[
    Callable[[float], Awaitable[None]], asyncio.Queue[None], asyncio.Queue[float]
]:
    """A `sleep` that reports each call on `asleep` and returns once per item on `ticks`."""
    ticks: asyncio.Queue[None] = asyncio.Queue()
    asleep: asyncio.Queue[float] = asyncio.Queue()

    async def fake_sleep(seconds: float) -> None:
        asleep.put_nowait(seconds)
        await ticks.get()

    return fake_sleep, ticks, asleep


async def test_run_passivation_sweeps_on_each_tick_and_cancels_cleanly() -> None:
    now = [0.0]
    world = World()
    fake_sleep, ticks, asleep = stepped_sleep()
    registry = ActorRegistry(
        world.factory, idle_timeout=IDLE, clock=lambda: now[0], sleep=fake_sleep
    )
    sweeper = asyncio.create_task(registry.run_passivation())
    assert await within(asleep.get()) == IDLE / 4  # the default interval

    await within(registry.ask("a", Add(1)))
    await within(registry.ask("b", Add(1)))
    ticks.put_nowait(None)
    await within(asleep.get())  # one sweep done: nothing idle yet
    assert len(registry) == 2

    now[0] += IDLE
    registry.tell("b", Add(1))  # b stays active
    await within(registry.ask("b", Get()))
    await settle(sweeper)
    ticks.put_nowait(None)
    await within(asleep.get())
    assert "a" not in registry
    assert "b" in registry

    now[0] += IDLE
    ticks.put_nowait(None)
    await within(asleep.get())
    assert len(registry) == 0

    sweeper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await within(sweeper)
    await within(registry.shutdown())
    assert Counter(e[1] for e in world.events("stopped")) == {"a": 1, "b": 1}


async def test_run_passivation_uses_the_given_interval() -> None:
    periods: list[float] = []
    ticked = asyncio.Event()

    async def fake_sleep(seconds: float) -> None:
        periods.append(seconds)
        if len(periods) == 3:
            ticked.set()
        await asyncio.sleep(0)

    registry = ActorRegistry(World().factory, sleep=fake_sleep)
    sweeper = asyncio.create_task(registry.run_passivation(interval=2.5))
    await within(ticked.wait())
    sweeper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await within(sweeper)
    assert periods[:3] == [2.5, 2.5, 2.5]


# -- hooks that misbehave ---------------------------------------------------------


class Fussy(Room):
    def can_passivate(self) -> bool:
        if self.key == "broken":
            raise Boom("bug in can_passivate")
        return True


async def test_can_passivate_that_raises_keeps_that_actor_and_the_sweep_going() -> None:
    now = [0.0]
    world = World()
    fake_sleep, ticks, asleep = stepped_sleep()
    registry = ActorRegistry(
        lambda key: Fussy(key, world), idle_timeout=IDLE, clock=lambda: now[0], sleep=fake_sleep
    )
    sweeper = asyncio.create_task(registry.run_passivation())
    await within(asleep.get())
    for key in ("broken", "fine"):
        await within(registry.ask(key, Get()))
    await settle(sweeper)

    now[0] += IDLE
    ticks.put_nowait(None)
    await within(asleep.get())  # the sweep survived the error...
    assert "broken" in registry  # ...kept the actor it could not ask...
    assert "fine" not in registry  # ...and passivated the others

    await within(registry.ask("later", Get()))
    await settle(sweeper)
    now[0] += IDLE
    ticks.put_nowait(None)
    await within(asleep.get())
    assert "later" not in registry  # later sweeps still run

    sweeper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await within(sweeper)
    await within(registry.shutdown())


async def test_shutdown_cancels_a_stuck_on_stop_and_leaves_no_task_behind() -> None:
    now = [0.0]
    world = World()
    world.keep_alive.add("live")
    registry = registry_for(world, now)
    await within(registry.ask("idle", Get()))
    await within(registry.ask("live", Get()))
    await settle()
    world.stop_gate = asyncio.Event()  # never set: every on_stop hangs
    now[0] += IDLE
    assert registry.passivate_idle() == 1  # "idle" is stopping, in the background
    await until(lambda: bool(world.events("stop")))

    loop = asyncio.get_running_loop()
    started = loop.time()
    await within(registry.shutdown(timeout=0.1))

    assert loop.time() - started < 1.0
    assert sorted(e[1] for e in world.events("stop")) == ["idle", "live"]
    assert world.events("stopped") == []  # both were cancelled
    assert asyncio.all_tasks() == {asyncio.current_task()}  # nothing outlives shutdown


async def test_cancelled_error_leaking_from_a_handler_is_a_failure_not_a_stop() -> None:
    """A handler whose awaited work raises CancelledError must not strand the mailbox."""

    class Leaky(Actor[str, str]):
        async def receive(self, message: str) -> str:
            if message == "leak":
                inner = asyncio.get_running_loop().create_future()
                inner.cancel()
                await inner  # raises CancelledError, though nobody cancelled us
            return message

    registry: ActorRegistry[str, str] = ActorRegistry(Leaky)
    leak = asyncio.ensure_future(registry.ask("k", "leak", timeout=5))
    after = asyncio.ensure_future(registry.ask("k", "after", timeout=5))
    with pytest.raises(ActorError):
        await asyncio.wait_for(leak, 5)
    assert await asyncio.wait_for(after, 5) == "after"
    await registry.shutdown(timeout=5)


def recording_registry(**options: Any) -> tuple[ActorRegistry[str, str], asyncio.Event, list[str]]:
    """A registry of actors that record what they handle; "block" waits for the event."""
    release = asyncio.Event()
    handled: list[str] = []

    class Worker(Actor[str, str]):
        async def receive(self, message: str) -> None:
            if message == "block":
                await release.wait()
            handled.append(message)

    return ActorRegistry(Worker, **options), release, handled


async def test_coalesced_tells_keep_one_waiting_copy() -> None:
    """Equal coalesced messages waiting collapse into one; once taken, new ones queue."""
    registry, release, handled = recording_registry()
    registry.tell("k", "block")
    await asyncio.sleep(0)  # the actor is now inside "block"
    for _ in range(50):
        registry.tell("k", "nudge", coalesce=True)
    registry.tell("k", "other")
    registry.tell("k", "nudge", coalesce=True)
    assert registry.snapshot()[0].mailbox_depth == 2
    release.set()
    await asyncio.wait_for(registry.ask("k", "done"), 5)
    assert handled == ["block", "nudge", "other", "done"]
    registry.tell("k", "nudge", coalesce=True)
    await asyncio.wait_for(registry.ask("k", "done"), 5)
    assert handled[-2:] == ["nudge", "done"]
    await registry.shutdown(timeout=5)


async def test_a_coalesced_nudge_is_accepted_by_a_full_mailbox() -> None:
    registry, release, handled = recording_registry(mailbox_size=1)
    registry.tell("k", "block")
    await asyncio.sleep(0)
    registry.tell("k", "fill")
    with pytest.raises(MailboxFullError):
        registry.tell("k", "more")
    registry.tell("k", "nudge", coalesce=True)  # stored work must not go unannounced
    registry.tell("k", "nudge", coalesce=True)
    release.set()
    await asyncio.wait_for(registry.ask("k", "done", timeout=5), 5)
    assert handled == ["block", "fill", "nudge", "done"]
    await registry.shutdown(timeout=5)


class Pointless(Room):
    """Keeps nothing while its value is 0 (like a room name that is no room)."""

    def stop_when_idle(self) -> bool:
        return self.value == 0


async def test_an_actor_that_keeps_nothing_stops_as_soon_as_its_mailbox_is_empty() -> None:
    now = [0.0]
    world = World()
    registry: ActorRegistry[str, Any] = ActorRegistry(
        lambda key: Pointless(key, world), idle_timeout=IDLE, clock=lambda: now[0]
    )
    assert await within(registry.ask("nobody", Get())) == 0
    await settle()
    assert "nobody" not in registry  # no idle_timeout to wait for
    await within(world.stopped.wait())

    # A message a moment later finds a fresh actor; one that keeps state stays.
    assert await within(registry.ask("nobody", Add(2))) == 2
    await settle()
    assert "nobody" in registry
    assert [e[2] for e in world.events("start")] == [1, 2]
    await within(registry.shutdown())


# -- the asker's budget ----------------------------------------------------------


class _Gate(Actor[str, object]):
    """Holds its first message until the test opens the gate (as if loading from the
    database, with `on_database`); tells each handler's deadline."""

    def __init__(
        self, key: str, gate: asyncio.Event, seen: list[float | None], on_database: bool = True
    ) -> None:
        super().__init__(key)
        self._gate = gate
        self._seen = seen
        self._on_database = on_database

    async def receive(self, message: object) -> Any:
        self._seen.append(self.deadline)
        self.awaiting_database = self._on_database
        try:
            await self._gate.wait()
        finally:
            self.awaiting_database = False
        return message


async def test_an_ask_waits_at_most_the_askers_budget_and_says_so() -> None:
    gate, seen = asyncio.Event(), []
    budget = [0.05]
    registry: ActorRegistry[str, object] = ActorRegistry(
        lambda key: _Gate(key, gate, seen), ask_timeout=10, ask_budget=lambda: budget[0]
    )
    first = asyncio.ensure_future(registry.ask("room", "first"))
    await until(lambda: len(seen) == 1)
    # Queued behind a message that holds the actor: the budget, not the 10 s, bounds it.
    with pytest.raises(AskBudgetSpentError):
        await within(registry.ask("room", "second"), 2)
    gate.set()
    assert await within(first) == "first"
    # The handler saw its asker's deadline (loop time); a tell has none.
    loop_now = asyncio.get_running_loop().time()
    assert seen[0] is not None
    assert seen[0] <= loop_now
    registry.tell("room", "told")
    await until(lambda: len(seen) == 2)
    assert seen[1] is None
    await registry.shutdown(timeout=1)


async def test_an_explicit_timeout_is_not_the_budget() -> None:
    gate, seen = asyncio.Event(), []
    registry: ActorRegistry[str, object] = ActorRegistry(
        lambda key: _Gate(key, gate, seen), ask_timeout=10, ask_budget=lambda: 0.01
    )
    first = asyncio.ensure_future(registry.ask("room", "first", timeout=5))
    await until(lambda: len(seen) == 1)
    with pytest.raises(AskTimeoutError) as raised:
        await within(registry.ask("room", "second", timeout=0.05), 2)
    assert not isinstance(raised.value, AskBudgetSpentError)
    gate.set()
    assert await within(first) == "first"
    await registry.shutdown(timeout=1)


async def test_a_budget_spent_behind_other_work_than_the_database_is_busy() -> None:
    gate, seen = asyncio.Event(), []
    registry: ActorRegistry[str, object] = ActorRegistry(
        lambda key: _Gate(key, gate, seen, on_database=False),
        ask_timeout=10,
        ask_budget=lambda: 0.05,
    )
    first = asyncio.ensure_future(registry.ask("room", "first"))
    await until(lambda: len(seen) == 1)
    with pytest.raises(AskTimeoutError) as raised:
        await within(registry.ask("room", "second"), 2)
    assert not isinstance(raised.value, AskBudgetSpentError)  # answered 503 busy
    gate.set()
    assert await within(first) == "first"
    await registry.shutdown(timeout=1)
