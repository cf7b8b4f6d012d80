"""One identity, one spelling: an address in any case is the same identity everywhere.

And identities every route can reach (no `/`, `.` or `..`), attributes that
are Qari's refused in bodies, and no JSON boolean read as a number.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from livekit import api

from models.bans import BanRow, insert_ban
from tests.conftest import Client, Running, app_running
from tests.fakes.livekit_server import FakeLiveKit
from tests.support.applied import apply_pending
from tests.support.clock import FakeClock
from tests.support.settings import AUTH, LIVEKIT_KEY, LIVEKIT_SECRET, make_settings
from tests.support.wallets import SIWE_DOMAIN, sign_in
from tests.support.webhooks import event, participant, room_info, signed

ROOM = "agora"
ADDRESS = "0x52908400098527886E0F7030069857D2E4169EE7"


@pytest.fixture
async def app(database_url: str, clock: FakeClock) -> AsyncIterator[Running]:
    async with app_running(make_settings(database_url, siwe_domain=SIWE_DOMAIN), clock) as app:
        yield app


async def open_room(client: Client, **fields: object) -> None:
    response = await client.post("/v1/rooms", json={"name": ROOM, **fields}, headers=AUTH)
    assert response.status_code == 201, await response.get_json()


async def token(client: Client, identity: str, headers: dict[str, str] = AUTH) -> tuple[int, dict]:
    response = await client.post(
        f"/v1/rooms/{ROOM}/token", json={"identity": identity}, headers=headers
    )
    return response.status_code, await response.get_json()


async def test_a_ban_of_the_lower_case_address_bans_the_wallet(
    app: Running, clock: FakeClock
) -> None:
    client = app.client()
    await open_room(client)
    wallet = await sign_in(client, clock.now())
    lower = wallet.address.lower()
    response = await client.post(
        f"/v1/rooms/{ROOM}/participants/{lower}/remove", json={"ban": True}, headers=AUTH
    )
    assert response.status_code in (204, 503)  # 503: no LiveKit here, the ban is kept
    bans = await (await client.get(f"/v1/rooms/{ROOM}/bans", headers=AUTH)).get_json()
    assert [b["identity"] for b in bans["items"]] == [wallet.address]
    status, body = await token(client, wallet.address, wallet.auth)
    assert (status, body["code"]) == (403, "banned")
    # Lifted in another spelling, it is lifted.
    lifted = await client.delete(f"/v1/rooms/{ROOM}/bans/{lower.upper()[2:]}", headers=AUTH)
    assert lifted.status_code == 404  # not an address without its 0x: another identity
    lifted = await client.delete(f"/v1/rooms/{ROOM}/bans/{lower}", headers=AUTH)
    assert lifted.status_code == 204
    assert (await token(client, wallet.address, wallet.auth))[0] == 200


async def test_two_spellings_of_one_address_hold_one_seat(app: Running) -> None:
    client = app.client()
    await open_room(client, max_participants=1)
    status, first = await token(client, ADDRESS.lower())
    assert (status, first["identity"]) == (200, ADDRESS)
    status, second = await token(client, ADDRESS)  # the same identity: its seat again
    assert (status, second["identity"]) == (200, ADDRESS)
    claims = api.TokenVerifier(LIVEKIT_KEY, LIVEKIT_SECRET).verify(second["token"])
    assert claims.identity == ADDRESS
    assert (await token(client, "someone-else"))[0] == 409


async def test_a_join_reported_in_lower_case_is_the_checksummed_identity(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = mirrored.client()
    await open_room(client, max_participants=1)
    assert (await token(client, ADDRESS))[0] == 200
    info = room_info(ROOM, "RM_1")
    fake_livekit.join(ROOM, ADDRESS.lower())
    for message in (
        event("room_started", info),
        event("participant_joined", info, who=participant(ADDRESS.lower(), "PA_1")),
    ):
        body, headers = signed(message)
        assert (await client.post("/v1/livekit/webhook", data=body, headers=headers)).status_code
    await apply_pending(mirrored.services.rooms, ROOM)
    response = await client.get(f"/v1/rooms/{ROOM}/participants", headers=AUTH)
    assert [p["identity"] for p in (await response.get_json())["items"]] == [ADDRESS]
    assert mirrored.services.admission.refused == {}


@pytest.mark.parametrize("identity", ["a/b", "/", ".", ".."])
async def test_an_identity_no_route_could_name_is_422(app: Running, identity: str) -> None:
    client = app.client()
    await open_room(client)
    status, body = await token(client, identity)
    assert (status, body["code"]) == (422, "validation_error")


async def test_attributes_of_qaris_own_are_refused(app: Running) -> None:
    client = app.client()
    await open_room(client)
    response = await client.post(
        f"/v1/rooms/{ROOM}/token",
        json={"identity": "ann", "attributes": {"qari.grant": "forged", "team": "a"}},
        headers=AUTH,
    )
    body = await response.get_json()
    assert (response.status_code, body["code"]) == (422, "validation_error")
    assert "qari.grant" in str(body)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/rooms", {"name": "bool-room", "max_participants": True}),
        ("/v1/rooms", {"name": "bool-room", "empty_timeout": False}),
        ("/v1/rooms", {"name": "bool-room", "chain_id": True}),
        (f"/v1/rooms/{ROOM}/token", {"identity": "ann", "ttl_seconds": True}),
    ],
)
async def test_a_json_boolean_is_no_number(app: Running, path: str, body: dict) -> None:
    client = app.client()
    await open_room(client)
    response = await client.post(path, json=body, headers=AUTH)
    assert (response.status_code, (await response.get_json())["code"]) == (
        422,
        "validation_error",
    )
    listed = await (await client.get("/v1/rooms", headers=AUTH)).get_json()
    assert [room["name"] for room in listed["items"]] == [ROOM]


async def test_a_patch_with_a_boolean_changes_nothing(app: Running) -> None:
    client = app.client()
    await open_room(client)
    response = await client.patch(
        f"/v1/rooms/{ROOM}", json={"max_participants": True}, headers=AUTH
    )
    assert response.status_code == 422
    room = await (await client.get(f"/v1/rooms/{ROOM}", headers=AUTH)).get_json()
    assert room["max_participants"] == 50


async def test_a_ban_stored_in_lower_case_before_counts_and_lifts_in_any_case(
    database_url: str, clock: FakeClock
) -> None:
    """Rows written before identities had one spelling: the lower-case form of an
    address, as an earlier version stored it from the path."""
    settings = make_settings(database_url, siwe_domain=SIWE_DOMAIN)
    async with app_running(settings, clock) as first:
        client = first.client()
        await open_room(client)
        room_id = (await (await client.get(f"/v1/rooms/{ROOM}", headers=AUTH)).get_json())["id"]
        wallet = await sign_in(client, clock.now())
        async with first.services.database.transaction() as conn:
            await insert_ban(conn, room_id, BanRow(wallet.address.lower(), "old", clock.now()))
    async with app_running(settings, clock) as second:
        client = second.client()
        status, body = await token(client, wallet.address, wallet.auth)
        assert (status, body["code"]) == (403, "banned")
        bans = await (await client.get(f"/v1/rooms/{ROOM}/bans", headers=AUTH)).get_json()
        assert [b["identity"] for b in bans["items"]] == [wallet.address]
        lifted = await client.delete(f"/v1/rooms/{ROOM}/bans/{wallet.address}", headers=AUTH)
        assert lifted.status_code == 204
        assert (await token(client, wallet.address, wallet.auth))[0] == 200
