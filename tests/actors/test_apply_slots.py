"""ApplySlots: a limit on concurrent appliers that never makes a room wait."""

from __future__ import annotations

from actors.apply_slots import ApplySlots


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
    assert slots.free == 2  # d was woken and has not taken its slot yet
    assert slots.try_take("d")
    assert slots.free == 1
    slots.give_back()
    assert slots.free == 2
    assert slots.waiting() == []


def test_a_wake_that_fails_does_not_lose_the_slot() -> None:
    def closed(room: str) -> None:
        raise RuntimeError("registry closed")

    slots = ApplySlots(1)
    slots.wake = closed
    assert slots.try_take("a")
    assert not slots.try_take("b")
    slots.give_back()
    assert slots.free == 1
