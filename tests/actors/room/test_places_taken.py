"""The one count of capacity (actors/room/admission.py `places_taken`) against its
definition, over many small rooms: identities in the room, plus seats held by
identities not in it, others than the one asking."""

from __future__ import annotations

import random

from actors.room.admission import places_taken

PEOPLE = [f"p{i}" for i in range(8)]


def by_definition(in_room: set[str], held: set[str], besides: str) -> int:
    return len(in_room - {besides}) + len({h for h in held if h != besides and h not in in_room})


def test_the_count_matches_its_definition_in_every_room() -> None:
    rng = random.Random(7)
    for _ in range(5000):
        in_room = {p for p in PEOPLE if rng.random() < 0.4}
        held = {p for p in PEOPLE if rng.random() < 0.4}
        besides = rng.choice(PEOPLE)
        assert places_taken(in_room, held, besides=besides) == by_definition(
            in_room, held, besides
        ), (in_room, held, besides)
