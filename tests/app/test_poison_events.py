"""Events that can never apply cost their own attempts, never their room's later events.

Each is delivered signed, as LiveKit would, and followed by normal events for
the same room, which must apply; after WEBHOOK_MAX_ATTEMPTS the bad one is
kept, failed, with its error, and the room's actor was never restarted.
"""

from __future__ import annotations

import pytest
from livekit.protocol.webhook import WebhookEvent

from models import ParticipantSession, RoomSession, WebhookInbox
from tests.app.test_webhooks import deliver, live_identities, make_room, settle
from tests.conftest import app_running
from tests.support.clock import FakeClock
from tests.support.settings import AUTH, make_settings
from tests.support.webhooks import event, participant, room_info

ROOM = "poison-room"
SID = "RM_poison"
INT64_MAX = 2**63 - 1


def _poison(kind: str) -> WebhookEvent:
    room = room_info(ROOM, SID)
    match kind:
        case "joined_at_2_62":
            return event(
                "participant_joined", room, who=participant("zed", "PA_z", joined_at=2**62)
            )
        case "created_at_int64_max":
            return event(
                "participant_joined", room, who=participant("zed", "PA_z"), created_at=INT64_MAX
            )
        case "nul_in_identity":
            return event("participant_joined", room, who=participant("z\x00d", "PA_z"))
        case _:
            raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["joined_at_2_62", "created_at_int64_max", "nul_in_identity"])
async def test_a_poison_event_is_kept_failed_and_the_room_goes_on(
    database_url: str, clock: FakeClock, kind: str
) -> None:
    settings = make_settings(database_url, webhook_max_attempts=2)
    async with app_running(settings, clock) as running:
        client = running.client()
        await make_room(client, ROOM)
        room = room_info(ROOM, SID)
        assert await deliver(client, event("room_started", room)) == 200
        poison = _poison(kind)
        assert await deliver(client, poison) == 200  # stored: it is LiveKit's, signed
        assert (
            await deliver(client, event("participant_joined", room, who=participant("amy", "PA_a")))
            == 200
        )
        await settle(running, ROOM)
        assert await live_identities(client, ROOM) == ["amy"]
        await settle(running, ROOM)  # the second and last attempt
        assert (
            await deliver(client, event("participant_joined", room, who=participant("bo", "PA_b")))
            == 200
        )
        await settle(running, ROOM)
        assert await live_identities(client, ROOM) == ["amy", "bo"]
        row = await WebhookInbox.get(event_id=poison.id)
        assert (row.processed_at, row.attempts) == (None, 2)
        assert row.last_error
        report = await (await client.get("/v1/ops/webhooks", headers=AUTH)).get_json()
        assert (report["pending"], report["failed"]) == (0, 1)
        assert running.services.rooms.total_restarts == 0
        state = await (await client.get(f"/v1/rooms/{ROOM}", headers=AUTH)).get_json()
        assert state["num_participants"] == 2


async def test_a_livekit_room_name_longer_than_ours_applies_by_sid(
    database_url: str, clock: FakeClock
) -> None:
    """51-128 characters: no room row can have it, its sessions are kept like any room's."""
    name = "L" * 100
    async with app_running(make_settings(database_url), clock) as running:
        client = running.client()
        room = room_info(name, "RM_long")
        assert await deliver(client, event("room_started", room)) == 200
        assert (
            await deliver(client, event("participant_joined", room, who=participant("al", "PA_l")))
            == 200
        )
        await settle(running, name)
        await settle(running, name)
        assert (await RoomSession.get(sid="RM_long")).room_name == name
        assert (await ParticipantSession.get(sid="PA_l")).left_at is None
        assert await WebhookInbox.filter(processed_at=None).count() == 0
        assert running.services.rooms.total_restarts == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/rooms/no-such-room/token"),
        ("GET", "/v1/rooms/no-such-room/participants"),
        ("PATCH", "/v1/rooms/no-such-room"),
        ("DELETE", "/v1/rooms/no-such-room"),
    ],
)
async def test_a_request_for_an_unknown_room_leaves_no_actor(
    database_url: str, clock: FakeClock, method: str, path: str
) -> None:
    async with app_running(make_settings(database_url), clock) as running:
        client = running.client()
        body = {"identity": "x"} if path.endswith("token") else {"metadata": "m"}
        response = await client.open(path, method=method, headers=AUTH, json=body)
        assert response.status_code == 404
        assert (await response.get_json())["code"] == "room_not_found"
        assert "no-such-room" not in running.services.rooms
        assert running.services.rooms.snapshot() == []
