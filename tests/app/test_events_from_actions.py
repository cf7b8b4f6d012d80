"""The outbox's events of what callers do: a room created, changed, deleted, and a
participant removed. Each is written with its change, and only if the change
happened: a refused create or a removal LiveKit did not make reports nothing."""

from __future__ import annotations

from tests.app.test_moderation import ROOM, calls, join, open_room
from tests.conftest import Client, Running
from tests.fakes.livekit_server import FakeLiveKit
from tests.support.outbox import data_of, kinds, numbered
from tests.support.settings import AUTH


def _same_room(event_room: dict[str, object], answered: dict[str, object]) -> None:
    """The event's Room object is the route's, field for field (times as instants)."""
    assert set(event_room) == set(answered)
    for key, value in answered.items():
        if key.endswith("_at"):
            assert str(event_room[key]).replace("Z", "+00:00")[:19] == str(value)[:19], key
        else:
            assert event_room[key] == value, key


async def test_room_created_updated_deleted(running: Running, client: Client) -> None:
    created = await client.post(
        "/v1/rooms", json={"name": "lounge", "max_participants": 5}, headers=AUTH
    )
    assert created.status_code == 201
    again = await client.post("/v1/rooms", json={"name": "lounge"}, headers=AUTH)
    assert again.status_code == 409  # refused: no second room.created
    patched = await client.patch(
        "/v1/rooms/lounge", json={"max_participants": 7, "metadata": "m"}, headers=AUTH
    )
    assert patched.status_code == 200
    assert (await client.delete("/v1/rooms/lounge", headers=AUTH)).status_code == 204
    events = await numbered(running)
    assert kinds(events, "lounge") == ["room.created", "room.updated", "room.deleted"]
    (made,) = data_of(events, "room.created")
    _same_room(made["room"], await created.get_json())
    (changed,) = data_of(events, "room.updated")
    _same_room(changed["room"], await patched.get_json())
    (gone,) = data_of(events, "room.deleted")
    assert gone["room"]["name"] == "lounge"
    assert gone["room"]["max_participants"] == 7


async def test_a_removal_is_reported_once_it_is_made(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = await open_room(mirrored)
    await join(mirrored, fake_livekit, "alice")
    await join(mirrored, fake_livekit, "bob")
    # LiveKit refuses: alice's tokens are revoked, but she was not removed.
    fake_livekit.fail_next("RemoveParticipant", "internal")
    refused = await client.post(f"/v1/rooms/{ROOM}/participants/alice/remove", headers=AUTH)
    assert refused.status_code == 503
    assert data_of(await numbered(mirrored), "participant.removed") == []
    removed = await client.post(
        f"/v1/rooms/{ROOM}/participants/bob/remove",
        json={"ban": True, "reason": "spam"},
        headers=AUTH,
    )
    assert removed.status_code == 204
    assert calls(fake_livekit, "RemoveParticipant")[-1] == (ROOM, "bob")
    assert data_of(await numbered(mirrored), "participant.removed") == [
        {"room": ROOM, "identity": "bob", "reason": "spam", "banned": True, "by": "moderation"}
    ]


async def test_a_removal_livekit_found_already_gone_is_not_reported(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    """LiveKit's not_found counts as done (the answer is 204), but nobody was
    removed by it: no participant.removed."""
    client = await open_room(mirrored)
    await join(mirrored, fake_livekit, "carol")
    fake_livekit.fail_next("RemoveParticipant", "not_found")
    response = await client.post(f"/v1/rooms/{ROOM}/participants/carol/remove", headers=AUTH)
    assert response.status_code == 204
    assert data_of(await numbered(mirrored), "participant.removed") == []
