"""ApplySlots: a limit on concurrent appliers that never makes a room wait."""

from __future__ import annotations

from actors.apply_slots import HAND_OFF_SECONDS, ApplySlots
from tests.support.clock import FakeClock


def test_rooms_past_the_limit_are_woken_in_turn() -> None:
    woken: list[str] = []
    slots = ApplySlots(2)
    slots.wake = woken.append
    assert slots.try_take("a")
    assert slots.try_take("b")
    assert not slots.try_take("c")
    assert not slots.try_take("d")
    assert not slots.try_take("c")  # asking again keeps its place
    assert slots.waiting() == ["c", "d"]
    slots.give_back()
    assert woken == ["c"]
    assert slots.try_take("c")
    slots.give_back()
    slots.give_back()
    assert woken == ["c", "d"]
    assert slots.free == 1  # d's slot is kept for it until it comes
    assert slots.handed() == ["d"]
    assert slots.try_take("d")
    assert slots.free == 1
    slots.give_back()
    assert slots.free == 2
    assert slots.waiting() == []


def test_a_woken_room_keeps_its_slot_against_newcomers() -> None:
    """The slot goes to the room that waited, not to whoever asks first after."""
    woken: list[str] = []
    slots = ApplySlots(1)
    slots.wake = woken.append
    assert slots.try_take("a")
    assert not slots.try_take("b")
    slots.give_back()
    assert woken == ["b"]
    assert not slots.try_take("fresh")  # arrives before b's actor runs
    assert slots.try_take("b")
    assert slots.waiting() == ["fresh"]
    slots.give_back()
    assert woken == ["b", "fresh"]


def test_a_wake_that_fails_does_not_lose_the_slot() -> None:
    def closed(room: str) -> None:
        raise RuntimeError("registry closed")

    slots = ApplySlots(1)
    slots.wake = closed
    assert slots.try_take("a")
    assert not slots.try_take("b")
    slots.give_back()
    assert slots.free == 1
    assert slots.handed() == []


def test_a_handed_slot_never_taken_returns_to_the_pool() -> None:
    clock = FakeClock()
    slots = ApplySlots(1, clock=clock.monotonic)
    assert slots.try_take("a")
    assert not slots.try_take("gone")
    slots.give_back()  # handed to "gone", whose actor never comes for it
    assert not slots.try_take("c")
    clock.advance(HAND_OFF_SECONDS)
    assert slots.try_take("c")
    assert slots.handed() == []


def test_a_room_that_no_longer_needs_its_slot_passes_it_on() -> None:
    woken: list[str] = []
    slots = ApplySlots(1)
    slots.wake = woken.append
    assert slots.try_take("a")
    assert not slots.try_take("b")
    assert not slots.try_take("c")
    slots.give_back()  # handed to b, which then applies another way
    slots.forgo("b")
    assert woken == ["b", "c"]
    assert slots.handed() == ["c"]
    slots.forgo("c")
    assert slots.free == 1
    assert slots.waiting() == []
