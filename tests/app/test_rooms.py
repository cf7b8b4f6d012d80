"""The rooms API: every route, rule and status in the contract, mirrored to a fake LiveKit."""

from __future__ import annotations

import asyncio

import pytest
from eth_utils.address import to_checksum_address

from app.settings import Settings
from tests.conftest import Client, Running, app_running
from tests.fakes.livekit_server import FakeLiveKit
from tests.support.applied import apply_pending
from tests.support.clock import FakeClock
from tests.support.server import free_port
from tests.support.settings import AUTH, make_settings

ADDRESS = "0x52908400098527886E0F7030069857D2E4169EE7"


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Gated rooms need a configured chain (else 422). These tests are about the
    # rooms API, not chains: one that does not answer lets creation through unchecked.
    silent = f"http://127.0.0.1:{free_port()}"
    return make_settings(database_url, chain_rpc_urls=f"1={silent},137={silent}")


async def create(client: Client, name: str = "team-sync", **fields: object) -> dict[str, object]:
    response = await client.post("/v1/rooms", json={"name": name, **fields}, headers=AUTH)
    assert response.status_code == 201, await response.get_data(as_text=True)
    body: dict[str, object] = await response.get_json()
    return body


# -- create ------------------------------------------------------------------------


async def test_create_returns_the_room_with_defaults(client: Client) -> None:
    room = await create(client)
    assert room["name"] == "team-sync"
    assert room["access_type"] == "public"
    assert room["empty_timeout"] == 600
    assert room["departure_timeout"] == 20
    assert room["max_participants"] == 50
    assert room["status"] == "idle"
    assert room["num_participants"] == 0
    assert room["livekit_sid"] is None
    for field in ("id", "created_at", "updated_at", "token_address", "metadata"):
        assert field in room


async def test_create_with_trailing_slash(client: Client) -> None:
    response = await client.post("/v1/rooms/", json={"name": "slash-room"}, headers=AUTH)
    assert response.status_code == 201


async def test_duplicate_name_is_409(client: Client) -> None:
    await create(client, "dup-room")
    response = await client.post("/v1/rooms", json={"name": "dup-room"}, headers=AUTH)
    assert response.status_code == 409
    assert (await response.get_json())["code"] == "room_exists"


async def test_concurrent_creates_of_one_name_give_one_201_and_409s(client: Client) -> None:
    responses = await asyncio.gather(
        *(client.post("/v1/rooms", json={"name": "race-room"}, headers=AUTH) for _ in range(20))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "ab"}, "name"),
        ({"name": "x" * 51}, "name"),
        ({"name": "bad name!"}, "name"),
        ({"name": "okname", "access_type": "vip"}, "access_type"),
        ({"name": "okname", "empty_timeout": -1}, "empty_timeout"),
        ({"name": "okname", "empty_timeout": 10**9}, "empty_timeout"),
        ({"name": "okname", "departure_timeout": 999_999}, "departure_timeout"),
        ({"name": "okname", "max_participants": 0}, "max_participants"),
        ({"name": "okname", "max_participants": 100_001}, "max_participants"),
        ({"name": "okname", "metadata": "m" * 9000}, "metadata"),
        ({"name": "okname", "token_address": "0x123"}, "token_address"),
        ({"name": "okname", "nft_address": "0x" + "g" * 40}, "nft_address"),
        ({"name": "okname", "token_amount": "-5"}, "token_amount"),
        ({"name": "okname", "token_amount": "1.5"}, "token_amount"),
        ({"name": "okname", "access_type": "token", "token_amount": "5"}, "token_address"),
        (
            {"name": "okname", "access_type": "token", "token_address": ADDRESS},
            "token_amount",
        ),
        (
            {
                "name": "okname",
                "access_type": "token",
                "token_address": ADDRESS,
                "token_amount": "0",
            },
            "token_amount",
        ),
        ({"name": "okname", "access_type": "nft"}, "nft_address"),
        (
            {
                "name": "okname",
                "access_type": "nft",
                "nft_address": ADDRESS,
                "nft_standard": "erc1155",
            },
            "nft_token_id",
        ),
        ({"name": "okname", "nft_standard": "erc20"}, "nft_standard"),
        ({"name": "okname", "nft_token_id": "0x10"}, "nft_token_id"),
        ({"name": "okname", "nft_token_id": str(2**256)}, "nft_token_id"),
        ({"name": "okname", "token_amount": str(2**256)}, "token_amount"),
        ({"name": "okname", "chain_id": 0}, "chain_id"),
        ({"name": "okname", "chain_id": 2**53}, "chain_id"),
        ({}, "name"),
    ],
)
async def test_create_validation(client: Client, body: dict[str, object], field: str) -> None:
    response = await client.post("/v1/rooms", json=body, headers=AUTH)
    assert response.status_code == 422
    payload = await response.get_json()
    assert payload["code"] == "validation_error"
    assert field in payload["detail"] or any(field in str(e) for e in payload["errors"])
    listing = await (await client.get("/v1/rooms", headers=AUTH)).get_json()
    assert listing["items"] == []


async def test_token_and_nft_rooms_normalise_addresses(client: Client) -> None:
    token_room = await create(
        client,
        "token-room",
        access_type="token",
        token_address=ADDRESS,
        token_amount="1000000000000000000000",
    )
    # Stored EIP-55 checksummed, like every address (owners, identities).
    assert token_room["token_address"] == to_checksum_address(ADDRESS)
    assert token_room["token_amount"] == "1000000000000000000000"
    nft_room = await create(client, "nft-room", access_type="nft", nft_address=ADDRESS)
    assert nft_room["nft_address"] == to_checksum_address(ADDRESS)


async def test_gating_fields_default_and_round_trip(client: Client) -> None:
    plain = await create(client, "plain-room")
    assert (plain["chain_id"], plain["nft_standard"], plain["nft_token_id"]) == (1, "erc721", None)
    multi = await create(
        client,
        "multi-room",
        access_type="nft",
        nft_address=ADDRESS,
        nft_standard="erc1155",
        nft_token_id="000" + str(2**200),
        chain_id=137,
    )
    assert multi["chain_id"] == 137
    assert multi["nft_standard"] == "erc1155"
    assert multi["nft_token_id"] == str(2**200)  # one spelling
    read = await (await client.get("/v1/rooms/multi-room", headers=AUTH)).get_json()
    assert read == multi


async def test_patch_keeps_erc1155_rooms_with_a_token_id(client: Client) -> None:
    await create(
        client,
        "erc1155-room",
        access_type="nft",
        nft_address=ADDRESS,
        nft_standard="erc1155",
        nft_token_id="7",
    )
    cleared = await client.patch(
        "/v1/rooms/erc1155-room", json={"nft_token_id": None}, headers=AUTH
    )
    assert cleared.status_code == 422
    assert "nft_token_id" in (await cleared.get_json())["detail"]
    nulled = await client.patch("/v1/rooms/erc1155-room", json={"chain_id": None}, headers=AUTH)
    assert nulled.status_code == 422
    moved = await client.patch(
        "/v1/rooms/erc1155-room", json={"chain_id": 10, "nft_token_id": "8"}, headers=AUTH
    )
    assert moved.status_code == 200
    body = await moved.get_json()
    assert (body["chain_id"], body["nft_token_id"]) == (10, "8")


# -- read and list -------------------------------------------------------------------


async def test_get_room_and_404(client: Client) -> None:
    await create(client, "readable")
    response = await client.get("/v1/rooms/readable", headers=AUTH)
    assert response.status_code == 200
    assert (await response.get_json())["name"] == "readable"
    missing = await client.get("/v1/rooms/nobody-here", headers=AUTH)
    assert missing.status_code == 404
    assert (await missing.get_json())["code"] == "room_not_found"


async def test_list_pages_in_a_stable_order(client: Client) -> None:
    names = [f"room-{i:02d}" for i in range(7)]
    for name in names:
        await create(client, name)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        response = await client.get("/v1/rooms", query_string=query, headers=AUTH)
        assert response.status_code == 200
        page = await response.get_json()
        seen += [item["name"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == names
    assert pages == 3


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "abc"}, {"cursor": "%%%"}])
async def test_list_rejects_bad_paging(client: Client, query: dict[str, str]) -> None:
    response = await client.get("/v1/rooms", query_string=query, headers=AUTH)
    assert response.status_code == 422
    assert (await response.get_json())["code"] == "validation_error"


# -- patch ---------------------------------------------------------------------------


async def test_patch_changes_only_what_is_sent(client: Client) -> None:
    await create(client, "patchable", metadata="old")
    response = await client.patch("/v1/rooms/patchable", json={"max_participants": 5}, headers=AUTH)
    assert response.status_code == 200
    body = await response.get_json()
    assert body["max_participants"] == 5
    assert body["metadata"] == "old"
    again = await (await client.get("/v1/rooms/patchable", headers=AUTH)).get_json()
    assert again["max_participants"] == 5


async def test_patch_checks_access_rules_against_the_whole_room(client: Client) -> None:
    await create(client, "public-room")
    response = await client.patch(
        "/v1/rooms/public-room", json={"access_type": "nft"}, headers=AUTH
    )
    assert response.status_code == 422
    assert "nft_address" in (await response.get_json())["detail"]
    ok = await client.patch(
        "/v1/rooms/public-room", json={"access_type": "nft", "nft_address": ADDRESS}, headers=AUTH
    )
    assert ok.status_code == 200


async def test_patch_unknown_room_is_404(client: Client) -> None:
    response = await client.patch("/v1/rooms/nope-room", json={"metadata": "x"}, headers=AUTH)
    assert response.status_code == 404


async def test_patch_validation(client: Client) -> None:
    await create(client, "patch-valid")
    response = await client.patch(
        "/v1/rooms/patch-valid", json={"max_participants": -3}, headers=AUTH
    )
    assert response.status_code == 422


async def test_patch_reaches_the_live_actor(client: Client) -> None:
    """A lowered max_participants applies to the very next token request."""
    await create(client, "shrinking", max_participants=3)
    for who in ("a", "b"):
        assert (
            await client.post("/v1/rooms/shrinking/token", json={"identity": who}, headers=AUTH)
        ).status_code == 200
    await client.patch("/v1/rooms/shrinking", json={"max_participants": 2}, headers=AUTH)
    response = await client.post("/v1/rooms/shrinking/token", json={"identity": "c"}, headers=AUTH)
    assert response.status_code == 409
    assert (await response.get_json())["code"] == "room_full"


# -- delete --------------------------------------------------------------------------


async def test_delete_then_404(client: Client) -> None:
    await create(client, "doomed")
    response = await client.delete("/v1/rooms/doomed", headers=AUTH)
    assert response.status_code == 204
    assert (await client.get("/v1/rooms/doomed", headers=AUTH)).status_code == 404
    assert (await client.delete("/v1/rooms/doomed", headers=AUTH)).status_code == 404
    token = await client.post("/v1/rooms/doomed/token", json={"identity": "a"}, headers=AUTH)
    assert token.status_code == 404


# -- mirroring to LiveKit ------------------------------------------------------------


async def test_create_mirrors_to_livekit(mirrored: Running, fake_livekit: FakeLiveKit) -> None:
    room = await create(mirrored.client(), "mirrored", max_participants=7, metadata="hello")
    created = fake_livekit.rooms["mirrored"]
    assert room["livekit_sid"] == created.sid
    request = fake_livekit.calls_to("CreateRoom")[0]
    assert request.max_participants == 7  # type: ignore[attr-defined]
    assert request.empty_timeout == 600  # type: ignore[attr-defined]
    assert request.departure_timeout == 20  # type: ignore[attr-defined]
    assert request.metadata == "hello"  # type: ignore[attr-defined]


@pytest.mark.parametrize("code", ["invalid_argument", "unauthenticated", "internal"])
async def test_create_refused_by_livekit_stores_nothing(
    mirrored: Running, fake_livekit: FakeLiveKit, code: str
) -> None:
    fake_livekit.fail_next("CreateRoom", code)
    client = mirrored.client()
    response = await client.post("/v1/rooms", json={"name": "refused"}, headers=AUTH)
    assert response.status_code == 503
    assert (await response.get_json())["code"] == "livekit_unavailable"
    assert (await client.get("/v1/rooms/refused", headers=AUTH)).status_code == 404
    # ... and the name is free for the next try.
    assert (
        await client.post("/v1/rooms", json={"name": "refused"}, headers=AUTH)
    ).status_code == 201


async def test_create_with_livekit_timing_out_still_creates(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    fake_livekit.hang_next("CreateRoom", 5)
    room = await create(mirrored.client(), "slow-livekit")
    assert room["livekit_sid"] is None


async def test_create_with_livekit_unreachable_still_creates(
    database_url: str, clock: FakeClock
) -> None:
    settings = make_settings(database_url, livekit_url=FakeLiveKit.unused_url())
    async with app_running(settings, clock) as running:
        room = await create(running.client(), "no-livekit")
        assert room["livekit_sid"] is None


async def test_delete_idle_room_tolerates_livekit_not_found(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = mirrored.client()
    await create(client, "idle-delete")
    del fake_livekit.rooms["idle-delete"]  # LiveKit closed it on its empty_timeout
    assert (await client.delete("/v1/rooms/idle-delete", headers=AUTH)).status_code == 204
    assert len(fake_livekit.calls_to("DeleteRoom")) == 1


async def test_delete_idle_room_refused_otherwise_keeps_the_row(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = mirrored.client()
    await create(client, "kept-room")
    fake_livekit.fail_next("DeleteRoom", "permission_denied")
    response = await client.delete("/v1/rooms/kept-room", headers=AUTH)
    assert response.status_code == 503
    assert (await client.get("/v1/rooms/kept-room", headers=AUTH)).status_code == 200


# -- live rooms: metadata and delete go to LiveKit first -----------------------------


async def make_live(running: Running, name: str) -> None:
    from tests.support.webhooks import event, participant, room_info, signed

    client = running.client()
    # Ann holds a token of ours, so her join is admitted (tests/app/test_admission.py).
    response = await client.post(f"/v1/rooms/{name}/token", json={"identity": "ann"}, headers=AUTH)
    assert response.status_code == 200
    for message in (
        event("room_started", room_info(name, f"RM_{name}")),
        event(
            "participant_joined", room_info(name, f"RM_{name}"), who=participant("ann", "PA_ann")
        ),
    ):
        body, headers = signed(message)
        response = await client.post("/v1/livekit/webhook", data=body, headers=headers)
        assert response.status_code == 200

    await apply_pending(running.services.rooms, name)
    state = await (await client.get(f"/v1/rooms/{name}", headers=AUTH)).get_json()
    assert state["status"] == "live"


async def test_patch_metadata_of_a_live_room_updates_livekit(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = mirrored.client()
    await create(client, "live-meta", metadata="before")
    await make_live(mirrored, "live-meta")
    response = await client.patch("/v1/rooms/live-meta", json={"metadata": "after"}, headers=AUTH)
    assert response.status_code == 200
    assert fake_livekit.rooms["live-meta"].metadata == "after"


async def test_patch_metadata_refused_by_livekit_changes_nothing(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = mirrored.client()
    await create(client, "live-meta-no", metadata="before")
    await make_live(mirrored, "live-meta-no")
    fake_livekit.fail_next("UpdateRoomMetadata", "internal")
    response = await client.patch(
        "/v1/rooms/live-meta-no", json={"metadata": "after", "max_participants": 3}, headers=AUTH
    )
    assert response.status_code == 503
    assert (await response.get_json())["code"] == "livekit_unavailable"
    state = await (await client.get("/v1/rooms/live-meta-no", headers=AUTH)).get_json()
    assert state["metadata"] == "before"
    assert state["max_participants"] == 50


async def test_delete_live_room_needs_livekit(mirrored: Running, fake_livekit: FakeLiveKit) -> None:
    client = mirrored.client()
    await create(client, "live-delete")
    await make_live(mirrored, "live-delete")
    fake_livekit.fail_next("DeleteRoom", "unavailable")
    assert (await client.delete("/v1/rooms/live-delete", headers=AUTH)).status_code == 503
    assert (await client.get("/v1/rooms/live-delete", headers=AUTH)).status_code == 200
    fake_livekit.hang_next("DeleteRoom", 5)
    assert (await client.delete("/v1/rooms/live-delete", headers=AUTH)).status_code == 503
    assert (await client.get("/v1/rooms/live-delete", headers=AUTH)).status_code == 200
    assert (await client.delete("/v1/rooms/live-delete", headers=AUTH)).status_code == 204
    assert "live-delete" not in fake_livekit.rooms


async def test_delete_idle_room_with_livekit_unreachable(
    database_url: str, clock: FakeClock
) -> None:
    settings = make_settings(database_url, livekit_url=FakeLiveKit.unused_url())
    async with app_running(settings, clock) as running:
        client = running.client()
        await create(client, "idle-offline")
        assert (await client.delete("/v1/rooms/idle-offline", headers=AUTH)).status_code == 204


async def test_delete_live_room_already_gone_from_livekit(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    """A DeleteRoom that timed out may still have succeeded: not_found later is success."""
    client = mirrored.client()
    await create(client, "gone-live")
    await make_live(mirrored, "gone-live")
    del fake_livekit.rooms["gone-live"]
    assert (await client.delete("/v1/rooms/gone-live", headers=AUTH)).status_code == 204


async def test_full_mailbox_is_503_with_retry_after(
    database_url: str, clock: FakeClock, fake_livekit: FakeLiveKit
) -> None:
    """While the room's actor waits on LiveKit, its bounded mailbox fills: 503, retry later."""
    settings = make_settings(
        database_url,
        livekit_url=fake_livekit.url,
        livekit_timeout_seconds=2.0,
        actor_mailbox_size=2,
    )
    async with app_running(settings, clock) as running:
        client = running.client()
        await create(client, "busy-room")
        await make_live(running, "busy-room")
        fake_livekit.hang_next("UpdateRoomMetadata", 0.5)
        patch = asyncio.ensure_future(
            client.patch("/v1/rooms/busy-room", json={"metadata": "new"}, headers=AUTH)
        )
        while not fake_livekit.calls_to("UpdateRoomMetadata"):
            await asyncio.sleep(0.01)  # until the actor is inside the LiveKit call
        responses = await asyncio.gather(
            *(
                client.post("/v1/rooms/busy-room/token", json={"identity": f"u{i}"}, headers=AUTH)
                for i in range(6)
            )
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200, 200, 503, 503, 503, 503]
        busy = next(r for r in responses if r.status_code == 503)
        assert busy.headers["Retry-After"]
        assert (await busy.get_json())["code"] == "busy"
        assert (await patch).status_code == 200


@pytest.mark.parametrize(
    "field", ["access_type", "empty_timeout", "departure_timeout", "max_participants"]
)
async def test_patch_cannot_null_a_required_field(client: Client, field: str) -> None:
    await create(client, "null-patch")
    response = await client.patch("/v1/rooms/null-patch", json={field: None}, headers=AUTH)
    assert response.status_code == 422
    assert field in (await response.get_json())["detail"]


async def test_patch_can_clear_metadata(client: Client) -> None:
    await create(client, "clear-meta", metadata="x")
    response = await client.patch("/v1/rooms/clear-meta", json={"metadata": None}, headers=AUTH)
    assert response.status_code == 200
    assert (await response.get_json())["metadata"] is None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/rooms/a%00b"),
        ("PATCH", "/v1/rooms/a%00b"),
        ("DELETE", "/v1/rooms/x"),
        ("POST", "/v1/rooms/bad%20name/token"),
        ("GET", "/v1/rooms/%C3%A9t%C3%A9-room/participants"),
        ("GET", "/v1/rooms/" + "n" * 60 + "/sessions"),
    ],
)
async def test_a_name_no_room_can_have_is_404(running: Running, method: str, path: str) -> None:
    client = running.client()
    response = await client.open(path, method=method, headers=AUTH, json={"identity": "a"})
    assert response.status_code == 404
    assert (await response.get_json())["code"] == "room_not_found"
    assert len(running.services.rooms) == 0  # no actor was woken for it
    unauthenticated = await client.open(path, method=method, json={})
    assert unauthenticated.status_code == 401


async def test_metadata_with_nul_is_422_on_every_database(client: Client) -> None:
    response = await client.post(
        "/v1/rooms", json={"name": "nul-room", "metadata": "a\u0000b"}, headers=AUTH
    )
    assert response.status_code == 422
    assert "metadata" in (await response.get_json())["detail"]
