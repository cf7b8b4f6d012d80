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
from dataclasses import dataclass, field
from enum import StrEnum

from livekit.protocol.models import ParticipantInfo


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

    kind: int  # ParticipantInfo.Kind
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
    if facts.kind != ParticipantInfo.Kind.STANDARD:
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


@dataclass
class AdmissionStats:
    """Counters across every room, for ops: joins refused by reason, removals made."""

    refused: Counter[str] = field(default_factory=Counter)
    removed: int = 0
    removals_failed: int = 0
    # Refused while LIVEKIT_URL is empty: nobody to remove them, so only counted.
    kept_without_livekit: int = 0
