"""Presence that converges with LiveKit (DESIGN.md section 13), against the fake RoomService.

Each test loses a webhook (or LiveKit), ends a room's reconciliation period
with the injected timers, waits for the reconciliation and its events to be
applied, and reads the result through the API, the tables and the outbox.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable

import pytest
from livekit.protocol.models import DisconnectReason, Room
from livekit.protocol.webhook import WebhookEvent

from actors.room.actor import RoomActor
from models import ParticipantSession
from tests.conftest import Client, Running, app_running
from tests.fakes.livekit_server import FakeLiveKit
from tests.support.applied import apply_pending
from tests.support.clock import FakeClock
from tests.support.outbox import data_of, numbered
from tests.support.settings import AUTH, make_settings
from tests.support.webhooks import event, participant, room_info, signed

ROOM = "converge"
WITHIN = 10.0


async def until(condition: Callable[[], bool], timeout: float = WITHIN) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


def reconciling(running: Running) -> bool:
    actor = running.services.rooms.actor_for(ROOM)
    return isinstance(actor, RoomActor) and actor.reconciling


async def reconcile(running: Running, fake: FakeLiveKit) -> None:
    """The room's period ends: wait for its ListParticipants, then for what it found
    to be stored and applied."""
    asked = len(fake.calls_to("ListParticipants"))
    await running.reconcile.fire()
    await until(lambda: len(fake.calls_to("ListParticipants")) > asked)
    await until(lambda: not reconciling(running))
    await apply_pending(running.services.rooms, ROOM)


async def deliver(client: Client, *messages: WebhookEvent) -> None:
    for message in messages:
        body, headers = signed(message)
        response = await client.post("/v1/livekit/webhook", data=body, headers=headers)
        assert response.status_code == 200


async def token(client: Client, identity: str) -> int:
    response = await client.post(
        f"/v1/rooms/{ROOM}/token", json={"identity": identity}, headers=AUTH
    )
    return response.status_code


async def in_room(client: Client) -> list[str]:
    response = await client.get(f"/v1/rooms/{ROOM}/participants", headers=AUTH)
    return sorted(p["identity"] for p in (await response.get_json())["items"])


async def reconciled(client: Client) -> dict[str, int]:
    response = await client.get("/v1/ops/admission", headers=AUTH)
    counts: dict[str, int] = (await response.get_json())["reconciled"]
    return counts


class Meeting:
    """A room of ours that LiveKit runs, and the webhooks about it (with LiveKit's sid)."""

    def __init__(self, running: Running, fake: FakeLiveKit) -> None:
        self.running = running
        self.fake = fake
        self.client = running.client()
        self.sids: dict[str, str] = {}

    async def open(self, max_participants: int = 10) -> None:
        response = await self.client.post(
            "/v1/rooms", json={"name": ROOM, "max_participants": max_participants}, headers=AUTH
        )
        assert response.status_code == 201
        await self.deliver(event("room_started", self.room()))

    def room(self) -> Room:
        return room_info(ROOM, self.fake.rooms[ROOM].sid)

    def connect(self, identity: str, joined_at: int = 0) -> str:
        """`identity` connects in LiveKit (no webhook): its participant sid."""
        info = self.fake.join(ROOM, identity)
        info.joined_at = joined_at
        self.sids[identity] = info.sid
        return info.sid

    def disconnect(self, identity: str) -> None:
        """`identity` leaves in LiveKit (no webhook)."""
        del self.fake.participants[ROOM][identity]

    def joined(self, identity: str) -> WebhookEvent:
        who = participant(identity, self.sids[identity])
        return event("participant_joined", self.room(), who=who)

    def left(self, identity: str) -> WebhookEvent:
        who = participant(identity, self.sids[identity], reason=DisconnectReason.CLIENT_INITIATED)
        return event("participant_left", self.room(), who=who)

    async def deliver(self, *messages: WebhookEvent) -> None:
        await deliver(self.client, *messages)
        await apply_pending(self.running.services.rooms, ROOM)

    async def join(self, identity: str) -> None:
        """A token from Qari, the connection in LiveKit, and its webhook."""
        assert await token(self.client, identity) == 200
        self.connect(identity)
        await self.deliver(self.joined(identity))


async def connection(identity: str) -> ParticipantSession:
    return await ParticipantSession.get(identity=identity)


@pytest.fixture
async def patient(
    database_url: str, clock: FakeClock, fake_livekit: FakeLiveKit
) -> AsyncIterator[Running]:
    """Mirrored, with LiveKit calls given long enough to be held open (hang_next) and
    still answer."""
    settings = make_settings(database_url, livekit_url=fake_livekit.url, livekit_timeout_seconds=5)
    async with app_running(settings, clock) as instance:
        yield instance


async def test_a_dropped_leave_is_closed_as_reconciled_and_frees_its_place(
    mirrored: Running, fake_livekit: FakeLiveKit, clock: FakeClock
) -> None:
    meeting = Meeting(mirrored, fake_livekit)
    await meeting.open(max_participants=2)
    await meeting.join("ada")
    await meeting.join("bob")
    meeting.disconnect("bob")  # its participant_left never comes
    assert await token(meeting.client, "cy") == 409  # the ghost holds its place
    clock.advance(30)
    await reconcile(mirrored, fake_livekit)

    assert await in_room(meeting.client) == ["ada"]
    ghost = await connection("bob")
    assert ghost.left_at == clock.now()
    assert ghost.disconnect_reason == "RECONCILED"
    assert await token(meeting.client, "cy") == 200  # its place is free
    left = data_of(await numbered(mirrored), "participant.left")
    assert [(e["identity"], e["disconnect_reason"]) for e in left] == [("bob", "RECONCILED")]
    assert await reconciled(meeting.client) == {
        "ghosts_closed": 1,
        "joins_found": 0,
        "sessions_ended": 0,
    }
    metrics = (await (await meeting.client.get("/metrics", headers=AUTH)).get_data()).decode()
    assert 'qari_presence_reconciled_total{change="ghosts_closed"} 1.0' in metrics

    # Nothing more to find: the next period changes nothing.
    await reconcile(mirrored, fake_livekit)
    assert await reconciled(meeting.client) == {
        "ghosts_closed": 1,
        "joins_found": 0,
        "sessions_ended": 0,
    }
    assert len(data_of(await numbered(mirrored), "participant.left")) == 1


async def test_dropped_joins_are_recorded_and_judged_by_admission(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    meeting = Meeting(mirrored, fake_livekit)
    await meeting.open()
    assert await token(meeting.client, "guest") == 200
    joined_at = 1_790_000_000
    meeting.connect("guest", joined_at=joined_at)  # admitted, its join never reported
    meeting.connect("stranger")  # no token from Qari, its join never reported either
    await reconcile(mirrored, fake_livekit)

    assert await in_room(meeting.client) == ["guest"]
    guest = await connection("guest")
    assert guest.joined_at == dt.datetime.fromtimestamp(joined_at, tz=dt.UTC)
    assert guest.left_at is None
    stranger = await connection("stranger")
    assert stranger.disconnect_reason == "NOT_ADMITTED"
    removed = [c.identity for c in fake_livekit.calls_to("RemoveParticipant")]  # type: ignore[attr-defined]
    assert removed == ["stranger"]
    assert sorted(fake_livekit.participants[ROOM]) == ["guest"]
    joined = data_of(await numbered(mirrored), "participant.joined")
    assert [e["identity"] for e in joined] == ["guest"]
    assert await reconciled(meeting.client) == {
        "ghosts_closed": 0,
        "joins_found": 2,
        "sessions_ended": 0,
    }


async def test_a_room_livekit_forgot_is_ended_as_room_finished_would(
    mirrored: Running, fake_livekit: FakeLiveKit, clock: FakeClock
) -> None:
    meeting = Meeting(mirrored, fake_livekit)
    await meeting.open()
    await meeting.join("ada")
    # LiveKit ends the room; its room_finished (and ada's leave) never come.
    fake_livekit.rooms.pop(ROOM)
    fake_livekit.participants.pop(ROOM)
    clock.advance(30)
    await reconcile(mirrored, fake_livekit)

    assert await in_room(meeting.client) == []
    room = await (await meeting.client.get(f"/v1/rooms/{ROOM}", headers=AUTH)).get_json()
    assert room["status"] == "idle"
    ada = await connection("ada")
    assert (ada.left_at, ada.disconnect_reason) == (clock.now(), "ROOM_CLOSED")
    events = await numbered(mirrored)
    ended = data_of(events, "session.ended")
    assert len(ended) == 1
    assert await reconciled(meeting.client) == {
        "ghosts_closed": 0,
        "joins_found": 0,
        "sessions_ended": 1,
    }


async def test_an_empty_room_livekit_does_not_list_is_ended_and_one_it_lists_is_not(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    """ListParticipants answering an empty list (as some LiveKit versions do for a
    room they do not have): ListRooms decides."""
    fake_livekit.lists_missing_rooms_empty = True
    meeting = Meeting(mirrored, fake_livekit)
    await meeting.open()
    await reconcile(mirrored, fake_livekit)  # empty, and listed: nothing to do
    assert len(fake_livekit.calls_to("ListRooms")) == 1
    assert await reconciled(meeting.client) == {
        "ghosts_closed": 0,
        "joins_found": 0,
        "sessions_ended": 0,
    }
    fake_livekit.rooms.pop(ROOM)
    await reconcile(mirrored, fake_livekit)
    room = await (await meeting.client.get(f"/v1/rooms/{ROOM}", headers=AUTH)).get_json()
    assert room["status"] == "idle"
    assert (await reconciled(meeting.client))["sessions_ended"] == 1


@pytest.mark.parametrize("failure", ["refused", "unreachable", "not_found_of_rooms"])
async def test_livekit_failing_changes_nothing(
    mirrored: Running, fake_livekit: FakeLiveKit, failure: str
) -> None:
    meeting = Meeting(mirrored, fake_livekit)
    await meeting.open()
    await meeting.join("ada")
    meeting.disconnect("ada")  # a ghost, not found while LiveKit fails
    meeting.connect("eve")  # a join, not found either
    if failure == "refused":
        fake_livekit.fail_next("ListParticipants", "internal")
    elif failure == "unreachable":
        fake_livekit.hang_next("ListParticipants", 2.0)  # past LIVEKIT_TIMEOUT_SECONDS
    else:
        fake_livekit.fail_next("ListRooms", "unavailable")
    await reconcile(mirrored, fake_livekit)

    counts = await reconciled(meeting.client)
    if failure == "not_found_of_rooms":
        # ListParticipants answered: the ghost is known gone; who joined waits.
        assert await in_room(meeting.client) == []
        assert counts == {"ghosts_closed": 1, "joins_found": 0, "sessions_ended": 0}
    else:
        assert await in_room(meeting.client) == ["ada"]
        assert counts == {"ghosts_closed": 0, "joins_found": 0, "sessions_ended": 0}
    assert await connection("ada") is not None
    assert not await ParticipantSession.filter(identity="eve").exists()
    room = await (await meeting.client.get(f"/v1/rooms/{ROOM}", headers=AUTH)).get_json()
    assert room["status"] == "live"


async def test_webhooks_stored_while_the_call_is_out_are_never_undone(
    patient: Running, fake_livekit: FakeLiveKit
) -> None:
    """ListParticipants held open: a join and a leave delivered and applied meanwhile
    win over what LiveKit's older answer says."""
    meeting = Meeting(patient, fake_livekit)
    await meeting.open()
    await meeting.join("ada")
    await meeting.join("bob")
    meeting.disconnect("bob")  # a true ghost
    assert await token(meeting.client, "yves") == 200
    meeting.connect("yves")  # in LiveKit's answer, its join lost

    fake_livekit.hang_next("ListParticipants", 1.0)
    asked = len(fake_livekit.calls_to("ListParticipants"))
    await patient.reconcile.fire()
    await until(lambda: len(fake_livekit.calls_to("ListParticipants")) > asked)
    # While the call is out the room serves tokens and webhooks: xena joins (LiveKit's
    # answer, taken before, does not list her) and yves leaves (it lists him).
    assert await token(meeting.client, "xena") == 200
    meeting.sids["xena"] = "PA_xena"
    await meeting.deliver(meeting.joined("xena"), meeting.left("yves"))
    assert reconciling(patient)
    await until(lambda: not reconciling(patient))
    await apply_pending(patient.services.rooms, ROOM)

    assert await in_room(meeting.client) == ["ada", "xena"]
    yves = await connection("yves")
    assert yves.disconnect_reason == "CLIENT_INITIATED"
    events = await numbered(patient)
    assert [e["identity"] for e in data_of(events, "participant.joined")] == [
        "ada",
        "bob",
        "xena",
    ]
    left = [(e["identity"], e["disconnect_reason"]) for e in data_of(events, "participant.left")]
    assert sorted(left) == [("bob", "RECONCILED"), ("yves", "CLIENT_INITIATED")]
    assert await reconciled(meeting.client) == {
        "ghosts_closed": 1,
        "joins_found": 0,
        "sessions_ended": 0,
    }


async def test_webhooks_stored_before_the_call_began_are_applied_once_first(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    """A leave stored just before the period ends is applied before the snapshot is
    taken: the connection is closed once, with LiveKit's reason, and is no ghost."""
    meeting = Meeting(mirrored, fake_livekit)
    await meeting.open()
    await meeting.join("ada")
    await meeting.join("bob")
    meeting.disconnect("bob")
    await deliver(meeting.client, meeting.left("bob"))  # stored; its round may be out
    await reconcile(mirrored, fake_livekit)

    assert await in_room(meeting.client) == ["ada"]
    bob = await connection("bob")
    assert bob.disconnect_reason == "CLIENT_INITIATED"
    left = data_of(await numbered(mirrored), "participant.left")
    assert [(e["identity"], e["disconnect_reason"]) for e in left] == [("bob", "CLIENT_INITIATED")]
    assert await reconciled(meeting.client) == {
        "ghosts_closed": 0,
        "joins_found": 0,
        "sessions_ended": 0,
    }


async def test_an_activation_reconciles_at_once(
    database_url: str, clock: FakeClock, fake_livekit: FakeLiveKit
) -> None:
    """After a restart (webhooks lost meanwhile), the room's first message finds the
    ghost without waiting for a period."""
    settings = make_settings(
        database_url, livekit_url=fake_livekit.url, livekit_timeout_seconds=0.5
    )
    async with app_running(settings, clock) as first:
        meeting = Meeting(first, fake_livekit)
        await meeting.open()
        await meeting.join("ada")
    meeting.disconnect("ada")  # while no node ran
    async with app_running(settings, clock) as second:
        client = second.client()
        asked = len(fake_livekit.calls_to("ListParticipants"))
        assert await in_room(client) in (["ada"], [])  # activates the room
        await until(lambda: len(fake_livekit.calls_to("ListParticipants")) > asked)
        await until(lambda: not reconciling(second))
        await apply_pending(second.services.rooms, ROOM)
        assert await in_room(client) == []
        assert (await connection("ada")).disconnect_reason == "RECONCILED"
