"""The outbox's events of webhook effects: one per change that committed, none for a
change that did not happen (a duplicate) or rolled back (a poison event).

Webhooks are signed as LiveKit signs them and go through the real route, inbox,
actor and committer; the events are read back numbered, in commit order.
"""

from __future__ import annotations

import datetime as dt

from livekit.protocol.webhook import WebhookEvent

from models.outbox import StoredEvent
from tests.app.test_admission import joined, removed
from tests.app.test_admission import make_room as make_gated_room
from tests.app.test_admission import token as gated_token
from tests.app.test_webhooks import deliver, make_room, settle
from tests.conftest import Running, app_running
from tests.fakes.livekit_server import FakeLiveKit
from tests.support.clock import FakeClock
from tests.support.outbox import data_of, kinds, numbered
from tests.support.settings import make_settings
from tests.support.webhooks import event, participant, room_info

ROOM = "town-hall"
SID = "RM_first"
T0 = 1_790_000_000


def presence(events: list[StoredEvent], room: str = ROOM) -> list[str]:
    """The room's events other than room.* (the room's own create and updates)."""
    return [k for k in kinds(events, room) if not k.startswith("room.")]


def _at(seconds: int) -> str:
    return dt.datetime.fromtimestamp(T0 + seconds, dt.UTC).isoformat().replace("+00:00", "Z")


def _meeting() -> list[WebhookEvent]:
    room = room_info(ROOM, SID, created=T0)
    alice = participant("alice", "PA_a", joined_at=T0 + 10)
    bob = participant("bob", "PA_b", joined_at=T0 + 20)
    return [
        event("room_started", room, created_at=T0),
        event("participant_joined", room, who=alice, created_at=T0 + 10),
        event("participant_joined", room, who=bob, created_at=T0 + 20),
        event("participant_left", room, who=bob, created_at=T0 + 50),
        event("room_finished", room, created_at=T0 + 100),
    ]


async def test_a_meeting_gives_its_events_in_order_with_their_data(running: Running) -> None:
    client = running.client()
    await make_room(client)
    for message in _meeting():
        assert await deliver(client, message) == 200
        await settle(running, ROOM)
    events = await numbered(running)
    assert presence(events) == [
        "session.started",
        "participant.joined",
        "participant.joined",
        "participant.left",
        "participant.left",  # alice, closed by the room's end
        "session.ended",
    ]
    assert [e.seq for e in events] == list(range(events[0].seq, events[0].seq + len(events)))
    (started,) = data_of(events, "session.started")
    assert started == {
        "room": ROOM,
        "session": SID,
        "started_at": _at(0),
        "ended_at": None,
        "participants_total": 0,
    }
    (ended,) = data_of(events, "session.ended")
    assert ended["ended_at"] == _at(100)
    assert ended["participants_total"] == 2
    left = {d["identity"]: d for d in data_of(events, "participant.left")}
    assert left["bob"] == {
        "room": ROOM,
        "session": SID,
        "identity": "bob",
        "name": "Bob",
        "sid": "PA_b",
        "joined_at": _at(20),
        "left_at": _at(50),
        "disconnect_reason": "CLIENT_INITIATED",
    }
    assert left["alice"]["disconnect_reason"] == "ROOM_CLOSED"
    assert left["alice"]["left_at"] == _at(100)
    body = next(e for e in events if e.type == "participant.joined").body(with_id=True)
    assert set(body) == {"id", "type", "timestamp", "data"}
    assert body["timestamp"] == _at(10)


async def test_one_batch_gives_the_same_events(running: Running) -> None:
    """All of a meeting's webhooks applied in one round: the folded rows still
    report every change (a join and its leave in one inserted row)."""
    client = running.client()
    await make_room(client)
    for message in _meeting():
        assert await deliver(client, message) == 200
    await settle(running, ROOM)
    events = await numbered(running)
    assert presence(events) == [
        "session.started",
        "participant.joined",
        "participant.joined",
        "participant.left",
        "participant.left",
        "session.ended",
    ]
    (ended,) = data_of(events, "session.ended")
    assert ended["participants_total"] == 2


async def test_a_repeated_webhook_gives_no_second_event(running: Running) -> None:
    """LiveKit retries: the same effects are decided again (a new event id) but
    change nothing, so nothing is reported twice."""
    client = running.client()
    await make_room(client)
    room = room_info(ROOM, SID, created=T0)
    amy = participant("amy", "PA_a", joined_at=T0 + 1)
    assert await deliver(client, event("room_started", room, created_at=T0)) == 200
    assert await deliver(client, event("participant_joined", room, who=amy)) == 200
    await settle(running, ROOM)
    before = await numbered(running)
    # New event ids (a duplicate id would not even be stored): the same changes.
    assert await deliver(client, event("room_started", room, created_at=T0)) == 200
    assert await deliver(client, event("participant_joined", room, who=amy)) == 200
    await settle(running, ROOM)
    assert await numbered(running) == before
    assert await deliver(client, event("participant_left", room, who=amy)) == 200
    assert await deliver(client, event("participant_left", room, who=amy)) == 200
    await settle(running, ROOM)
    after = await numbered(running)
    assert presence(after)[len(presence(before)) :] == ["participant.left"]


async def test_a_change_that_rolled_back_has_no_event(database_url: str, clock: FakeClock) -> None:
    """A poison join makes its round's write fail and roll back: the good events of
    that round are written again alone, with their events; the poison one never."""
    settings = make_settings(database_url, webhook_max_attempts=2)
    async with app_running(settings, clock) as running:
        client = running.client()
        await make_room(client)
        room = room_info(ROOM, SID)
        assert await deliver(client, event("room_started", room)) == 200
        poison = event("participant_joined", room, who=participant("z\x00d", "PA_z"))
        good = event("participant_joined", room, who=participant("amy", "PA_a"))
        assert await deliver(client, poison) == 200
        assert await deliver(client, good) == 200
        await settle(running, ROOM)
        await settle(running, ROOM)
        events = await numbered(running)
        joined_ = data_of(events, "participant.joined")
        assert [d["identity"] for d in joined_] == ["amy"]
        assert presence(events) == ["session.started", "participant.joined"]


async def test_a_refused_join_is_reported_with_its_verdict(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = mirrored.client()
    await make_gated_room(client, max_participants=2)
    assert await gated_token(client, "host") == 200
    await deliver_all(client, event("room_started", room_info("gate", "RM_gate")))
    await settle(mirrored, "gate")
    await deliver_all(
        client,
        joined(fake_livekit, "host", "PA_h"),
        joined(fake_livekit, "stranger", "PA_s"),
    )
    await settle(mirrored, "gate")
    assert removed(fake_livekit) == ["stranger"]
    events = await numbered(mirrored)
    assert presence(events, "gate") == [
        "session.started",
        "participant.joined",
        "participant.refused",
    ]
    (refused,) = data_of(events, "participant.refused")
    assert refused == {
        "room": "gate",
        "identity": "stranger",
        "sid": "PA_s",
        "reason": "not_issued",
    }


async def deliver_all(client: object, *messages: WebhookEvent) -> None:
    for message in messages:
        assert await deliver(client, message) == 200  # type: ignore[arg-type]
