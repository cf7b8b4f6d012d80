"""What a wallet may do (DESIGN.md section 3, the permissions table), row by row; CORS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from livekit import api

from actors.room.protocol import (
    DeleteRoom,
    EndMeeting,
    ListParticipants,
    NotRoomManagerError,
    RemoveParticipant,
    RoomChanges,
    UpdateRoom,
)
from tests.conftest import Client, Running, app_running
from tests.support.clock import FakeClock
from tests.support.settings import AUTH, LIVEKIT_KEY, LIVEKIT_SECRET, make_settings
from tests.support.wallets import SIWE_DOMAIN, Wallet, sign_in

DAPP = "https://dapp.qari.test"


@pytest.fixture
async def app(database_url: str, clock: FakeClock) -> AsyncIterator[Running]:
    settings = make_settings(
        database_url, siwe_domain=SIWE_DOMAIN, wallet_max_rooms=2, cors_origins=f"{DAPP}, "
    )
    async with app_running(settings, clock) as instance:
        yield instance


async def two_wallets(client: Client, clock: FakeClock) -> tuple[Wallet, Wallet]:
    return await sign_in(client, clock.now()), await sign_in(client, clock.now())


async def create(client: Client, name: str, headers: dict[str, str], **fields: object) -> tuple:
    response = await client.post("/v1/rooms", json={"name": name, **fields}, headers=headers)
    return response.status_code, await response.get_json()


def claims(token: str) -> api.Claims:
    return api.TokenVerifier(LIVEKIT_KEY, LIVEKIT_SECRET).verify(token)


# -- create room ---------------------------------------------------------------------


async def test_a_wallet_owns_the_rooms_it_creates(app: Running, clock: FakeClock) -> None:
    client = app.client()
    alice, bob = await two_wallets(client, clock)
    status, room = await create(client, "alice-room", alice.auth)
    assert (status, room["owner"]) == (201, alice.address)
    status, room = await create(client, "alice-too", alice.auth, owner=alice.address.lower())
    assert (status, room["owner"]) == (201, alice.address)
    status, body = await create(client, "not-bobs", alice.auth, owner=bob.address)
    assert (status, body["code"]) == (403, "forbidden")


async def test_a_service_may_name_any_owner_stored_checksummed(
    app: Running, clock: FakeClock
) -> None:
    client = app.client()
    alice, _ = await two_wallets(client, clock)
    status, room = await create(client, "given", AUTH, owner=alice.address.lower())
    assert (status, room["owner"]) == (201, alice.address)
    status, room = await create(client, "unowned", AUTH)
    assert (status, room["owner"]) == (201, None)
    status, body = await create(client, "not-an-address", AUTH, owner="0x1234")
    assert (status, body["code"]) == (422, "validation_error")


async def test_a_wallet_may_own_at_most_wallet_max_rooms(app: Running, clock: FakeClock) -> None:
    client = app.client()
    alice, bob = await two_wallets(client, clock)
    results = await asyncio.gather(*(create(client, f"burst-{i}", alice.auth) for i in range(6)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [201, 201, 409, 409, 409, 409]
    assert {body["code"] for status, body in results if status == 409} == {"room_limit"}
    # The limit is per owner, and a service is not limited.
    assert (await create(client, "bob-room", bob.auth))[0] == 201
    assert (await create(client, "service-room", AUTH, owner=alice.address))[0] == 201


# -- list, get -----------------------------------------------------------------------


async def test_a_wallet_lists_and_reads_any_room(app: Running, clock: FakeClock) -> None:
    client = app.client()
    alice, _ = await two_wallets(client, clock)
    await create(client, "public-room", AUTH)
    assert (await client.get("/v1/rooms", headers=alice.auth)).status_code == 200
    assert (await client.get("/v1/rooms/public-room", headers=alice.auth)).status_code == 200


# -- owner-only routes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "ok"),
    [
        ("PATCH", "/v1/rooms/owned", {"metadata": "x"}, 200),
        ("GET", "/v1/rooms/owned/participants", None, 200),
        ("GET", "/v1/rooms/owned/sessions", None, 200),
        # Moderation: the owner passes the gate (without LIVEKIT_URL the
        # LiveKit actions then answer 503, the ban list needs only the database).
        ("GET", "/v1/rooms/owned/bans", None, 200),
        ("DELETE", "/v1/rooms/owned/bans/someone", None, 404),
        ("POST", "/v1/rooms/owned/end", None, 503),
        ("POST", "/v1/rooms/owned/participants/someone/mute", {}, 503),
        ("DELETE", "/v1/rooms/owned", None, 204),
    ],
)
async def test_owner_only_routes(
    app: Running, clock: FakeClock, method: str, path: str, body: object, ok: int
) -> None:
    client = app.client()
    alice, bob = await two_wallets(client, clock)
    assert (await create(client, "owned", alice.auth))[0] == 201
    refused = await client.open(path, method=method, headers=bob.auth, json=body)
    assert refused.status_code == 403
    assert (await refused.get_json())["code"] == "forbidden"
    assert (await client.open(path, method=method, headers=alice.auth, json=body)).status_code == ok
    await create(client, "owned", alice.auth)
    assert (await client.open(path, method=method, headers=AUTH, json=body)).status_code == ok


async def test_a_wallet_cannot_manage_a_room_without_owner(app: Running, clock: FakeClock) -> None:
    client = app.client()
    alice, _ = await two_wallets(client, clock)
    await create(client, "services-room", AUTH)
    response = await client.delete("/v1/rooms/services-room", headers=alice.auth)
    assert (response.status_code, (await response.get_json())["code"]) == (403, "forbidden")
    response = await client.delete("/v1/rooms/no-such-room", headers=alice.auth)
    assert response.status_code == 404


# -- token -----------------------------------------------------------------------------


async def token(client: Client, headers: dict[str, str], **fields: object) -> tuple[int, dict]:
    response = await client.post("/v1/rooms/meet/token", json=fields, headers=headers)
    return response.status_code, await response.get_json()


async def test_a_wallet_joins_as_its_own_address(app: Running, clock: FakeClock) -> None:
    client = app.client()
    alice, bob = await two_wallets(client, clock)
    await create(client, "meet", alice.auth)
    status, body = await token(client, bob.auth)
    assert (status, body["identity"]) == (200, bob.address)
    assert claims(body["token"]).identity == bob.address
    status, body = await token(client, bob.auth, identity=bob.address.lower())
    assert (status, body["identity"]) == (200, bob.address)
    for other in ("carol", alice.address):
        status, body = await token(client, bob.auth, identity=other)
        assert (status, body["code"]) == (403, "identity_mismatch")


async def test_only_the_owner_wallet_may_be_host(app: Running, clock: FakeClock) -> None:
    client = app.client()
    alice, bob = await two_wallets(client, clock)
    await create(client, "meet", alice.auth)
    status, body = await token(client, alice.auth, role="host")
    assert status == 200
    video = claims(body["token"]).video
    assert video is not None
    assert video.room_admin
    status, body = await token(client, bob.auth, role="host")
    assert (status, body["code"]) == (403, "forbidden")
    assert (await token(client, bob.auth, role="speaker"))[0] == 200


async def test_a_service_names_any_identity_and_role(app: Running, clock: FakeClock) -> None:
    client = app.client()
    alice, _ = await two_wallets(client, clock)
    await create(client, "meet", alice.auth)
    status, body = await token(client, AUTH, identity="carol", role="host")
    assert (status, body["identity"]) == (200, "carol")
    status, body = await token(client, AUTH)
    assert (status, body["code"]) == (422, "validation_error")


# -- ops --------------------------------------------------------------------------------


async def test_ops_are_for_services_only(app: Running, clock: FakeClock) -> None:
    client = app.client()
    alice, _ = await two_wallets(client, clock)
    for path in ("/v1/ops/actors", "/v1/ops/webhooks"):
        response = await client.get(path, headers=alice.auth)
        assert (response.status_code, (await response.get_json())["code"]) == (403, "forbidden")
        assert (await client.get(path, headers=AUTH)).status_code == 200


# -- CORS ---------------------------------------------------------------------------------


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }


async def test_a_preflight_from_the_dapp_is_allowed_without_credentials(app: Running) -> None:
    response = await app.client().options("/v1/rooms/meet/token", headers=preflight(DAPP))
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == DAPP
    allowed = {
        h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert allowed >= {"authorization", "content-type"}
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Origin" in response.headers["Vary"]


async def test_a_preflight_from_another_origin_gets_no_cors_headers(app: Running) -> None:
    response = await app.client().options(
        "/v1/rooms/meet/token", headers=preflight("https://evil.test")
    )
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Headers" not in response.headers


async def test_responses_to_the_dapp_carry_its_origin(app: Running, clock: FakeClock) -> None:
    client = app.client()
    response = await client.post("/v1/auth/nonce", headers={"Origin": DAPP})
    assert response.headers["Access-Control-Allow-Origin"] == DAPP
    refused = await client.get("/v1/rooms", headers={"Origin": DAPP})
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == DAPP
    other = await client.post("/v1/auth/nonce", headers={"Origin": "https://evil.test"})
    assert "Access-Control-Allow-Origin" not in other.headers


async def test_the_dapp_may_send_and_read_the_request_id(app: Running) -> None:
    """A script can quote the id of a failed request, and may send its own."""
    client = app.client()
    headers = {**preflight(DAPP), "Access-Control-Request-Headers": "x-request-id"}
    preflight_answer = await client.options("/v1/auth/nonce", headers=headers)
    allowed = preflight_answer.headers["Access-Control-Allow-Headers"].lower()
    assert "x-request-id" in {h.strip() for h in allowed.split(",")}
    response = await client.post("/v1/auth/nonce", headers={"Origin": DAPP, "X-Request-ID": "r-1"})
    assert response.headers["X-Request-ID"] == "r-1"
    exposed = response.headers["Access-Control-Expose-Headers"].lower()
    assert {"x-request-id", "retry-after", "www-authenticate"} <= {
        h.strip() for h in exposed.split(",")
    }


async def test_without_cors_origins_there_are_no_cors_headers(client: Client) -> None:
    response = await client.options("/v1/rooms", headers=preflight(DAPP))
    assert "Access-Control-Allow-Origin" not in response.headers
    response = await client.post("/v1/auth/nonce", headers={"Origin": DAPP})
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_the_room_actor_checks_the_manager_as_it_handles_the_message(
    app: Running, clock: FakeClock
) -> None:
    """The route's check reads the room's entry before the ask; the room may change
    hands before the actor handles it (deleted and created again by another
    wallet), so the actor checks the wallet against its own memory too."""
    client = app.client()
    alice, bob = await two_wallets(client, clock)
    assert (await create(client, "hands", bob.auth))[0] == 201
    rooms = app.services.rooms
    for message in (
        UpdateRoom(RoomChanges(metadata="mine now"), alice.address),
        DeleteRoom(alice.address),
        EndMeeting(alice.address),
        ListParticipants(alice.address),
        RemoveParticipant("x", True, None, alice.address),
    ):
        with pytest.raises(NotRoomManagerError):
            await rooms.ask("hands", message)
    assert (await rooms.ask("hands", UpdateRoom(RoomChanges(metadata="ok"), bob.address))).metadata
