"""Admission on join: every participant in a room was admitted by Qari.

A join LiveKit reports for an identity Qari did not admit (no token since the
room was created, an expired one, past capacity) is removed through the fake
RoomService, which must record RemoveParticipant for exactly those identities.
"""

from __future__ import annotations

from livekit.protocol.models import ParticipantInfo
from livekit.protocol.webhook import WebhookEvent

from models import ParticipantSession
from tests.conftest import Client, Running
from tests.fakes.livekit_server import FakeLiveKit
from tests.support.applied import apply_pending
from tests.support.clock import FakeClock
from tests.support.settings import AUTH
from tests.support.webhooks import event, participant, room_info, signed

ROOM = "gate"
SID = "RM_gate"


async def deliver(client: Client, *messages: WebhookEvent) -> None:
    for message in messages:
        body, headers = signed(message)
        response = await client.post("/v1/livekit/webhook", data=body, headers=headers)
        assert response.status_code == 200


async def settle(running: Running) -> None:
    await apply_pending(running.services.rooms, ROOM)


async def make_room(client: Client, **fields: object) -> None:
    response = await client.post("/v1/rooms", json={"name": ROOM, **fields}, headers=AUTH)
    assert response.status_code == 201


async def token(client: Client, identity: str, **fields: object) -> int:
    response = await client.post(
        f"/v1/rooms/{ROOM}/token", json={"identity": identity, **fields}, headers=AUTH
    )
    return response.status_code


async def in_room(client: Client) -> list[str]:
    response = await client.get(f"/v1/rooms/{ROOM}/participants", headers=AUTH)
    return sorted(p["identity"] for p in (await response.get_json())["items"])


def joined(fake: FakeLiveKit, identity: str, sid: str, kind: int = 0) -> WebhookEvent:
    """`identity` connects to the fake LiveKit room, and LiveKit's webhook says so."""
    fake.join(ROOM, identity)
    who = participant(identity, sid)
    who.kind = kind  # type: ignore[assignment]
    return event("participant_joined", room_info(ROOM, SID), who=who)


def left(identity: str, sid: str) -> WebhookEvent:
    return event("participant_left", room_info(ROOM, SID), who=participant(identity, sid))


def removed(fake: FakeLiveKit) -> list[str]:
    return [call.identity for call in fake.calls_to("RemoveParticipant")]  # type: ignore[attr-defined]


async def test_joins_qari_did_not_admit_are_removed(
    mirrored: Running, fake_livekit: FakeLiveKit, clock: FakeClock
) -> None:
    client = mirrored.client()
    hold = mirrored.services.settings.seat_hold_seconds
    # A token from before the room was deleted and created again.
    await make_room(client, max_participants=3)
    assert await token(client, "from-before") == 200
    assert (await client.delete(f"/v1/rooms/{ROOM}", headers=AUTH)).status_code == 204
    await make_room(client, max_participants=3)
    # A token whose seat hold runs out, then one that expires altogether.
    assert await token(client, "late") == 200
    assert await token(client, "short", ttl_seconds=60) == 200
    clock.advance(hold + 61)  # both seats expired; "short"'s grant too, "late"'s not
    assert await token(client, "host-1") == 200
    assert await token(client, "host-2") == 200
    await deliver(client, event("room_started", room_info(ROOM, SID)))
    await settle(mirrored)

    await deliver(
        client,
        joined(fake_livekit, "host-1", "PA_h1"),
        joined(fake_livekit, "stranger", "PA_s"),  # minted elsewhere
        joined(fake_livekit, "from-before", "PA_fb"),
        joined(fake_livekit, "host-2", "PA_h2"),
        # Left alone, and (as every participant in the room) it takes a place.
        joined(fake_livekit, "recorder", "PA_eg", kind=ParticipantInfo.Kind.EGRESS),
        joined(fake_livekit, "late", "PA_late"),  # a grant, but the room is full
        joined(fake_livekit, "short", "PA_short"),  # its token has expired
    )
    await settle(mirrored)
    assert sorted(removed(fake_livekit)) == ["from-before", "late", "short", "stranger"]
    assert await in_room(client) == ["host-1", "host-2", "recorder"]
    assert sorted(fake_livekit.participants[ROOM]) == ["host-1", "host-2", "recorder"]
    refused = await ParticipantSession.filter(disconnect_reason="NOT_ADMITTED").values_list(
        "identity", flat=True
    )
    assert sorted(refused) == ["from-before", "late", "short", "stranger"]
    room = await (await client.get(f"/v1/rooms/{ROOM}", headers=AUTH)).get_json()
    assert room["num_participants"] == 3
    assert mirrored.services.admission.removed == 4

    # LiveKit's leave for a removed connection changes nothing.
    await deliver(client, left("stranger", "PA_s"))
    # A place frees up: the holder whose seat expired may come in now, and the
    # one who left may come back while there is a place.
    await deliver(client, left("host-1", "PA_h1"))
    await settle(mirrored)
    await deliver(client, joined(fake_livekit, "late", "PA_late_2"))
    await settle(mirrored)
    await deliver(client, joined(fake_livekit, "host-1", "PA_h1_2"))
    await settle(mirrored)
    assert await in_room(client) == ["host-2", "late", "recorder"]
    assert sorted(removed(fake_livekit)) == ["from-before", "host-1", "late", "short", "stranger"]


async def test_a_reconnect_of_someone_in_the_room_is_admitted_when_full(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = mirrored.client()
    await make_room(client, max_participants=1)
    assert await token(client, "solo") == 200
    await deliver(client, event("room_started", room_info(ROOM, SID)))
    await settle(mirrored)
    await deliver(client, joined(fake_livekit, "solo", "PA_1"))
    await settle(mirrored)
    # The same person on a new connection (LiveKit then drops the old one).
    await deliver(client, joined(fake_livekit, "solo", "PA_2"))
    await settle(mirrored)
    assert removed(fake_livekit) == []
    assert await in_room(client) == ["solo", "solo"]


async def test_joins_applied_with_their_room_session_are_checked_too(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    """The room's own transaction (a new session) applies the same rule as the shared one."""
    client = mirrored.client()
    await make_room(client)
    assert await token(client, "guest") == 200
    await deliver(
        client,
        event("room_started", room_info(ROOM, SID)),
        joined(fake_livekit, "guest", "PA_g"),
        joined(fake_livekit, "gatecrasher", "PA_x"),
    )
    await settle(mirrored)
    assert removed(fake_livekit) == ["gatecrasher"]
    assert await in_room(client) == ["guest"]


async def test_a_refused_removal_is_counted_and_the_join_still_does_not_count(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = mirrored.client()
    await make_room(client, max_participants=1)
    await deliver(client, event("room_started", room_info(ROOM, SID)))
    await settle(mirrored)
    fake_livekit.fail_next("RemoveParticipant", "internal")
    await deliver(client, joined(fake_livekit, "stranger", "PA_s"))
    await settle(mirrored)
    assert mirrored.services.admission.removals_failed == 1
    assert await in_room(client) == []
    assert await token(client, "member") == 200  # the place is still free


async def test_without_livekit_unadmitted_joins_are_only_logged_and_counted(
    running: Running,
) -> None:
    client = running.client()
    await make_room(client)
    await deliver(client, event("room_started", room_info(ROOM, SID)))
    await settle(running)
    await deliver(
        client, event("participant_joined", room_info(ROOM, SID), who=participant("x", "PA_x"))
    )
    await settle(running)
    assert await in_room(client) == ["x"]
    stats = running.services.admission
    assert stats.kept_without_livekit == 1
    assert stats.refused["not_issued"] == 1
    assert stats.removed == 0
    response = await client.get("/v1/ops/admission", headers=AUTH)
    assert await response.get_json() == {
        "refused": {"not_issued": 1},
        "removed": 0,
        "removals_failed": 0,
        "kept_without_livekit": 1,
        "reconciled": {"ghosts_closed": 0, "joins_found": 0, "sessions_ended": 0},
    }
