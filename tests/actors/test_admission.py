"""The admission rule, one row per case: the same facts always get the same verdict."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from livekit.protocol.models import ParticipantInfo

from actors.room.admission import JoinFacts, Verdict, decide

AT = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
LATER = AT + dt.timedelta(minutes=5)
EARLIER = AT - dt.timedelta(seconds=1)
Kind = ParticipantInfo.Kind

# A holder of its own seat, with a valid grant, in a room of 3 with 2 other places taken.
BASE = JoinFacts(
    kind="standard",
    granted_until=LATER,
    current_grant=True,
    banned=False,
    seat_held=True,
    already_in=False,
    taken_by_others=2,
    max_participants=3,
    at=AT,
)


@pytest.mark.parametrize(
    ("case", "changes", "verdict"),
    [
        ("its own seat", {}, Verdict.ADMITTED),
        ("its own seat in a full room", {"taken_by_others": 3}, Verdict.ADMITTED),
        ("seat expired, a place is free", {"seat_held": False}, Verdict.ADMITTED),
        ("seat expired, room full", {"seat_held": False, "taken_by_others": 3}, Verdict.NO_PLACE),
        (
            "a reconnect of someone in the room, room full",
            {"seat_held": False, "already_in": True, "taken_by_others": 3},
            Verdict.ADMITTED,
        ),
        (
            "lowered below what is held",
            {"seat_held": False, "taken_by_others": 5},
            Verdict.NO_PLACE,
        ),
        (
            "no token from Qari since the room was created",
            {"granted_until": None},
            Verdict.NOT_ISSUED,
        ),
        ("no such room in Qari", {"max_participants": None}, Verdict.NOT_ISSUED),
        ("grant ran out", {"granted_until": EARLIER}, Verdict.TOKEN_EXPIRED),
        ("grant runs out exactly now", {"granted_until": AT}, Verdict.TOKEN_EXPIRED),
        ("banned, though holding a seat", {"banned": True}, Verdict.BANNED),
        ("banned, without a token", {"banned": True, "granted_until": None}, Verdict.BANNED),
        ("an agent", {"kind": "agent", "granted_until": None}, Verdict.NOT_SUBJECT),
        ("egress", {"kind": "egress", "taken_by_others": 9}, Verdict.NOT_SUBJECT),
        ("ingress", {"kind": "ingress", "banned": True}, Verdict.NOT_SUBJECT),
        ("SIP", {"kind": "sip", "granted_until": None}, Verdict.NOT_SUBJECT),
        ("a connector", {"kind": "connector", "granted_until": None}, Verdict.NOT_SUBJECT),
        ("a bridge", {"kind": "bridge", "granted_until": None}, Verdict.NOT_SUBJECT),
        (
            "a kind this code does not know is judged like a person",
            {"kind": "kind_99", "granted_until": None},
            Verdict.NOT_ISSUED,
        ),
        (
            "a token of a grant revoked since (removed, meeting ended, access no)",
            {"current_grant": False},
            Verdict.REVOKED,
        ),
        (
            "revoked, and the seat still held",
            {"current_grant": False, "taken_by_others": 0},
            Verdict.REVOKED,
        ),
        ("banned and revoked: banned", {"current_grant": False, "banned": True}, Verdict.BANNED),
    ],
)
def test_admission_rule(case: str, changes: dict[str, object], verdict: Verdict) -> None:
    assert decide(replace(BASE, **changes)) is verdict  # type: ignore[arg-type]


def test_only_admitted_and_left_alone_count_as_admitted() -> None:
    assert {v for v in Verdict if v.admitted} == {Verdict.ADMITTED, Verdict.NOT_SUBJECT}
