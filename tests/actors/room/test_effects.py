"""The room's rules as a table: one row per rule, pure (no database, no actor).

Each row feeds batches of events (as the inbox stores them) through `decide`,
each batch starting from the state the previous one left, and states what the
room must then hold and what must have been written.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import pytest
from google.protobuf.json_format import Parse
from livekit.protocol.models import DisconnectReason, ParticipantInfo
from livekit.protocol.webhook import WebhookEvent

from actors.room.admission import AdmissionView, Grant, Verdict
from actors.room.effects import NOT_ADMITTED, ROOM_CLOSED, Outcome, decide
from actors.room.inbox import PARSED_KEPT, ParsedEvents
from actors.room.presence import RoomState
from models.sessions import ParticipantChange, ParticipantRow
from models.webhook_inbox import PendingEvent
from tests.support.webhooks import audio_track, event, participant, room_info, serialise

ROOM = "rules-room"
ROOM_ID = 7
T0 = 1_790_000_000
RECEIVED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
FAR = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
_ids = itertools.count(1)


class _EveryoneGranted(Mapping[str, Grant]):
    """Grants valid for every identity (the rules below are not about admission)."""

    def __getitem__(self, identity: str) -> Grant:
        return Grant(FAR, "")

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


# What admission knows of a room where Qari granted everyone and seats are plenty.
OPEN = AdmissionView(
    max_participants=100,
    grants=_EveryoneGranted(),
    held={},
    banned=frozenset(),
    enforce=True,
    now=FAR - dt.timedelta(days=1),
)


def at(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


def pending(message: WebhookEvent, payload: str | None = None) -> PendingEvent:
    return PendingEvent(
        id=next(_ids),
        room_name=ROOM,
        event_type=message.event,
        payload=serialise(message).decode() if payload is None else payload,
        livekit_created_at=message.created_at,
        received_at=RECEIVED,
        attempts=0,
    )


@dataclass
class Run:
    """What the batches decided, all together."""

    state: RoomState
    outcomes: list[Outcome] = field(default_factory=list)

    def opened(self) -> dict[str, ParticipantRow]:
        return {p.sid: p for o in self.outcomes for p in o.effects.participants_opened}

    def changed(self) -> dict[str, ParticipantChange]:
        return {c.sid: c for o in self.outcomes for c in o.effects.participants_changed}

    def failed(self) -> list[str]:
        return [f.error for o in self.outcomes for f in o.effects.failed]

    def live(self) -> dict[str, str]:
        return {sid: p.identity for sid, p in self.state.live.items()}


def run(*batches: list[WebhookEvent], admission: AdmissionView = OPEN) -> Run:
    result = Run(RoomState(ROOM))
    for batch in batches:
        outcome = decide(result.state, [pending(m) for m in batch], admission, room_id=ROOM_ID)
        result.outcomes.append(outcome)
        result.state = outcome.state
        # Who is in the room is kept as the rules decide: always the live connections' count.
        people = Counter(c.identity for c in outcome.state.live.values())
        assert dict(outcome.state.in_room) == people
    return result


S1, S2 = room_info(ROOM, "RM_1", created=T0), room_info(ROOM, "RM_2", created=T0 + 500)
ANN = participant("ann", "PA_ann")
BOB = participant("bob", "PA_bob")


def started(room: object = S1, t: int = T0) -> WebhookEvent:
    return event("room_started", room, created_at=t)  # type: ignore[arg-type]


def joined(who: object, t: int, room: object = S1) -> WebhookEvent:
    return event("participant_joined", room, who=who, created_at=t)  # type: ignore[arg-type]


def left(who: object, t: int, room: object = S1, kind: str = "participant_left") -> WebhookEvent:
    return event(kind, room, who=who, created_at=t)  # type: ignore[arg-type]


def track(kind: str, who: object, sid: str, t: int) -> WebhookEvent:
    return event(kind, S1, who=who, track=audio_track(sid), created_at=t)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Rule:
    name: str
    batches: Callable[[], list[list[WebhookEvent]]]
    holds: Callable[[Run], None]
    admission: AdmissionView = OPEN


def _older_join_after_newer_leave(r: Run) -> None:
    assert r.live() == {}
    assert "PA_ann" in r.state.closed
    assert r.opened()["PA_ann"].left_at == at(T0 + 50)  # recorded closed, once
    assert r.outcomes[1].effects.participants_opened == []


def _duplicate_identity(r: Run) -> None:
    assert r.live() == {"PA_new": "dan"}
    assert r.opened()["PA_old"].disconnect_reason == "DUPLICATE_IDENTITY"
    assert r.state.identities() == {"dan"}


def _reused_name(r: Run) -> None:
    assert r.state.room_row(ROOM_ID).livekit_sid == "RM_2"
    assert "RM_1" in r.state.ended
    assert r.live() == {"PA_b2": "bob"}
    assert r.state.room_row(ROOM_ID).livekit_sid == "RM_2"


def _new_sid_without_finish(r: Run) -> None:
    assert r.state.room_row(ROOM_ID).livekit_sid == "RM_2"
    ends = {e.sid: e.ended_at for o in r.outcomes for e in o.effects.sessions_ended}
    assert ends == {"RM_1": at(T0 + 500)}
    assert r.changed()["PA_ann"].disconnect_reason == ROOM_CLOSED
    assert r.live() == {}


def _aborted_without_join(r: Run) -> None:
    row = r.opened()["PA_c"]
    assert (row.left_at, row.disconnect_reason, row.joined_at) == (
        at(T0 + 5),
        "JOIN_FAILURE",
        None,
    )
    assert r.live() == {}


def _finished_closes_everyone(r: Run) -> None:
    assert r.state.session is None
    assert r.live() == {}
    # Joined in the same batch: the close is folded into the rows it opens.
    assert {p.sid: p.disconnect_reason for p in r.opened().values()} == {
        "PA_ann": ROOM_CLOSED,
        "PA_bob": ROOM_CLOSED,
    }
    assert r.state.room_row(ROOM_ID).status == "idle"


def _finished_later(r: Run) -> None:
    assert {c.sid: c.disconnect_reason for c in r.changed().values()} == {
        "PA_ann": ROOM_CLOSED,
        "PA_bob": ROOM_CLOSED,
    }
    assert [e.sid for e in r.outcomes[1].effects.sessions_ended] == ["RM_1"]


def _tracks_by_sid(r: Run) -> None:
    # TR_b; TR_a unpublished before its publish, so its late publish is ignored.
    assert [t.sid for t in r.state.live["PA_ann"].tracks.live] == ["TR_b"]
    assert r.changed()["PA_ann"].tracks is not None


def _older_instance(r: Run) -> None:
    assert r.state.room_row(ROOM_ID).livekit_sid == "RM_2"
    old = {s.sid: s for o in r.outcomes for s in o.effects.sessions_opened}["RM_1"]
    assert old.ended_at == at(T0 + 500)  # it ended when the newer one started, at the latest
    assert r.live() == {}  # a join to a finished instance changes nothing


def _poison_costs_one_event(r: Run) -> None:
    assert len(r.failed()) == 2
    assert all("out of range" in error for error in r.failed())
    assert r.live() == {"PA_bob": "bob"}


def _room_row(r: Run) -> None:
    row = r.state.room_row(ROOM_ID)
    assert (row.status, row.num_participants, row.livekit_sid) == ("live", 2, "RM_1")
    assert [room.num_participants for o in r.outcomes for room in o.effects.rooms] == [2]


def _not_issued(r: Run) -> None:
    row = r.opened()["PA_ann"]
    assert (row.left_at, row.disconnect_reason) == (at(T0 + 1), NOT_ADMITTED)
    assert r.live() == {}
    assert "PA_ann" in r.state.closed  # a repeat of the join changes nothing
    assert r.outcomes[0].refused == (("ann", Verdict.NOT_ISSUED),)
    assert r.outcomes[1].effects.participants_opened == []


def _kept_without_livekit(r: Run) -> None:
    assert r.live() == {"PA_ann": "ann"}
    assert r.outcomes[0].kept == (("ann", Verdict.NOT_ISSUED),)
    assert r.outcomes[0].refused == ()


def _banned(r: Run) -> None:
    assert r.live() == {"PA_bob": "bob"}
    assert r.outcomes[0].refused == (("ann", Verdict.BANNED),)


def _no_place(r: Run) -> None:
    # cat's held seat counts against bob; cat's own join takes that seat.
    assert r.live() == {"PA_ann": "ann", "PA_cat": "cat"}
    assert r.outcomes[0].refused == (("bob", Verdict.NO_PLACE),)
    assert r.outcomes[0].joined == ("ann", "cat")


def _seat_consumed(r: Run) -> None:
    assert r.live() == {"PA_bob": "bob"}
    assert r.outcomes[0].joined == ("ann", "bob")


def _expired(r: Run) -> None:
    assert r.live() == {}
    assert r.outcomes[0].refused == (("ann", Verdict.TOKEN_EXPIRED),)


def _revoked(r: Run) -> None:
    assert r.live() == {"PA_new": "ann"}
    assert r.outcomes[0].refused == (("ann", Verdict.REVOKED),)


def _unknown_kind(r: Run) -> None:
    assert r.live() == {}
    assert r.outcomes[0].refused == (("x", Verdict.NOT_ISSUED),)


def _agent(r: Run) -> None:
    assert r.live() == {"PA_bot": "bot"}
    assert r.outcomes[0].refused == ()


NOBODY_GRANTED = replace(OPEN, grants={})
CAT = participant("cat", "PA_cat")

RULES = [
    Rule(
        "a join Qari issued no token for is recorded closed and refused",
        lambda: [[started(), joined(ANN, T0 + 1)], [joined(ANN, T0 + 1)]],
        _not_issued,
        NOBODY_GRANTED,
    ),
    Rule(
        "a refused join is kept (and counted) when there is no LiveKit to remove it",
        lambda: [[started(), joined(ANN, T0 + 1)]],
        _kept_without_livekit,
        replace(NOBODY_GRANTED, enforce=False),
    ),
    Rule(
        "a banned identity's join is refused",
        lambda: [[started(), joined(ANN, T0 + 1), joined(BOB, T0 + 2)]],
        _banned,
        replace(OPEN, banned=frozenset({"ann"})),
    ),
    Rule(
        "a join past capacity is refused; a held seat is its holder's",
        lambda: [[started(), joined(ANN, T0 + 1), joined(BOB, T0 + 2), joined(CAT, T0 + 3)]],
        _no_place,
        replace(OPEN, max_participants=2, held={"cat": FAR}),
    ),
    Rule(
        "a seat a join took counts no more once its holder leaves",
        lambda: [[started(), joined(ANN, T0 + 1), left(ANN, T0 + 2), joined(BOB, T0 + 3)]],
        _seat_consumed,
        replace(OPEN, max_participants=1, held={"ann": FAR}),
    ),
    Rule(
        "a join after its grant lapsed is refused",
        lambda: [[started(), joined(ANN, T0 + 1)]],
        _expired,
        replace(OPEN, grants={"ann": Grant(at(T0), "")}),
    ),
    Rule(
        "a join on a token of a revoked grant is refused; one with the new key is admitted",
        lambda: [
            [
                started(),
                joined(participant("ann", "PA_old"), T0 + 1),
                joined(participant("ann", "PA_new", attributes={"qari.grant": "k2"}), T0 + 2),
            ]
        ],
        _revoked,
        replace(OPEN, grants={"ann": Grant(FAR, "k2")}),
    ),
    Rule(
        "a participant kind LiveKit added later is judged like a person",
        lambda: [[started(), joined(participant("x", "PA_x", kind=99), T0 + 1)]],
        _unknown_kind,
        NOBODY_GRANTED,
    ),
    Rule(
        "agents, egress, ingress and SIP are not Qari's to admit",
        lambda: [
            [
                started(),
                joined(participant("bot", "PA_bot", kind=ParticipantInfo.Kind.AGENT), T0 + 1),
            ]
        ],
        _agent,
        NOBODY_GRANTED,
    ),
    Rule(
        "an older join after a newer leave changes nothing",
        lambda: [[started(), left(ANN, T0 + 50)], [joined(ANN, T0 + 10)]],
        _older_join_after_newer_leave,
    ),
    Rule(
        "a DUPLICATE_IDENTITY leave closes the old connection only",
        lambda: [
            [
                started(),
                joined(participant("dan", "PA_old"), T0 + 1),
                joined(participant("dan", "PA_new"), T0 + 2),
                left(
                    participant("dan", "PA_old", reason=DisconnectReason.DUPLICATE_IDENTITY),
                    T0 + 3,
                ),
            ]
        ],
        _duplicate_identity,
    ),
    Rule(
        "a reused name with a new sid starts a new session",
        lambda: [
            [started(), joined(participant("bob", "PA_b1"), T0 + 1)],
            [event("room_finished", S1, created_at=T0 + 100)],
            [started(S2, T0 + 500), joined(participant("bob", "PA_b2"), T0 + 501, S2)],
        ],
        _reused_name,
    ),
    Rule(
        "a new sid without room_finished closes the old session and its people",
        lambda: [[started(), joined(ANN, T0 + 1)], [started(S2, T0 + 500)]],
        _new_sid_without_finish,
    ),
    Rule(
        "connection_aborted without a join is recorded closed",
        lambda: [
            [
                started(),
                left(
                    participant("cy", "PA_c", reason=DisconnectReason.JOIN_FAILURE),
                    T0 + 5,
                    kind="participant_connection_aborted",
                ),
            ]
        ],
        _aborted_without_join,
    ),
    Rule(
        "room_finished closes everyone (joined in the same batch)",
        lambda: [
            [
                started(),
                joined(ANN, T0 + 1),
                joined(BOB, T0 + 2),
                event("room_finished", S1, created_at=T0 + 9),
            ]
        ],
        _finished_closes_everyone,
    ),
    Rule(
        "room_finished closes everyone (joined before)",
        lambda: [
            [started(), joined(ANN, T0 + 1), joined(BOB, T0 + 2)],
            [event("room_finished", S1, created_at=T0 + 9)],
        ],
        _finished_later,
    ),
    Rule(
        "tracks are counted by track sid, an unpublish before its publish included",
        lambda: [
            [started(), joined(ANN, T0 + 1)],
            [
                track("track_unpublished", ANN, "TR_a", T0 + 2),
                track("track_published", ANN, "TR_a", T0 + 3),
                track("track_published", ANN, "TR_b", T0 + 4),
                track("track_published", ANN, "TR_b", T0 + 5),
            ],
        ],
        _tracks_by_sid,
    ),
    Rule(
        "a late event of an older instance of the name is recorded as ended",
        lambda: [[started(S2, T0 + 500)], [joined(ANN, T0 + 600, S1)]],
        _older_instance,
    ),
    Rule(
        "an absurd timestamp costs its event alone",
        lambda: [
            [
                started(),
                joined(participant("ann", "PA_ann", joined_at=2**62), T0 + 1),
                event("participant_joined", S1, who=ANN, created_at=2**63 - 1),
                joined(BOB, T0 + 2),
            ]
        ],
        _poison_costs_one_event,
    ),
    Rule(
        "the room row follows presence",
        lambda: [[started(), joined(ANN, T0 + 1), joined(BOB, T0 + 2)]],
        _room_row,
    ),
]


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_rule(rule: Rule) -> None:
    rule.holds(run(*rule.batches(), admission=rule.admission))


def test_deciding_never_changes_the_state_it_was_given() -> None:
    before = run([started(), joined(ANN, T0 + 1)]).state
    live = dict(before.live)
    decide(before, [pending(left(ANN, T0 + 2)), pending(joined(BOB, T0 + 3))], OPEN)
    assert dict(before.live) == live
    assert before.closed == frozenset()


@pytest.mark.parametrize(
    "payload", ["[not an event", '{"event": "participant_joined", "participant": 5}']
)
def test_a_payload_that_is_not_an_event_fails_alone(payload: str) -> None:
    state = run([started()]).state
    bad = pending(joined(ANN, T0 + 1), payload=payload)
    good = pending(joined(BOB, T0 + 2))
    outcome = decide(state, [bad, good], OPEN)
    assert [f.id for f in outcome.effects.failed] == [bad.id]
    assert outcome.effects.applied == [good.id]
    assert set(outcome.state.live) == {"PA_bob"}


@pytest.mark.parametrize(
    "who",
    [
        participant("nul\x00identity", "PA_n"),
        participant("x" * 257, "PA_long"),
        participant("ann", "P" * 65),
    ],
)
def test_text_no_column_holds_fails_the_event(who: object) -> None:
    state = run([started()]).state
    outcome = decide(state, [pending(joined(who, T0 + 1))], OPEN)
    assert len(outcome.effects.failed) == 1
    assert outcome.state.live == {}


def test_a_payload_the_route_parsed_decides_as_a_fresh_parse_does() -> None:
    """The route's parse is remembered by payload text (a memo, bounded); deciding
    from it or from a fresh parse is the same."""
    message = joined(ANN, T0 + 1)
    state = run([started()]).state
    fresh = decide(state, [pending(message)], OPEN).state
    row = pending(message)
    parsed = ParsedEvents()
    parsed.remember(row.payload, Parse(row.payload, WebhookEvent(), ignore_unknown_fields=True))
    assert decide(state, [row], OPEN, parsed=parsed).state == fresh
    assert len(parsed) == 0  # taken by its round
    for n in range(PARSED_KEPT + 10):
        parsed.remember(f"payload-{n}", WebhookEvent())
    assert len(parsed) == PARSED_KEPT


def test_a_state_whose_count_of_who_is_in_does_not_match_its_connections_is_refused() -> None:
    # A `replace` of the connections that forgot their count would judge joins
    # against the wrong room: refused when built, not later.
    in_room = run([started(), joined(ANN, T0 + 1)]).state
    assert dict(in_room.in_room) == {"ann": 1}
    with pytest.raises(ValueError, match="in_room"):
        replace(in_room, live=MappingProxyType({}))
    emptied = replace(in_room, live=MappingProxyType({}), in_room=MappingProxyType({}))
    assert emptied.identities() == set()
