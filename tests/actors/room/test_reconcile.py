"""Reconciliation's pure part: what LiveKit's answer means, as the rules decide it.

Each row plans the synthetic events for a room's state and LiveKit's answer
(reconcile.plan), stores them as inbox rows would be, and decides them with
the room's rules (optionally after webhooks applied first), then states who
is in the room and what the reconciliation counted.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field

import pytest
from livekit.protocol.models import ParticipantInfo, Room
from livekit.protocol.webhook import WebhookEvent

from actors.room.effects import ROOM_CLOSED, decide
from actors.room.inbox import RECONCILED
from actors.room.presence import RoomState
from actors.room.reconcile import Answer, Reconciled, inbox_rows, needs_instance, plan
from models.webhook_effects import EffectBatch
from models.webhook_inbox import PendingEvent
from tests.actors.room.test_effects import OPEN
from tests.support.webhooks import event, participant, room_info, serialise

ROOM = "reconciled-room"
SID = "RM_ours"
BEGAN = dt.datetime(2026, 1, 1, 12, 0, 30, tzinfo=dt.UTC)
_ids = itertools.count(1)


def row(message: WebhookEvent, event_type: str | None = None) -> PendingEvent:
    return PendingEvent(
        id=next(_ids),
        room_name=ROOM,
        event_type=event_type or message.event,
        payload=serialise(message).decode(),
        livekit_created_at=message.created_at,
        received_at=BEGAN,
        attempts=0,
    )


def started(*who: tuple[str, str]) -> RoomState:
    """The room with its session open and `who` (identity, sid) in it."""
    rows = [row(event("room_started", room_info(ROOM, SID, 1_767_268_000)))]
    rows += [
        row(event("participant_joined", room_info(ROOM, SID), who=participant(i, s)))
        for i, s in who
    ]
    return decide(RoomState(ROOM), rows, OPEN).state


def listed(identity: str, sid: str, joined_at: int = 1_767_268_100) -> ParticipantInfo:
    return participant(identity, sid, joined_at=joined_at)


def left(identity: str, sid: str) -> WebhookEvent:
    return event("participant_left", room_info(ROOM, SID), who=participant(identity, sid))


@dataclass
class Case:
    state: RoomState
    answer: Answer
    # Who is in the room once the plan is decided (identity, sid), sorted.
    present: list[tuple[str, str]]
    counts: Reconciled
    # Webhooks stored after the call began and applied before the plan is.
    applied_first: list[WebhookEvent] = field(default_factory=list)
    # How those that left did (sid -> reason).
    reasons: dict[str, str] = field(default_factory=dict)


OURS = Room(name=ROOM, sid=SID)
CASES = {
    "a ghost is closed as reconciled": Case(
        started(("ada", "PA_a"), ("bob", "PA_b")),
        Answer([listed("ada", "PA_a")]),
        [("ada", "PA_a")],
        Reconciled(ghosts_closed=1),
        reasons={"PA_b": RECONCILED},
    ),
    "a join found in our instance is recorded": Case(
        started(("ada", "PA_a")),
        Answer([listed("ada", "PA_a"), listed("cy", "PA_c")], instance=OURS),
        [("ada", "PA_a"), ("cy", "PA_c")],
        Reconciled(joins_found=1),
    ),
    "a join not known to be in our instance waits": Case(
        started(("ada", "PA_a")),
        Answer([listed("ada", "PA_a"), listed("cy", "PA_c")]),
        [("ada", "PA_a")],
        Reconciled(),
    ),
    "a room LiveKit forgot ends as room_finished would": Case(
        started(("ada", "PA_a")),
        Answer(found=False),
        [],
        Reconciled(sessions_ended=1),
        reasons={"PA_a": ROOM_CLOSED},
    ),
    "a newer instance ends ours and holds who LiveKit lists": Case(
        started(("ada", "PA_a")),
        Answer(
            [listed("cy", "PA_c")],
            instance=Room(name=ROOM, sid="RM_newer", creation_time=1_767_268_020),
        ),
        [("cy", "PA_c")],
        Reconciled(ghosts_closed=1, joins_found=1, sessions_ended=1),
        reasons={"PA_a": RECONCILED},
    ),
    "a leave applied while the call was out is not undone by the join found": Case(
        started(("ada", "PA_a")),
        Answer([listed("ada", "PA_a"), listed("cy", "PA_c")], instance=OURS),
        [("ada", "PA_a")],
        Reconciled(),
        applied_first=[left("cy", "PA_c")],
        reasons={"PA_c": "CLIENT_INITIATED"},
    ),
    "a join applied while the call was out is never a ghost": Case(
        started(("ada", "PA_a")),
        Answer([listed("ada", "PA_a")]),
        [("ada", "PA_a"), ("xena", "PA_x")],
        Reconciled(),
        applied_first=[
            event("participant_joined", room_info(ROOM, SID), who=participant("xena", "PA_x"))
        ],
    ),
    "a ghost whose leave came meanwhile keeps that leave's reason": Case(
        started(("ada", "PA_a"), ("bob", "PA_b")),
        Answer([listed("ada", "PA_a")]),
        [("ada", "PA_a")],
        Reconciled(),
        applied_first=[left("bob", "PA_b")],
        reasons={"PA_b": "CLIENT_INITIATED"},
    ),
    "a reconnect found joins before its old connection leaves": Case(
        started(("ada", "PA_a1")),
        Answer([listed("ada", "PA_a2")], instance=OURS),
        [("ada", "PA_a2")],
        Reconciled(ghosts_closed=1, joins_found=1),
        reasons={"PA_a1": RECONCILED},
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_reconciliation(case: Case) -> None:
    events = plan(ROOM, case.state, case.answer, BEGAN)
    stored = inbox_rows(ROOM, events, BEGAN)
    synthetic = [
        PendingEvent(next(_ids), ROOM, s.event_type, s.payload, s.livekit_created_at, BEGAN, 0)
        for s in stored
    ]
    state, closes = case.state, {}
    if case.applied_first:
        first = decide(state, [row(e) for e in case.applied_first], OPEN)
        state, closes = first.state, _closes(first.effects)
    outcome = decide(state, synthetic, OPEN)

    assert not outcome.effects.failed
    assert sorted((c.identity, c.sid) for c in outcome.state.live.values()) == case.present
    assert outcome.reconciled == case.counts
    closes |= _closes(outcome.effects)
    assert {sid: reason for sid, (reason, _) in closes.items()} == case.reasons
    for reason, left_at in closes.values():
        if reason in (RECONCILED, ROOM_CLOSED):
            assert left_at == BEGAN  # the reconciliation's time


def _closes(effects: EffectBatch) -> dict[str, tuple[str | None, dt.datetime | None]]:
    """Connections the effects close (or record closed), by sid: (reason, left_at)."""
    rows = [*effects.participants_opened, *effects.participants_changed]
    return {r.sid: (r.disconnect_reason, r.left_at) for r in rows if r.left_at is not None}


def test_the_room_is_asked_for_only_when_empty_or_someone_is_unknown() -> None:
    state = started(("ada", "PA_a"))
    assert needs_instance(state, [])
    assert not needs_instance(state, [listed("ada", "PA_a")])
    assert needs_instance(state, [listed("ada", "PA_a"), listed("cy", "PA_c")])


def test_no_session_no_plan() -> None:
    assert plan(ROOM, RoomState(ROOM), Answer([listed("ada", "PA_a")], instance=OURS), BEGAN) == []
