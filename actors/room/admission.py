"""The admission rule: whether a participant LiveKit let in is one Qari admitted.

LiveKit admits anyone with a valid token for the room's name: one minted
before the room was deleted and created again, one minted elsewhere, one past
capacity. So every join is checked against what Qari granted, once, here; a
join refused is removed from LiveKit and does not count (actors/room/removals.py).

The rule (docs/architecture.md, "Admission"): a join of a participant that
is not LiveKit's machinery is admitted when Qari issued that identity a token
for this room since it was last created, that grant is still valid, the
identity is not banned, the token carries the grant's current key (a removal
draws a new one: tokens issued before it are revoked), and the room has a
place for it: its own seat, a connection of the same identity already in the
room (a reconnect), or a free place. Agents, egress, ingress, SIP, connector
and bridge participants are LiveKit's own machinery (or Qari's) and are left
alone; every other kind, one this code does not know included, is judged.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

# LiveKit's own machinery (ParticipantInfo.Kind): not people, so not admitted by
# Qari's grants. Anything else, a kind added after this list included, is.
MACHINERY = frozenset({"agent", "egress", "ingress", "sip", "connector", "bridge"})
# Attributes Qari sets in tokens; a request may not set them.
RESERVED_ATTRIBUTE_PREFIX = "qari."
# The participant attribute that names the grant a token was issued under.
GRANT_ATTRIBUTE = "qari.grant"
# The vault (delegate.xyz) a wallet qualified through, in a room with delegation.
VAULT_ATTRIBUTE = "qari.vault"


@dataclass(frozen=True, slots=True)
class Grant:
    """What the admission rule checks of a join: until when, and which tokens."""

    until: dt.datetime
    # The `qari.grant` attribute a token must carry to use this grant.
    key: str


def places_taken(in_room: Collection[str], held: Collection[str], *, besides: str) -> int:
    """Places that others than `besides` take: identities in the room, and seats
    held by identities not in it. The one count of capacity: the token route's
    seats (seats.py) and the join's admission (below) both call it.

    In O(the smaller of the two), not O(seats held): a burst of new identities
    asks this once per seat, with hundreds held."""
    others_in = len(in_room) - (besides in in_room)
    small, large = (in_room, held) if len(in_room) <= len(held) else (held, in_room)
    overlap = sum(1 for other in small if other in large)  # held by someone in the room
    others_held = len(held) - overlap - (besides in held and besides not in in_room)
    return others_in + others_held


def has_place(taken: int, max_participants: int) -> bool:
    return taken < max_participants


class Verdict(StrEnum):
    ADMITTED = "admitted"
    # LiveKit's machinery (agent, egress, ingress, SIP, ...): left alone.
    NOT_SUBJECT = "not_subject"
    BANNED = "banned"
    # No token from Qari for this identity since the room was last created
    # (or there is no such room at all).
    NOT_ISSUED = "not_issued"
    # A token of a grant that was revoked since (a removal, the meeting ended, a
    # no from the access condition): coming back takes a new token.
    REVOKED = "revoked"
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
    # The token's grant is the current one (its key was not revoked since).
    current_grant: bool
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
    if facts.kind in MACHINERY:
        return Verdict.NOT_SUBJECT
    if facts.banned:
        return Verdict.BANNED
    if facts.granted_until is None or facts.max_participants is None:
        return Verdict.NOT_ISSUED
    if not facts.current_grant:
        return Verdict.REVOKED
    if facts.granted_until <= facts.at:
        return Verdict.TOKEN_EXPIRED
    if (
        facts.seat_held
        or facts.already_in
        or has_place(facts.taken_by_others, facts.max_participants)
    ):
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
    # identity -> Qari's grant: until when, and the key its tokens carry.
    grants: Mapping[str, Grant]
    # identity -> until when its seat is held (never an identity in the room).
    held: Mapping[str, dt.datetime]
    banned: frozenset[str]
    # A refused join is recorded closed and removed; False (LIVEKIT_URL empty):
    # there is nobody to remove it, so it is counted and kept.
    enforce: bool
    now: dt.datetime
    # The seats of `held` still held at `now`: taken once per view, not per join.
    holding: frozenset[str] = field(init=False, default=frozenset())

    def __post_init__(self) -> None:
        now = self.now
        holding = frozenset(o for o, until in self.held.items() if until > now)
        object.__setattr__(self, "holding", holding)

    def facts(
        self,
        kind: str,
        identity: str,
        in_room: Collection[str],
        consumed: set[str],
        at: dt.datetime,
        grant_key: str = "",
    ) -> JoinFacts:
        """The facts of one join (`grant_key`: its token's), with `in_room` and the
        seats `consumed` by joins decided before it in the same batch."""
        now = self.now
        grant = self.grants.get(identity)
        held_until = self.held.get(identity)
        # Seats still held: a join of this batch has turned its holder's into a place.
        held = self.holding - consumed if consumed else self.holding
        return JoinFacts(
            kind=kind,
            granted_until=None if grant is None else grant.until,
            current_grant=grant is not None and grant.key == grant_key,
            banned=identity in self.banned,
            seat_held=identity not in consumed and held_until is not None and held_until > now,
            already_in=identity in in_room,
            taken_by_others=places_taken(in_room, held, besides=identity),
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
    # What reconciliations with LiveKit changed (actors/room/reconcile.py), by
    # `ghosts_closed`, `joins_found` and `sessions_ended`.
    reconciled: Counter[str] = field(default_factory=Counter)
