"""Join tokens: content verified with livekit-api, seats, exact capacity under concurrency."""

from __future__ import annotations

import asyncio
import datetime as dt

import jwt
import pytest
from livekit import api

from tests.conftest import Client, Running, app_running
from tests.fakes.livekit_server import FakeLiveKit
from tests.support.clock import FakeClock
from tests.support.settings import AUTH, LIVEKIT_KEY, LIVEKIT_SECRET, make_settings


async def make_room(client: Client, name: str, **fields: object) -> None:
    response = await client.post("/v1/rooms", json={"name": name, **fields}, headers=AUTH)
    assert response.status_code == 201, await response.get_data(as_text=True)


async def token(client: Client, room: str, identity: str, **fields: object) -> tuple[int, dict]:
    response = await client.post(
        f"/v1/rooms/{room}/token", json={"identity": identity, **fields}, headers=AUTH
    )
    return response.status_code, await response.get_json()


def verify(jwt: str) -> api.Claims:
    return api.TokenVerifier(LIVEKIT_KEY, LIVEKIT_SECRET).verify(jwt)


async def test_token_content_verifies_with_livekit(client: Client) -> None:
    await make_room(client, "standup", max_participants=9, empty_timeout=300, metadata="m1")
    status, body = await token(
        client,
        "standup",
        "alice",
        name="Alice",
        metadata='{"wallet": "0xabc"}',
        attributes={"team": "blue"},
        ttl_seconds=900,
    )
    assert status == 200
    assert body["identity"] == "alice"
    assert body["room"] == "standup"
    claims = verify(body["token"])
    assert claims.identity == "alice"
    assert claims.name == "Alice"
    assert claims.metadata == '{"wallet": "0xabc"}'
    assert claims.attributes == {"team": "blue"}
    assert claims.video is not None
    assert claims.video.room == "standup"
    assert claims.video.room_join is True
    assert claims.video.can_publish is True
    assert not claims.video.room_admin
    assert claims.room_config is not None
    assert claims.room_config.name == "standup"
    assert claims.room_config.max_participants == 9
    assert claims.room_config.empty_timeout == 300
    assert claims.room_config.departure_timeout == 20
    assert claims.room_config.metadata == "m1"
    expires = dt.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    now = dt.datetime.now(dt.UTC)
    assert dt.timedelta(seconds=880) < expires - now <= dt.timedelta(seconds=901)


async def test_token_issuer_and_signature_are_livekits(client: Client) -> None:
    await make_room(client, "signed-room")
    _, body = await token(client, "signed-room", "bob")
    with pytest.raises(jwt.InvalidSignatureError):
        api.TokenVerifier(LIVEKIT_KEY, "another-secret-0123456789-0123456789").verify(body["token"])
    with pytest.raises(jwt.InvalidIssuerError):
        api.TokenVerifier("other-key", LIVEKIT_SECRET).verify(body["token"])


@pytest.mark.parametrize(
    ("role", "admin", "publish", "subscribe", "data"),
    [
        ("host", True, True, True, True),
        ("speaker", False, True, True, True),
        ("viewer", False, False, True, True),
    ],
)
async def test_grants_by_role(
    client: Client, role: str, admin: bool, publish: bool, subscribe: bool, data: bool
) -> None:
    await make_room(client, "roles-room")
    status, body = await token(client, "roles-room", "carol", role=role)
    assert status == 200
    video = verify(body["token"]).video
    assert video is not None
    assert bool(video.room_admin) is admin
    assert video.can_publish is publish
    assert video.can_subscribe is subscribe
    assert video.can_publish_data is data
    assert video.room == "roles-room"


async def test_default_ttl_is_ten_minutes(client: Client) -> None:
    await make_room(client, "ttl-room")
    _, body = await token(client, "ttl-room", "dave")
    verify(body["token"])  # a valid LiveKit token first
    payload = jwt.decode(body["token"], options={"verify_signature": False})
    assert payload["exp"] - payload["nbf"] == 600


async def test_unknown_room_is_404(client: Client) -> None:
    status, body = await token(client, "no-such-room", "erin")
    assert status == 404
    assert body["code"] == "room_not_found"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"identity": ""}, "identity"),
        ({"identity": "x" * 257}, "identity"),
        ({"identity": "ok", "role": "owner"}, "role"),
        ({"identity": "ok", "ttl_seconds": 5}, "ttl_seconds"),
        ({"identity": "ok", "ttl_seconds": 10**7}, "ttl_seconds"),
        ({"identity": "ok", "metadata": "m" * 9000}, "metadata"),
        ({"identity": "ok", "attributes": {f"k{i}": "v" for i in range(40)}}, "attributes"),
        ({"identity": "ok", "attributes": {"k": "v" * 9000}}, "attributes"),
        ({"identity": "ok", "attributes": {"k": 5}}, "attributes"),
        ({}, "identity"),
    ],
)
async def test_bad_input_is_422_and_reserves_no_seat(
    client: Client, fields: dict[str, object], field: str
) -> None:
    await make_room(client, "tiny-room", max_participants=1)
    response = await client.post("/v1/rooms/tiny-room/token", json=fields, headers=AUTH)
    assert response.status_code == 422
    body = await response.get_json()
    assert body["code"] == "validation_error"
    assert field in body["detail"]
    # The single seat is still free.
    status, _ = await token(client, "tiny-room", "the-one")
    assert status == 200


async def test_same_identity_reuses_its_seat(client: Client) -> None:
    await make_room(client, "two-seats", max_participants=2)
    first = await token(client, "two-seats", "frank")
    again = await token(client, "two-seats", "frank")
    assert first[0] == again[0] == 200
    assert (await token(client, "two-seats", "grace"))[0] == 200
    status, body = await token(client, "two-seats", "heidi")
    assert status == 409
    assert body["code"] == "room_full"
    assert (await token(client, "two-seats", "frank"))[0] == 200


async def test_seats_expire_after_the_hold(running: Running, clock: FakeClock) -> None:
    client = running.client()
    await make_room(client, "hold-room", max_participants=1)
    assert (await token(client, "hold-room", "ivan"))[0] == 200
    assert (await token(client, "hold-room", "judy"))[0] == 409
    clock.advance(running.services.settings.seat_hold_seconds - 1)
    assert (await token(client, "hold-room", "judy"))[0] == 409
    clock.advance(2)
    assert (await token(client, "hold-room", "judy"))[0] == 200


async def test_500_simultaneous_requests_give_exactly_50_tokens(client: Client) -> None:
    await make_room(client, "burst-room", max_participants=50)
    responses = await asyncio.gather(
        *(
            client.post("/v1/rooms/burst-room/token", json={"identity": f"user-{i}"}, headers=AUTH)
            for i in range(500)
        )
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 50
    assert statuses.count(409) == 450
    bodies = [await r.get_json() for r in responses if r.status_code == 409]
    assert {b["code"] for b in bodies} == {"room_full"}
    identities = {
        verify((await r.get_json())["token"]).identity for r in responses if r.status_code == 200
    }
    assert len(identities) == 50


async def test_bursts_over_many_rooms_are_each_exact(client: Client) -> None:
    rooms = [f"multi-{i}" for i in range(10)]
    for name in rooms:
        await make_room(client, name, max_participants=7)
    requests = [
        client.post(f"/v1/rooms/{name}/token", json={"identity": f"u{i}"}, headers=AUTH)
        for i in range(30)
        for name in rooms
    ]
    responses = await asyncio.gather(*requests)
    per_room: dict[str, list[int]] = {name: [] for name in rooms}
    for i, response in enumerate(responses):
        per_room[rooms[i % len(rooms)]].append(response.status_code)
    for name, statuses in per_room.items():
        assert statuses.count(200) == 7, name
        assert statuses.count(409) == 23, name


async def test_the_same_identity_asking_again_needs_no_database(running: Running) -> None:
    """A seat held is served from memory: the database can be gone."""
    client = running.client()
    await make_room(client, "memory-room")
    assert (await token(client, "memory-room", "warm-up"))[0] == 200
    from app.database import close_database

    await close_database()
    assert (await token(client, "memory-room", "warm-up"))[0] == 200


async def test_a_new_seat_that_cannot_be_stored_gives_no_token(running: Running) -> None:
    """Durable first: without the database, a new identity's seat cannot be kept, so 503."""
    client = running.client()
    await make_room(client, "durable-room")
    from app.database import close_database

    await close_database()
    status, body = await token(client, "durable-room", "no-db")
    assert status == 503
    assert body["code"] == "database_unavailable"


async def test_requests_for_rooms_that_do_not_exist_leave_no_actor(running: Running) -> None:
    client = running.client()
    for n in range(50):
        response = await client.post(
            f"/v1/rooms/no-room-{n}/token", json={"identity": "alice"}, headers=AUTH
        )
        assert response.status_code == 404
        assert (
            await client.get(f"/v1/rooms/no-room-{n}/participants", headers=AUTH)
        ).status_code == 404
    assert len(running.services.rooms) == 0
    # A real room keeps its actor (it holds a seat now).
    assert (
        await client.post("/v1/rooms", json={"name": "real-room"}, headers=AUTH)
    ).status_code == 201
    token = await client.post("/v1/rooms/real-room/token", json={"identity": "a"}, headers=AUTH)
    assert token.status_code == 200
    assert "real-room" in running.services.rooms


@pytest.mark.parametrize(
    ("livekit_url", "public_url", "answered"),
    [
        ("", "", ""),
        ("", "wss://lk.example.com", "wss://lk.example.com"),
        # The server's own RoomService calls go to an internal name; browsers get the other.
        ("UNUSED", "wss://lk.example.com", "wss://lk.example.com"),
        ("UNUSED", "", "UNUSED"),
    ],
)
async def test_the_token_carries_the_public_livekit_url(
    database_url: str, clock: FakeClock, livekit_url: str, public_url: str, answered: str
) -> None:
    unused = FakeLiveKit.unused_url()  # nothing listens: room creation is not blocked
    settings = make_settings(
        database_url,
        livekit_url=unused if livekit_url == "UNUSED" else livekit_url,
        livekit_public_url=public_url,
        livekit_timeout_seconds=0.5,
    )
    async with app_running(settings, clock) as running:
        client = running.client()
        await make_room(client, "public-url")
        status, body = await token(client, "public-url", "alice")
    assert status == 200
    assert body["url"] == (unused if answered == "UNUSED" else answered)
