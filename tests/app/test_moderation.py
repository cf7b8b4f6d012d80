"""Moderation against the fake RoomService: the exact calls each route makes, and its rules."""

from __future__ import annotations

import asyncio

import pytest
from livekit.protocol.models import TrackInfo, TrackType
from livekit.protocol.webhook import WebhookEvent

from tests.conftest import Client, Running, app_running
from tests.fakes.livekit_server import FakeLiveKit
from tests.support.applied import apply_pending
from tests.support.clock import FakeClock
from tests.support.settings import AUTH, make_settings
from tests.support.webhooks import event, participant, room_info, signed

ROOM = "agora"
SID = "RM_agora"
MIC = TrackInfo(sid="TR_mic", type=TrackType.AUDIO, name="mic")
CAM = TrackInfo(sid="TR_cam", type=TrackType.VIDEO, name="cam")


async def deliver(running: Running, *messages: WebhookEvent) -> None:
    client = running.client()
    for message in messages:
        body, headers = signed(message)
        response = await client.post("/v1/livekit/webhook", data=body, headers=headers)
        assert response.status_code == 200
    await apply_pending(running.services.rooms, ROOM)


async def token(client: Client, identity: str, **fields: object) -> tuple[int, dict]:
    response = await client.post(
        f"/v1/rooms/{ROOM}/token", json={"identity": identity, **fields}, headers=AUTH
    )
    return response.status_code, await response.get_json()


async def open_room(running: Running, max_participants: int = 10) -> Client:
    client = running.client()
    response = await client.post(
        "/v1/rooms", json={"name": ROOM, "max_participants": max_participants}, headers=AUTH
    )
    assert response.status_code == 201
    await deliver(running, event("room_started", room_info(ROOM, SID)))
    return client


async def join(
    running: Running,
    fake: FakeLiveKit,
    identity: str,
    *,
    tracks: tuple[TrackInfo, ...] = (),
    role: str = "speaker",
) -> None:
    """A token from Qari, then the connection LiveKit reports, with its tracks."""
    assert (await token(running.client(), identity, role=role))[0] == 200
    fake.join(ROOM, identity, tracks=[TrackInfo(sid=t.sid, type=t.type) for t in tracks])
    who = participant(identity, f"PA_{identity}")
    room = room_info(ROOM, SID)
    await deliver(
        running,
        event("participant_joined", room, who=who),
        *(event("track_published", room, who=who, track=t) for t in tracks),
    )


async def people(client: Client) -> dict[str, dict]:
    response = await client.get(f"/v1/rooms/{ROOM}/participants", headers=AUTH)
    return {p["identity"]: p for p in (await response.get_json())["items"]}


def calls(fake: FakeLiveKit, method: str) -> list[tuple[object, ...]]:
    found = []
    for call in fake.calls_to(method):
        match method:
            case "RemoveParticipant":
                found.append((call.room, call.identity))  # type: ignore[attr-defined]
            case "MutePublishedTrack":
                found.append((call.identity, call.track_sid, call.muted))  # type: ignore[attr-defined]
            case "DeleteRoom":
                found.append((call.room,))  # type: ignore[attr-defined]
    return found


# -- remove ---------------------------------------------------------------------------


async def test_remove_disconnects_and_the_place_frees(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = await open_room(mirrored, max_participants=1)
    await join(mirrored, fake_livekit, "alice")
    assert (await token(client, "bob"))[0] == 409
    response = await client.post(f"/v1/rooms/{ROOM}/participants/alice/remove", headers=AUTH)
    assert response.status_code == 204
    assert calls(fake_livekit, "RemoveParticipant") == [(ROOM, "alice")]
    # LiveKit's leave follows; then the place is free again.
    await deliver(
        mirrored,
        event("participant_left", room_info(ROOM, SID), who=participant("alice", "PA_alice")),
    )
    assert (await token(client, "bob"))[0] == 200


async def test_removing_someone_not_in_the_room_is_404(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = await open_room(mirrored)
    assert (await token(client, "holder"))[0] == 200  # a seat, not a participant
    for who in ("nobody", "holder"):
        response = await client.post(f"/v1/rooms/{ROOM}/participants/{who}/remove", headers=AUTH)
        assert response.status_code == 404
        assert (await response.get_json())["code"] == "participant_not_found"
    assert calls(fake_livekit, "RemoveParticipant") == []


async def test_a_ban_frees_a_held_seat_and_refuses_tokens_until_lifted(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = await open_room(mirrored, max_participants=1)
    assert (await token(client, "mallory"))[0] == 200
    response = await client.post(
        f"/v1/rooms/{ROOM}/participants/mallory/remove",
        json={"ban": True, "reason": "spam"},
        headers=AUTH,
    )
    assert response.status_code == 204
    assert calls(fake_livekit, "RemoveParticipant") == []  # not connected: nothing to remove
    status, body = await token(client, "mallory")
    assert (status, body["code"]) == (403, "banned")
    assert (await token(client, "bob"))[0] == 200  # mallory's seat was freed
    bans = await (await client.get(f"/v1/rooms/{ROOM}/bans", headers=AUTH)).get_json()
    assert [(b["identity"], b["reason"]) for b in bans["items"]] == [("mallory", "spam")]
    assert (await client.delete(f"/v1/rooms/{ROOM}/bans/mallory", headers=AUTH)).status_code == 204
    response = await client.delete(f"/v1/rooms/{ROOM}/bans/mallory", headers=AUTH)
    assert (response.status_code, (await response.get_json())["code"]) == (404, "ban_not_found")
    assert (await client.get(f"/v1/rooms/{ROOM}/bans", headers=AUTH)).status_code == 200
    assert (await token(client, "mallory"))[0] == 409  # not banned now; bob has the seat


async def test_a_banned_identity_joining_with_an_old_token_is_removed(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = await open_room(mirrored)
    assert (await token(client, "mallory"))[0] == 200
    response = await client.post(
        f"/v1/rooms/{ROOM}/participants/mallory/remove", json={"ban": True}, headers=AUTH
    )
    assert response.status_code == 204
    fake_livekit.join(ROOM, "mallory")
    await deliver(
        mirrored,
        event("participant_joined", room_info(ROOM, SID), who=participant("mallory", "PA_m")),
    )
    assert calls(fake_livekit, "RemoveParticipant") == [(ROOM, "mallory")]
    assert "mallory" not in await people(client)
    assert mirrored.services.admission.refused["banned"] == 1


async def test_a_ban_racing_token_requests_lets_none_begun_after_it_through(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = await open_room(mirrored, max_participants=100)

    async def ask() -> int:
        return (await token(client, "eve"))[0]

    before = [asyncio.ensure_future(ask()) for _ in range(25)]
    ban = asyncio.ensure_future(
        client.post(f"/v1/rooms/{ROOM}/participants/eve/remove", json={"ban": True}, headers=AUTH)
    )
    during = [asyncio.ensure_future(ask()) for _ in range(25)]
    assert (await ban).status_code == 204
    after = [await ask() for _ in range(5)]  # each begun after the ban's 204
    racing = await asyncio.gather(*before, *during)
    assert set(racing) <= {200, 403}
    assert after == [403] * 5
    # What went through was begun (and so handled) before the ban: once one is
    # refused, every later one is too.
    statuses = list(racing)
    if 403 in statuses:
        assert 200 not in statuses[statuses.index(403) :]


# -- mute ---------------------------------------------------------------------------------


async def test_mute_one_track_then_all(mirrored: Running, fake_livekit: FakeLiveKit) -> None:
    client = await open_room(mirrored)
    await join(mirrored, fake_livekit, "alice", tracks=(MIC, CAM))
    tracks = {t["sid"]: t for t in (await people(client))["alice"]["tracks"]}
    assert tracks == {
        "TR_mic": {"sid": "TR_mic", "kind": "audio", "muted": False},
        "TR_cam": {"sid": "TR_cam", "kind": "video", "muted": False},
    }
    url = f"/v1/rooms/{ROOM}/participants/alice/mute"
    assert (await client.post(url, json={"track_sid": "TR_mic"}, headers=AUTH)).status_code == 204
    assert calls(fake_livekit, "MutePublishedTrack") == [("alice", "TR_mic", True)]
    tracks = {t["sid"]: t["muted"] for t in (await people(client))["alice"]["tracks"]}
    assert tracks == {"TR_mic": True, "TR_cam": False}
    assert (await client.post(url, json={"muted": True}, headers=AUTH)).status_code == 204
    assert calls(fake_livekit, "MutePublishedTrack")[1:] == [
        ("alice", "TR_mic", True),
        ("alice", "TR_cam", True),
    ]
    response = await client.post(url, json={"track_sid": "TR_mic", "muted": False}, headers=AUTH)
    assert response.status_code == 204
    tracks = {t["sid"]: t["muted"] for t in (await people(client))["alice"]["tracks"]}
    assert tracks == {"TR_mic": False, "TR_cam": True}


async def test_mute_of_what_is_not_there_is_404(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = await open_room(mirrored)
    await join(mirrored, fake_livekit, "alice", tracks=(MIC,))
    response = await client.post(
        f"/v1/rooms/{ROOM}/participants/alice/mute", json={"track_sid": "TR_x"}, headers=AUTH
    )
    assert (response.status_code, (await response.get_json())["code"]) == (404, "track_not_found")
    response = await client.post(f"/v1/rooms/{ROOM}/participants/nobody/mute", headers=AUTH)
    assert response.status_code == 404
    assert (await response.get_json())["code"] == "participant_not_found"
    assert calls(fake_livekit, "MutePublishedTrack") == []


async def test_unpublished_tracks_are_forgotten(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = await open_room(mirrored)
    await join(mirrored, fake_livekit, "alice", tracks=(MIC, CAM))
    await deliver(
        mirrored,
        event(
            "track_unpublished",
            room_info(ROOM, SID),
            who=participant("alice", "PA_alice"),
            track=CAM,
        ),
    )
    assert [t["sid"] for t in (await people(client))["alice"]["tracks"]] == ["TR_mic"]


# -- change a participant -------------------------------------------------------------------


async def test_patch_role_becomes_permissions_at_once(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = await open_room(mirrored)
    await join(mirrored, fake_livekit, "alice", tracks=(MIC,))
    assert (await people(client))["alice"]["role"] == "speaker"
    response = await client.patch(
        f"/v1/rooms/{ROOM}/participants/alice",
        json={"role": "viewer", "name": "Alice B.", "attributes": {"team": "red"}},
        headers=AUTH,
    )
    assert response.status_code == 200
    body = await response.get_json()
    assert (body["identity"], body["role"], body["name"]) == ("alice", "viewer", "Alice B.")
    [call] = fake_livekit.calls_to("UpdateParticipant")
    assert call.identity == "alice"  # type: ignore[attr-defined]
    assert call.permission.can_publish is False  # type: ignore[attr-defined]
    assert call.permission.can_subscribe is True  # type: ignore[attr-defined]
    assert call.name == "Alice B."  # type: ignore[attr-defined]
    assert dict(call.attributes) == {"team": "red"}  # type: ignore[attr-defined]
    assert fake_livekit.participants[ROOM]["alice"].tracks == []  # LiveKit unpublished them
    assert (await people(client))["alice"]["role"] == "viewer"


async def test_patch_of_someone_not_in_the_room_is_404(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = await open_room(mirrored)
    response = await client.patch(
        f"/v1/rooms/{ROOM}/participants/nobody", json={"name": "x"}, headers=AUTH
    )
    assert response.status_code == 404
    assert fake_livekit.calls_to("UpdateParticipant") == []


# -- end the meeting ----------------------------------------------------------------------


async def test_end_deletes_the_livekit_room_frees_seats_and_keeps_ours(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = await open_room(mirrored, max_participants=2)
    await join(mirrored, fake_livekit, "alice")
    assert (await token(client, "bob"))[0] == 200  # holds the last seat
    assert (await token(client, "carol"))[0] == 409
    assert (await client.post(f"/v1/rooms/{ROOM}/end", headers=AUTH)).status_code == 204
    assert calls(fake_livekit, "DeleteRoom") == [(ROOM,)]
    await deliver(mirrored, event("room_finished", room_info(ROOM, SID)))
    assert (await client.get(f"/v1/rooms/{ROOM}", headers=AUTH)).status_code == 200
    assert (await token(client, "carol"))[0] == 200
    assert (await token(client, "dave"))[0] == 200


# -- LiveKit failures, no LiveKit, no key ---------------------------------------------------


async def test_livekit_refusing_changes_nothing_but_a_ban(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = await open_room(mirrored, max_participants=2)
    await join(mirrored, fake_livekit, "alice", tracks=(MIC,))
    base = f"/v1/rooms/{ROOM}/participants/alice"
    fake_livekit.fail_next("RemoveParticipant", "internal")
    response = await client.post(f"{base}/remove", json={"ban": True}, headers=AUTH)
    assert (response.status_code, (await response.get_json())["code"]) == (
        503,
        "livekit_unavailable",
    )
    bans = await (await client.get(f"/v1/rooms/{ROOM}/bans", headers=AUTH)).get_json()
    assert [b["identity"] for b in bans["items"]] == ["alice"]  # the ban is kept
    assert "alice" in fake_livekit.participants[ROOM]
    fake_livekit.fail_next("MutePublishedTrack", "unavailable")
    assert (await client.post(f"{base}/mute", headers=AUTH)).status_code == 503
    assert (await people(client))["alice"]["tracks"][0]["muted"] is False
    fake_livekit.fail_next("UpdateParticipant", "permission_denied")
    response = await client.patch(base, json={"role": "viewer"}, headers=AUTH)
    assert response.status_code == 503
    assert (await people(client))["alice"]["role"] == "speaker"
    assert (await token(client, "bob"))[0] == 200
    fake_livekit.fail_next("DeleteRoom", "internal")
    response = await client.post(f"/v1/rooms/{ROOM}/end", headers=AUTH)
    assert response.status_code == 503
    assert "every token for it was revoked" in (await response.get_json())["detail"]
    # Bob's token was revoked, so his seat is free for someone else.
    assert (await token(client, "carol"))[0] == 200


async def test_without_livekit_every_livekit_action_is_503(running: Running) -> None:
    client = running.client()
    response = await client.post("/v1/rooms", json={"name": ROOM}, headers=AUTH)
    assert response.status_code == 201
    base = f"/v1/rooms/{ROOM}/participants/alice"
    for method, path, body in (
        ("POST", f"{base}/remove", {"ban": True}),
        ("POST", f"{base}/mute", {}),
        ("PATCH", base, {"role": "viewer"}),
        ("POST", f"/v1/rooms/{ROOM}/end", None),
    ):
        response = await client.open(path, method=method, json=body, headers=AUTH)
        assert response.status_code == 503, path
        assert (await response.get_json())["code"] == "livekit_unavailable"
    bans = await (await client.get(f"/v1/rooms/{ROOM}/bans", headers=AUTH)).get_json()
    # The ban needs only the database: it is kept, and enforced on tokens.
    assert [b["identity"] for b in bans["items"]] == ["alice"]
    assert (await token(client, "alice"))[0] == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/rooms/agora/participants/alice/remove"),
        ("GET", "/v1/rooms/agora/bans"),
        ("DELETE", "/v1/rooms/agora/bans/alice"),
        ("POST", "/v1/rooms/agora/participants/alice/mute"),
        ("PATCH", "/v1/rooms/agora/participants/alice"),
        ("POST", "/v1/rooms/agora/end"),
    ],
)
async def test_every_moderation_route_needs_a_key(client: Client, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong-key"}):
        response = await client.open(path, method=method, json={}, headers=headers)
        assert response.status_code == 401
        assert (await response.get_json())["code"] == "unauthorized"


async def test_moderating_an_unknown_room_is_404(mirrored: Running) -> None:
    client = mirrored.client()
    response = await client.post("/v1/rooms/no-such/end", headers=AUTH)
    assert (response.status_code, (await response.get_json())["code"]) == (404, "room_not_found")


async def test_tracks_are_known_again_after_a_restart(database_url: str, clock: FakeClock) -> None:
    settings = make_settings(database_url)
    room = room_info(ROOM, SID)
    who = participant("alice", "PA_alice")
    async with app_running(settings, clock) as first:
        await open_room(first)
        assert (await token(first.client(), "alice"))[0] == 200
        await deliver(
            first,
            event("participant_joined", room, who=who),
            event("track_published", room, who=who, track=MIC),
            event("track_published", room, who=who, track=CAM),
            event("track_unpublished", room, who=who, track=CAM),
        )
    async with app_running(settings, clock) as second:
        alice = (await people(second.client()))["alice"]
        assert alice["tracks"] == [{"sid": "TR_mic", "kind": "audio", "muted": False}]
