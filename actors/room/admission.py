"""The admission rule: whether a participant LiveKit let in is one Qari admitted.

LiveKit admits anyone with a valid token for the room's name: one minted
before the room was deleted and created again, one minted elsewhere, one past
capacity. So every join is checked against what Qari granted, once, here; a
join refused is removed from LiveKit and does not count (actors/room.py).

The rule (docs/architecture.md, "Admission"): a join of a STANDARD participant
(LiveKit's default kind) is admitted when Qari issued that identity a token
for this room since it was last created, that grant is still valid, the
identity is not banned, and the room has a place for it: its own seat, a
connection of the same identity already in the room (a reconnect), or a free
place. Agents, egress, ingress and SIP participants are Qari's own machinery
or LiveKit's, and are left alone.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

# The kind of participant Qari admits (ParticipantInfo.Kind.STANDARD, LiveKit's default).
STANDARD = "standard"


class Verdict(StrEnum):
    ADMITTED = "admitted"
    # Not a kind Qari admits (agent, egress, ingress, SIP): left alone.
    NOT_SUBJECT = "not_subject"
    BANNED = "banned"
    # No token from Qari for this identity since the room was last created
    # (or there is no such room at all).
    NOT_ISSUED = "not_issued"
    TOKEN_EXPIRED = "token_expired"  # noqa: S105 - a verdict, not a credential
    NO_PLACE = "no_place"

    @property
    def admitted(self) -> bool:
        return self in (Verdict.ADMITTED, Verdict.NOT_SUBJECT)


@dataclass(frozen=True, slots=True)
class JoinFacts:
    """What the rule looks at, gathered by the room actor from its memory."""

    kind: str  # ParticipantInfo.Kind's name, lower case: "standard", "agent", ...
    # Until when Qari's grant for this identity is valid, None if there is none.
    granted_until: dt.datetime | None
    banned: bool
    # The identity still holds the seat its token reserved.
    seat_held: bool
    # Another connection of the same identity is in the room (it reconnected).
    already_in: bool
    # Places taken by others: identities in the room and seats held, this one aside.
    taken_by_others: int
    # None when Qari has no such room.
    max_participants: int | None
    at: dt.datetime


def decide(facts: JoinFacts) -> Verdict:
    """The verdict on one join; pure, so the same facts always get the same answer."""
    if facts.kind != STANDARD:
        return Verdict.NOT_SUBJECT
    if facts.banned:
        return Verdict.BANNED
    if facts.granted_until is None or facts.max_participants is None:
        return Verdict.NOT_ISSUED
    if facts.granted_until <= facts.at:
        return Verdict.TOKEN_EXPIRED
    if facts.seat_held or facts.already_in or facts.taken_by_others < facts.max_participants:
        return Verdict.ADMITTED
    return Verdict.NO_PLACE


@dataclass(frozen=True, slots=True)
class AdmissionView:
    """What the rule knows of a room when a batch of its events is decided.

    Taken by the actor when it hands its events over; only events received
    before `now` are in that batch, and a token comes before its join, so
    every grant a join in the batch can use is here.
    """

    # None when Qari has no such room.
    max_participants: int | None
    # identity -> until when Qari's grant is valid.
    grants: Mapping[str, dt.datetime]
    # identity -> until when its seat is held (never an identity in the room).
    held: Mapping[str, dt.datetime]
    banned: frozenset[str]
    # A refused join is recorded closed and removed; False (LIVEKIT_URL empty):
    # there is nobody to remove it, so it is counted and kept.
    enforce: bool
    now: dt.datetime

    def facts(
        self, kind: str, identity: str, in_room: set[str], consumed: set[str], at: dt.datetime
    ) -> JoinFacts:
        """The facts of one join, with `in_room` and the seats `consumed` by joins
        decided before it in the same batch."""
        now = self.now
        held_until = self.held.get(identity)
        others_held = sum(
            1
            for other, until in self.held.items()
            if other != identity and other not in in_room and other not in consumed and until > now
        )
        return JoinFacts(
            kind=kind,
            granted_until=self.grants.get(identity),
            banned=identity in self.banned,
            seat_held=identity not in consumed and held_until is not None and held_until > now,
            already_in=identity in in_room,
            taken_by_others=len(in_room - {identity}) + others_held,
            max_participants=self.max_participants,
            # A join applied late (a backlog) is judged at when it happened.
            at=min(at, now),
        )


@dataclass
class AdmissionStats:
    """Counters across every room, for ops: joins refused by reason, removals made."""

    refused: Counter[str] = field(default_factory=Counter)
    removed: int = 0
    removals_failed: int = 0
    # Refused while LIVEKIT_URL is empty: nobody to remove them, so only counted.
    kept_without_livekit: int = 0
