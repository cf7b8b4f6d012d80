"""FakeLiveKit driven by the real `livekit.api.LiveKitAPI` client, so the fake
is held to the client's actual wire format, auth and error decoding."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator

import aiohttp
import pytest
from jwt.warnings import InsecureKeyLengthWarning
from livekit.api import AccessToken, LiveKitAPI, TwirpError, VideoGrants
from livekit.protocol.models import ParticipantPermission, TrackInfo, TrackType
from livekit.protocol.room import (
    CreateRoomRequest,
    DeleteRoomRequest,
    ListParticipantsRequest,
    ListRoomsRequest,
    MuteRoomTrackRequest,
    RoomParticipantIdentity,
    UpdateParticipantRequest,
    UpdateRoomMetadataRequest,
)

from .livekit_server import FakeLiveKit

KEY = "test-key"
# >= 32 bytes: PyJWT warns on shorter HMAC keys and the project turns warnings into errors.
SECRET = "fake-livekit-test-secret-at-least-32-bytes"


@pytest.fixture
async def lk() -> AsyncIterator[FakeLiveKit]:
    async with FakeLiveKit(KEY, SECRET) as fake:
        yield fake


@pytest.fixture
async def client(lk: FakeLiveKit) -> AsyncIterator[LiveKitAPI]:
    api = LiveKitAPI(lk.url, KEY, SECRET, timeout=aiohttp.ClientTimeout(total=2))
    yield api
    await api.aclose()


def _bearer(grants: VideoGrants) -> dict[str, str]:
    token = AccessToken(KEY, SECRET).with_grants(grants).to_jwt()
    return {"Authorization": f"Bearer {token}"}


async def test_create_room_is_idempotent_by_name(lk: FakeLiveKit, client: LiveKitAPI) -> None:
    request = CreateRoomRequest(
        name="r1", empty_timeout=30, departure_timeout=5, max_participants=4, metadata="m"
    )
    room = await client.room.create_room(request)

    assert room.name == "r1"
    assert room.sid.startswith("RM_")
    assert len(room.sid) == 15
    assert room.sid[3:].isalnum()
    assert (room.empty_timeout, room.departure_timeout, room.max_participants) == (30, 5, 4)
    assert room.metadata == "m"
    assert room.creation_time > 0
    assert room.creation_time_ms // 1000 == room.creation_time
    assert lk.rooms["r1"] == room

    again = await client.room.create_room(CreateRoomRequest(name="r1", metadata="other"))
    assert again == room  # returned unchanged, not overwritten
    assert lk.calls_to("CreateRoom") == [request, CreateRoomRequest(name="r1", metadata="other")]


async def test_list_rooms_all_and_filtered(lk: FakeLiveKit, client: LiveKitAPI) -> None:
    for name in ("a", "b", "c"):
        await client.room.create_room(CreateRoomRequest(name=name))

    every = await client.room.list_rooms(ListRoomsRequest())
    some = await client.room.list_rooms(ListRoomsRequest(names=["c", "a", "zz"]))

    assert [r.name for r in every.rooms] == ["a", "b", "c"]
    assert sorted(r.name for r in some.rooms) == ["a", "c"]
    assert [name for name, _ in lk.calls] == ["CreateRoom"] * 3 + ["ListRooms"] * 2


async def test_update_room_metadata(lk: FakeLiveKit, client: LiveKitAPI) -> None:
    await client.room.create_room(CreateRoomRequest(name="r", metadata="old"))

    room = await client.room.update_room_metadata(
        UpdateRoomMetadataRequest(room="r", metadata="new")
    )

    assert room.metadata == "new"
    assert lk.rooms["r"].metadata == "new"


async def test_update_metadata_of_unknown_room_is_not_found(client: LiveKitAPI) -> None:
    with pytest.raises(TwirpError) as caught:
        await client.room.update_room_metadata(UpdateRoomMetadataRequest(room="nope"))
    assert (caught.value.code, caught.value.status) == ("not_found", 404)


async def test_delete_room_then_again_is_not_found(lk: FakeLiveKit, client: LiveKitAPI) -> None:
    await client.room.create_room(CreateRoomRequest(name="r"))

    await client.room.delete_room(DeleteRoomRequest(room="r"))
    assert lk.rooms == {}

    with pytest.raises(TwirpError) as caught:
        await client.room.delete_room(DeleteRoomRequest(room="r"))
    assert (caught.value.code, caught.value.status) == ("not_found", 404)


async def test_list_participants(client: LiveKitAPI) -> None:
    await client.room.create_room(CreateRoomRequest(name="r"))

    reply = await client.room.list_participants(ListParticipantsRequest(room="r"))
    assert list(reply.participants) == []

    with pytest.raises(TwirpError) as caught:
        await client.room.list_participants(ListParticipantsRequest(room="nope"))
    assert caught.value.code == "not_found"


async def test_unimplemented_method_is_bad_route(client: LiveKitAPI) -> None:
    with pytest.raises(TwirpError) as caught:
        await client.room.get_participant(RoomParticipantIdentity(room="r", identity="u"))
    assert (caught.value.code, caught.value.status) == ("bad_route", 404)


async def test_wrong_secret_is_unauthenticated(lk: FakeLiveKit) -> None:
    api = LiveKitAPI(lk.url, KEY, SECRET + "-wrong", timeout=aiohttp.ClientTimeout(total=2))
    try:
        with pytest.raises(TwirpError) as caught:
            await api.room.create_room(CreateRoomRequest(name="r"))
    finally:
        await api.aclose()
    assert (caught.value.code, caught.value.status) == ("unauthenticated", 401)
    assert lk.rooms == {}
    assert lk.calls == []  # rejected before the body is parsed


async def test_token_without_the_grant_is_permission_denied(lk: FakeLiveKit) -> None:
    token = AccessToken(KEY, SECRET).with_grants(VideoGrants(room_list=True)).to_jwt()
    admin_of_other = (
        AccessToken(KEY, SECRET).with_grants(VideoGrants(room_admin=True, room="other")).to_jwt()
    )
    list_only = LiveKitAPI.with_token(token, lk.url)
    wrong_room = LiveKitAPI.with_token(admin_of_other, lk.url)
    try:
        await list_only.room.list_rooms(ListRoomsRequest())  # the grant it has works
        with pytest.raises(TwirpError) as create_denied:
            await list_only.room.create_room(CreateRoomRequest(name="r"))
        with pytest.raises(TwirpError) as admin_denied:
            await wrong_room.room.update_room_metadata(UpdateRoomMetadataRequest(room="r"))
    finally:
        await list_only.aclose()
        await wrong_room.aclose()
    for caught in (create_denied, admin_denied):
        assert (caught.value.code, caught.value.status) == ("permission_denied", 403)
    assert lk.rooms == {}


async def test_default_dev_credentials_verify_even_when_warnings_are_errors() -> None:
    # The fake must not mistake PyJWT's short-key warning for a bad token.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        token = AccessToken("devkey", "secret").with_grants(VideoGrants(room_list=True)).to_jwt()
    async with FakeLiveKit() as lk:
        api = LiveKitAPI.with_token(token, lk.url)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                reply = await api.room.list_rooms(ListRoomsRequest())
        finally:
            await api.aclose()
    assert list(reply.rooms) == []


@pytest.mark.parametrize(
    ("code", "status"),
    [("already_exists", 409), ("invalid_argument", 400), ("internal", 500), ("unavailable", 503)],
)
async def test_fail_next_raises_that_twirp_error_once(
    lk: FakeLiveKit, client: LiveKitAPI, code: str, status: int
) -> None:
    lk.fail_next("CreateRoom", code, "boom")

    with pytest.raises(TwirpError) as caught:
        await client.room.create_room(CreateRoomRequest(name="r"))
    assert (caught.value.code, caught.value.message, caught.value.status) == (code, "boom", status)
    assert lk.rooms == {}
    assert len(lk.calls_to("CreateRoom")) == 1  # injected failures are still recorded

    room = await client.room.create_room(CreateRoomRequest(name="r"))
    assert lk.rooms == {"r": room}


async def test_fail_next_times_and_status_override(lk: FakeLiveKit, client: LiveKitAPI) -> None:
    lk.fail_next("ListRooms", "resource_exhausted", status=418, times=2)

    for _ in range(2):
        with pytest.raises(TwirpError) as caught:
            await client.room.list_rooms(ListRoomsRequest())
        assert (caught.value.code, caught.value.status) == ("resource_exhausted", 418)
    await client.room.list_rooms(ListRoomsRequest())
    assert len(lk.calls_to("ListRooms")) == 3


async def test_controls_reject_typos() -> None:
    fake = FakeLiveKit()
    with pytest.raises(ValueError, match="unknown RoomService method"):
        fake.fail_next("CreateRooms", "internal")
    with pytest.raises(ValueError, match="unknown Twirp code"):
        fake.fail_next("CreateRoom", "kaput")
    with pytest.raises(ValueError, match="unknown RoomService method"):
        fake.hang_next("createRoom", 1)


async def test_livekit_api_timeout_does_not_bound_room_calls(
    lk: FakeLiveKit, client: LiveKitAPI
) -> None:
    """Canary: livekit-api passes `timeout=None` per request, which aiohttp reads as
    "no timeout", so LiveKitAPI(timeout=...) is silently ignored. Callers must put
    their own deadline (asyncio.timeout) around LiveKit calls."""
    api = LiveKitAPI(lk.url, KEY, SECRET, timeout=aiohttp.ClientTimeout(total=0.05))
    lk.hang_next("CreateRoom", 0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        room = await api.room.create_room(CreateRoomRequest(name="slow"))
    finally:
        await api.aclose()
    assert loop.time() - started >= 0.25
    assert room.name == "slow"


async def test_hang_trips_a_caller_deadline_and_does_not_block_stop() -> None:
    lk = FakeLiveKit(KEY, SECRET)
    await lk.start()
    api = LiveKitAPI(lk.url, KEY, SECRET)
    try:
        lk.hang_next("CreateRoom", 30)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await api.room.create_room(CreateRoomRequest(name="slow"))
        # The server keeps serving other calls while one handler hangs.
        assert list((await api.room.list_rooms(ListRoomsRequest())).rooms) == []
        assert [name for name, _ in lk.calls] == ["CreateRoom", "ListRooms"]
    finally:
        await api.aclose()
        loop = asyncio.get_running_loop()
        started = loop.time()
        await lk.stop()
        stop_took = loop.time() - started
    assert stop_took < 1
    assert lk.rooms == {}  # a hang cut short by stop() changes nothing


async def test_unused_url_is_connection_refused() -> None:
    api = LiveKitAPI(FakeLiveKit.unused_url(), KEY, SECRET)
    try:
        with pytest.raises(aiohttp.ClientConnectorError):
            await api.room.list_rooms(ListRoomsRequest())
    finally:
        await api.aclose()


async def test_json_request_gets_json_answer(lk: FakeLiveKit) -> None:
    url = f"{lk.url}/twirp/livekit.RoomService/CreateRoom"
    async with aiohttp.ClientSession() as http:
        headers = _bearer(VideoGrants(room_create=True))
        async with http.post(
            url, json={"name": "j", "emptyTimeout": 7, "unknownField": 1}, headers=headers
        ) as resp:
            assert resp.status == 200
            assert resp.content_type == "application/json"
            body = await resp.json()
        async with http.post(
            f"{lk.url}/twirp/livekit.RoomService/DeleteRoom", json={"room": "x"}, headers=headers
        ) as missing:
            assert missing.status == 404
            assert await missing.json() == {
                "code": "not_found",
                "msg": "requested room does not exist",
            }

    assert body["name"] == "j"
    assert body["empty_timeout"] == 7
    assert body["sid"] == lk.rooms["j"].sid
    assert lk.calls_to("CreateRoom") == [CreateRoomRequest(name="j", empty_timeout=7)]


@pytest.mark.parametrize(
    ("method", "content_type", "body", "auth", "status", "code"),
    [
        ("POST", "application/protobuf", b"\xff\xff\xff", True, 400, "malformed"),
        ("POST", "application/json", b"{not json", True, 400, "malformed"),
        ("POST", "application/protobuf", b"", False, 401, "unauthenticated"),
        ("POST", "text/plain", b"", True, 404, "bad_route"),
        ("GET", "application/protobuf", b"", True, 404, "bad_route"),
    ],
)
async def test_raw_protocol_errors(
    lk: FakeLiveKit,
    method: str,
    content_type: str,
    body: bytes,
    auth: bool,
    status: int,
    code: str,
) -> None:
    headers = {
        "Content-Type": content_type,
        **(_bearer(VideoGrants(room_list=True)) if auth else {}),
    }
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method, f"{lk.url}/twirp/livekit.RoomService/ListRooms", data=body, headers=headers
        ) as resp,
    ):
        assert resp.status == status
        assert (await resp.json())["code"] == code


async def test_lifecycle() -> None:
    fake = FakeLiveKit()
    with pytest.raises(RuntimeError):
        _ = fake.url
    async with fake:
        assert fake.url.startswith("http://127.0.0.1:")
    with pytest.raises(RuntimeError):
        _ = fake.url
    await fake.stop()  # idempotent


async def test_remove_participant(lk: FakeLiveKit, client: LiveKitAPI) -> None:
    lk.join("r", "alice")
    lk.join("r", "bob")

    await client.room.remove_participant(RoomParticipantIdentity(room="r", identity="alice"))

    assert set(lk.participants["r"]) == {"bob"}
    with pytest.raises(TwirpError) as caught:
        await client.room.remove_participant(RoomParticipantIdentity(room="r", identity="alice"))
    assert (caught.value.code, caught.value.status) == ("not_found", 404)


async def test_update_participant_changes_only_what_is_set(
    lk: FakeLiveKit, client: LiveKitAPI
) -> None:
    lk.join("r", "alice", tracks=[TrackInfo(sid="TR_a", type=TrackType.AUDIO)])
    lk.participants["r"]["alice"].attributes["keep"] = "1"

    reply = await client.room.update_participant(
        UpdateParticipantRequest(room="r", identity="alice", name="Alice", attributes={"x": "y"})
    )

    assert (reply.name, dict(reply.attributes)) == ("Alice", {"keep": "1", "x": "y"})
    assert reply.permission.can_publish
    assert len(reply.tracks) == 1


async def test_a_permission_without_publish_unpublishes(
    lk: FakeLiveKit, client: LiveKitAPI
) -> None:
    lk.join("r", "alice", tracks=[TrackInfo(sid="TR_a", type=TrackType.AUDIO)])

    await client.room.update_participant(
        UpdateParticipantRequest(
            room="r",
            identity="alice",
            permission=ParticipantPermission(can_subscribe=True, can_publish=False),
        )
    )

    alice = lk.participants["r"]["alice"]
    assert not alice.permission.can_publish
    assert list(alice.tracks) == []


async def test_mute_published_track(lk: FakeLiveKit, client: LiveKitAPI) -> None:
    lk.join("r", "alice", tracks=[TrackInfo(sid="TR_a", type=TrackType.AUDIO)])

    reply = await client.room.mute_published_track(
        MuteRoomTrackRequest(room="r", identity="alice", track_sid="TR_a", muted=True)
    )

    assert reply.track.sid == "TR_a"
    assert reply.track.muted
    assert lk.participants["r"]["alice"].tracks[0].muted
    with pytest.raises(TwirpError) as caught:
        await client.room.mute_published_track(
            MuteRoomTrackRequest(room="r", identity="alice", track_sid="TR_nope", muted=True)
        )
    assert caught.value.code == "not_found"


@pytest.mark.parametrize("method", ["RemoveParticipant", "UpdateParticipant", "MutePublishedTrack"])
async def test_participant_methods_need_admin_of_that_room(lk: FakeLiveKit, method: str) -> None:
    lk.join("r", "alice")
    url = f"{lk.url}/twirp/livekit.RoomService/{method}"
    body = {"room": "r", "identity": "alice", "track_sid": "TR_a"}
    async with aiohttp.ClientSession() as http:
        for grants in (VideoGrants(room_admin=True, room="other"), VideoGrants(room_create=True)):
            async with http.post(url, json=body, headers=_bearer(grants)) as resp:
                assert resp.status == 403
                assert (await resp.json())["code"] == "permission_denied"
    assert "alice" in lk.participants["r"]


async def test_delete_room_disconnects_everyone(lk: FakeLiveKit, client: LiveKitAPI) -> None:
    lk.join("r", "alice")

    await client.room.delete_room(DeleteRoomRequest(room="r"))

    assert "r" not in lk.participants
