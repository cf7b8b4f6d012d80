"""A removal revokes: the tokens an identity held for the room stop admitting it.

Removal by a moderator (with or without a ban), ending the meeting, and a no
from the room's access condition each revoke the identity's grant, durably.
A join on a token issued before is refused (`revoked`) and removed from
LiveKit; a new token (which checks everything again) admits. LiveKit copies a
token's attributes onto the participant it admits, so these tests join with
the attributes of the token they got, as LiveKit would report them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import jwt
from livekit.protocol.webhook import WebhookEvent

from actors.room.protocol import RevokeAccess
from tests.conftest import Client, Running, app_running
from tests.fakes.livekit_server import FakeLiveKit
from tests.support.applied import apply_pending
from tests.support.clock import FakeClock
from tests.support.locks import locked
from tests.support.postgres import truncate_tables
from tests.support.settings import AUTH, make_settings
from tests.support.webhooks import event, participant, room_info, signed

ROOM = "agora"
SID = "RM_agora"


async def deliver(running: Running, *messages: WebhookEvent) -> None:
    client = running.client()
    for message in messages:
        body, headers = signed(message)
        response = await client.post("/v1/livekit/webhook", data=body, headers=headers)
        assert response.status_code == 200
    await apply_pending(running.services.rooms, ROOM)


async def token(client: Client, identity: str) -> tuple[int, dict]:
    response = await client.post(
        f"/v1/rooms/{ROOM}/token", json={"identity": identity}, headers=AUTH
    )
    return response.status_code, await response.get_json()


def attributes_of(jwt_text: str) -> dict[str, str]:
    claims = jwt.decode(jwt_text, options={"verify_signature": False})
    return dict(claims.get("attributes") or {})


async def open_room(running: Running, max_participants: int = 10) -> Client:
    client = running.client()
    response = await client.post(
        "/v1/rooms", json={"name": ROOM, "max_participants": max_participants}, headers=AUTH
    )
    assert response.status_code == 201
    await deliver(running, event("room_started", room_info(ROOM, SID)))
    return client


async def join_with(
    running: Running, fake: FakeLiveKit, identity: str, jwt_text: str, sid: str
) -> None:
    """LiveKit admits whoever holds a valid token: the join as it reports it."""
    fake.join(ROOM, identity)
    who = participant(identity, sid, attributes=attributes_of(jwt_text))
    await deliver(running, event("participant_joined", room_info(ROOM, SID), who=who))


async def leave(running: Running, identity: str, sid: str) -> None:
    who = participant(identity, sid)
    await deliver(running, event("participant_left", room_info(ROOM, SID), who=who))


async def people(client: Client) -> set[str]:
    response = await client.get(f"/v1/rooms/{ROOM}/participants", headers=AUTH)
    return {p["identity"] for p in (await response.get_json())["items"]}


def removals(fake: FakeLiveKit) -> list[str]:
    return [call.identity for call in fake.calls_to("RemoveParticipant")]  # type: ignore[attr-defined]


async def test_a_removed_participant_cannot_rejoin_with_its_old_token(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = await open_room(mirrored)
    status, body = await token(client, "mallory")
    assert status == 200
    old = body["token"]
    await join_with(mirrored, fake_livekit, "mallory", old, "PA_1")
    response = await client.post(f"/v1/rooms/{ROOM}/participants/mallory/remove", headers=AUTH)
    assert response.status_code == 204
    await leave(mirrored, "mallory", "PA_1")
    # Back with the token from before the removal: refused, and removed again.
    await join_with(mirrored, fake_livekit, "mallory", old, "PA_2")
    assert await people(client) == set()
    assert removals(fake_livekit) == ["mallory", "mallory"]
    assert mirrored.services.admission.refused["revoked"] == 1
    # Not banned: a new token (every check made again) lets her in.
    status, body = await token(client, "mallory")
    assert status == 200
    assert attributes_of(body["token"])["qari.grant"] != attributes_of(old).get("qari.grant")
    await join_with(mirrored, fake_livekit, "mallory", body["token"], "PA_3")
    assert await people(client) == {"mallory"}


async def test_a_new_token_after_the_removal_does_not_bring_the_old_one_back(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = await open_room(mirrored)
    old = (await token(client, "mallory"))[1]["token"]
    await join_with(mirrored, fake_livekit, "mallory", old, "PA_1")
    assert (
        await client.post(f"/v1/rooms/{ROOM}/participants/mallory/remove", headers=AUTH)
    ).status_code == 204
    await leave(mirrored, "mallory", "PA_1")
    assert (await token(client, "mallory"))[0] == 200
    await join_with(mirrored, fake_livekit, "mallory", old, "PA_2")
    assert await people(client) == set()


async def test_ending_the_meeting_revokes_every_grant_joined_or_not(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = await open_room(mirrored)
    present = (await token(client, "alice"))[1]["token"]
    await join_with(mirrored, fake_livekit, "alice", present, "PA_a")
    waiting = (await token(client, "bob"))[1]["token"]  # a seat holder who never joined
    assert (await client.post(f"/v1/rooms/{ROOM}/end", headers=AUTH)).status_code == 204
    await deliver(mirrored, event("room_finished", room_info(ROOM, SID)))
    # LiveKit starts a new meeting on the next join; tokens of the ended one do not admit.
    await deliver(mirrored, event("room_started", room_info(ROOM, "RM_next")))
    for identity, jwt_text, sid in (("alice", present, "PA_a2"), ("bob", waiting, "PA_b")):
        fake_livekit.join(ROOM, identity)
        who = participant(identity, sid, attributes=attributes_of(jwt_text))
        await deliver(mirrored, event("participant_joined", room_info(ROOM, "RM_next"), who=who))
    assert await people(client) == set()
    assert mirrored.services.admission.refused["revoked"] == 2


async def test_a_revocation_survives_a_restart(
    database_url: str, fake_livekit: FakeLiveKit
) -> None:
    settings = make_settings(database_url, livekit_url=fake_livekit.url, livekit_timeout_seconds=1)
    clock = FakeClock()
    async with app_running(settings, clock) as first:
        client = await open_room(first)
        old = (await token(client, "mallory"))[1]["token"]
        await join_with(first, fake_livekit, "mallory", old, "PA_1")
        removed = await client.post(f"/v1/rooms/{ROOM}/participants/mallory/remove", headers=AUTH)
        assert removed.status_code == 204
        await leave(first, "mallory", "PA_1")
    async with app_running(settings, clock) as second:
        await join_with(second, fake_livekit, "mallory", old, "PA_2")
        assert await people(second.client()) == set()
        assert second.services.admission.refused["revoked"] == 1


async def test_a_ban_needs_no_livekit_and_is_enforced_on_tokens(running: Running) -> None:
    client = running.client()
    assert (await client.post("/v1/rooms", json={"name": ROOM}, headers=AUTH)).status_code == 201
    response = await client.post(
        f"/v1/rooms/{ROOM}/participants/mallory/remove", json={"ban": True}, headers=AUTH
    )
    body = await response.get_json()
    assert (response.status_code, body["code"]) == (503, "livekit_unavailable")
    assert "LIVEKIT_URL is not set" in body["detail"]
    assert "the ban was kept" in body["detail"]
    assert (await token(client, "mallory"))[0] == 403


async def test_livekit_refusing_a_removal_still_revokes(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    client = await open_room(mirrored)
    old = (await token(client, "mallory"))[1]["token"]
    await join_with(mirrored, fake_livekit, "mallory", old, "PA_1")
    fake_livekit.fail_next("RemoveParticipant", "internal")
    response = await client.post(f"/v1/rooms/{ROOM}/participants/mallory/remove", headers=AUTH)
    body = await response.get_json()
    assert (response.status_code, body["code"]) == (503, "livekit_unavailable")
    assert "revoked" in body["detail"]
    # She is still connected (LiveKit refused), but a reconnect on the old token is refused.
    await join_with(mirrored, fake_livekit, "mallory", old, "PA_2")
    assert mirrored.services.admission.refused["revoked"] == 1


async def test_a_removal_after_the_grant_lapsed_still_revokes(
    mirrored: Running, fake_livekit: FakeLiveKit, clock: FakeClock
) -> None:
    """LiveKit refreshes a connected participant's token (same attributes), so a token
    of a grant that has lapsed can still be in use: the removal must rotate its key."""
    client = await open_room(mirrored)
    response = await client.post(
        f"/v1/rooms/{ROOM}/token", json={"identity": "mallory", "ttl_seconds": 60}, headers=AUTH
    )
    old = (await response.get_json())["token"]
    await join_with(mirrored, fake_livekit, "mallory", old, "PA_1")
    clock.advance(3600)  # an hour into the meeting: the grant lapsed long ago
    removed = await client.post(f"/v1/rooms/{ROOM}/participants/mallory/remove", headers=AUTH)
    assert removed.status_code == 204
    await leave(mirrored, "mallory", "PA_1")
    status, body = await token(client, "mallory")  # allowed back, on a new key
    assert status == 200
    assert attributes_of(body["token"])["qari.grant"]
    await join_with(mirrored, fake_livekit, "mallory", old, "PA_2")  # the refreshed old one
    assert await people(client) == set()
    assert mirrored.services.admission.refused["revoked"] == 1


async def test_a_revocation_while_a_join_is_being_written_removes_that_join(
    postgres_url: str, fake_livekit: FakeLiveKit, clock: FakeClock
) -> None:
    """The join was handed to the committer under the old key; the re-check revokes the
    grant before that write commits: the join is removed once it has.

    PostgreSQL only: the race is made by locking the one table the join's write needs
    (SQLite's only lock, its write lock, would hold the revocation's write too)."""
    database_url = postgres_url
    await truncate_tables(database_url)
    settings = make_settings(database_url, livekit_url=fake_livekit.url, livekit_timeout_seconds=1)
    async with app_running(settings, clock) as running:
        client = await open_room(running)
        assert (await token(client, "mallory"))[0] == 200
        fake_livekit.join(ROOM, "mallory")
        who = participant("mallory", "PA_1")
        body, headers = signed(event("participant_joined", room_info(ROOM, SID), who=who))
        async with locked(database_url, "participant_sessions"):
            assert (
                await client.post("/v1/livekit/webhook", data=body, headers=headers)
            ).status_code == 200
            committer = running.services.committer
            await asyncio.wait_for(_until(lambda: committer.in_flight(ROOM) is not None), 5)
            await running.services.rooms.ask(ROOM, RevokeAccess("mallory"))
        await apply_pending(running.services.rooms, ROOM)
        await asyncio.wait_for(_until(lambda: "mallory" in removals(fake_livekit)), 5)


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)
