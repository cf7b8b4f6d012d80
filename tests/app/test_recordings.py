"""Recordings (DESIGN.md section 9) against the fake LiveKit's Egress, on both databases."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

import pytest
from livekit import api
from livekit.protocol.egress import EgressStatus, EncodedFileType
from livekit.protocol.webhook import WebhookEvent
from pydantic import SecretStr

from tests.conftest import Client, Running, app_running
from tests.fakes.livekit_server import FakeLiveKit
from tests.support.applied import apply_pending
from tests.support.clock import FakeClock
from tests.support.outbox import data_of, kinds, numbered
from tests.support.settings import AUTH, LIVEKIT_KEY, LIVEKIT_SECRET, make_settings
from tests.support.wallets import SIWE_DOMAIN, sign_in
from tests.support.webhooks import event, participant, room_info, signed

ROOM = "agora"
S3_ACCESS_KEY = "AKIA-recording-access-key-0001"
S3_SECRET = "s3-secret-never-shown-0123456789abcdef"
ACTIVE, COMPLETE = EgressStatus.EGRESS_ACTIVE, EgressStatus.EGRESS_COMPLETE


@pytest.fixture
async def app(
    database_url: str, clock: FakeClock, fake_livekit: FakeLiveKit
) -> AsyncIterator[Running]:
    """The app with LiveKit (the fake) and an S3 bucket for recordings."""
    settings = make_settings(
        database_url,
        livekit_url=fake_livekit.url,
        livekit_timeout_seconds=0.5,
        siwe_domain=SIWE_DOMAIN,
        recording_s3_bucket="recordings",
        recording_s3_region="eu-west-1",
        recording_s3_endpoint="https://minio.qari.test",
        recording_s3_access_key=SecretStr(S3_ACCESS_KEY),
        recording_s3_secret=SecretStr(S3_SECRET),
    )
    async with app_running(settings, clock) as instance:
        yield instance


async def deliver(running: Running, *messages: WebhookEvent) -> None:
    client = running.client()
    for message in messages:
        body, headers = signed(message)
        response = await client.post("/v1/livekit/webhook", data=body, headers=headers)
        assert response.status_code == 200
    await apply_pending(running.services.rooms, ROOM)


async def live_room(running: Running, fake: FakeLiveKit, **fields: object) -> str:
    """A room with someone in it; its LiveKit sid (the session recordings record)."""
    client = running.client()
    response = await client.post("/v1/rooms", json={"name": ROOM, **fields}, headers=AUTH)
    assert response.status_code == 201, await response.get_json()
    sid = fake.rooms[ROOM].sid
    response = await client.post(f"/v1/rooms/{ROOM}/token", json={"identity": "ann"}, headers=AUTH)
    assert response.status_code == 200
    fake.join(ROOM, "ann")
    room = room_info(ROOM, sid)
    await deliver(
        running,
        event("room_started", room),
        event("participant_joined", room, who=participant("ann", "PA_ann")),
    )
    return sid


async def start(client: Client, headers: dict[str, str] = AUTH, **body: object) -> tuple:
    response = await client.post(f"/v1/rooms/{ROOM}/recordings", json=body, headers=headers)
    return response.status_code, await response.get_json()


async def stop(client: Client, recording: str, headers: dict[str, str] = AUTH) -> tuple:
    response = await client.post(f"/v1/rooms/{ROOM}/recordings/{recording}/stop", headers=headers)
    return response.status_code, await response.get_json()


async def listed(client: Client, query: str = "") -> dict:
    response = await client.get(f"/v1/rooms/{ROOM}/recordings{query}", headers=AUTH)
    assert response.status_code == 200
    body: dict = await response.get_json()
    return body


async def recording_flag(client: Client) -> bool:
    response = await client.get(f"/v1/rooms/{ROOM}", headers=AUTH)
    return bool((await response.get_json())["recording"])


async def statuses(client: Client) -> dict[str, str]:
    return {r["id"]: r["status"] for r in (await listed(client))["items"]}


# -- start -------------------------------------------------------------------------


async def test_a_start_records_the_room_to_a_file_named_by_room_session_and_time(
    app: Running, fake_livekit: FakeLiveKit
) -> None:
    sid = await live_room(app, fake_livekit)
    client = app.client()
    status, recording = await start(client)
    assert status == 201, recording
    assert recording["status"] == "starting"
    assert (recording["room"], recording["session"], recording["audio_only"]) == (ROOM, sid, False)
    assert recording["files"] == []
    assert recording["ended_at"] is None
    (call,) = fake_livekit.calls_to("StartRoomCompositeEgress")
    assert (call.room_name, call.layout, call.audio_only) == (ROOM, "grid", False)  # type: ignore[attr-defined]
    (output,) = call.file_outputs  # type: ignore[attr-defined]
    assert re.fullmatch(rf"{ROOM}/{sid}/\d{{8}}T\d{{6}}Z\.mp4", output.filepath)
    assert output.file_type == EncodedFileType.MP4
    # The RECORDING_S3_* bucket, sent to LiveKit only.
    assert (output.s3.bucket, output.s3.region, output.s3.endpoint) == (
        "recordings",
        "eu-west-1",
        "https://minio.qari.test",
    )
    assert (output.s3.access_key, output.s3.secret) == (S3_ACCESS_KEY, S3_SECRET)
    assert recording["id"] in fake_livekit.egress.egresses
    assert await recording_flag(client)


async def test_audio_only_records_an_ogg_in_the_layout_asked(
    app: Running, fake_livekit: FakeLiveKit
) -> None:
    sid = await live_room(app, fake_livekit)
    status, recording = await start(app.client(), audio_only=True, layout="speaker")
    assert (status, recording["audio_only"]) == (201, True)
    (call,) = fake_livekit.calls_to("StartRoomCompositeEgress")
    assert (call.layout, call.audio_only) == ("speaker", True)  # type: ignore[attr-defined]
    (output,) = call.file_outputs  # type: ignore[attr-defined]
    assert output.filepath.startswith(f"{ROOM}/{sid}/")
    assert output.filepath.endswith(".ogg")
    assert output.file_type == EncodedFileType.OGG


async def test_without_a_bucket_livekit_stores_the_file_as_it_is_set_to(
    mirrored: Running, fake_livekit: FakeLiveKit
) -> None:
    await live_room(mirrored, fake_livekit)
    response = await mirrored.client().post(f"/v1/rooms/{ROOM}/recordings", headers=AUTH)
    assert response.status_code == 201  # no body: the defaults
    (call,) = fake_livekit.calls_to("StartRoomCompositeEgress")
    (output,) = call.file_outputs  # type: ignore[attr-defined]
    assert not output.HasField("s3")


async def test_one_recording_runs_per_room(app: Running, fake_livekit: FakeLiveKit) -> None:
    await live_room(app, fake_livekit)
    client = app.client()
    assert (await start(client))[0] == 201
    status, body = await start(client)
    assert (status, body["code"]) == (409, "recording_active")
    assert len(fake_livekit.calls_to("StartRoomCompositeEgress")) == 1


async def test_an_empty_room_is_not_recorded(app: Running, fake_livekit: FakeLiveKit) -> None:
    client = app.client()
    assert (await client.post("/v1/rooms", json={"name": ROOM}, headers=AUTH)).status_code == 201
    status, body = await start(client)
    assert (status, body["code"]) == (409, "room_not_live")
    # A session whose last participant has left is empty too.
    sid = fake_livekit.rooms[ROOM].sid
    room = room_info(ROOM, sid)
    await deliver(
        app,
        event("room_started", room),
        event("participant_joined", room, who=participant("ann", "PA_ann")),
        event("participant_left", room, who=participant("ann", "PA_ann")),
    )
    status, body = await start(client)
    assert (status, body["code"]) == (409, "room_not_live")
    assert fake_livekit.calls_to("StartRoomCompositeEgress") == []


@pytest.mark.parametrize("failure", ["refused", "unreachable"])
async def test_egress_refusing_is_503_and_nothing_is_stored(
    app: Running, fake_livekit: FakeLiveKit, failure: str
) -> None:
    await live_room(app, fake_livekit)
    client = app.client()
    if failure == "refused":
        fake_livekit.fail_next("StartRoomCompositeEgress", "resource_exhausted")
    else:
        fake_livekit.hang_next("StartRoomCompositeEgress", 2.0)
    status, body = await start(client)
    assert (status, body["code"]) == (503, "livekit_unavailable")
    assert (await listed(client))["items"] == []
    assert not await recording_flag(client)
    assert "recording." not in " ".join(kinds(await numbered(app)))


async def test_a_token_without_the_record_grant_is_refused_by_egress(
    fake_livekit: FakeLiveKit,
) -> None:
    fake_livekit.join(ROOM, "ann")
    async with api.LiveKitAPI(fake_livekit.url, LIVEKIT_KEY, LIVEKIT_SECRET) as lk:
        lk.egress._auth_header = lambda grants, sip=None: {  # type: ignore[method-assign]
            "authorization": "Bearer "
            + api.AccessToken(LIVEKIT_KEY, LIVEKIT_SECRET)
            .with_grants(api.VideoGrants(room_admin=True, room=ROOM))
            .to_jwt()
        }
        with pytest.raises(api.TwirpError) as refused:
            await lk.egress.start_room_composite_egress(
                api.RoomCompositeEgressRequest(room_name=ROOM)
            )
    assert refused.value.code == "permission_denied"
    assert fake_livekit.egress.egresses == {}


# -- webhooks ----------------------------------------------------------------------


async def test_egress_webhooks_move_the_recording_and_its_events_carry_the_files(
    app: Running, fake_livekit: FakeLiveKit
) -> None:
    await live_room(app, fake_livekit)
    client = app.client()
    egress = fake_livekit.egress
    _, recording = await start(client)
    rid = recording["id"]
    await deliver(app, egress.webhook(rid), egress.advance(rid, ACTIVE))
    assert await statuses(client) == {rid: "active"}
    assert await recording_flag(client)
    await deliver(app, egress.advance(rid, COMPLETE))
    (done,) = (await listed(client))["items"]
    assert done["status"] == "complete"
    assert done["ended_at"] is not None
    assert done["duration_seconds"] is not None
    (file,) = done["files"]
    assert file["filename"].startswith(f"{ROOM}/")
    assert file["size"] == 1_048_576
    assert not await recording_flag(client)
    events = await numbered(app)
    assert [k for k in kinds(events, ROOM) if k.startswith("recording.")] == [
        "recording.started",
        "recording.ended",
    ]
    (started,) = data_of(events, "recording.started")
    assert (started["id"], started["room"], started["status"]) == (rid, ROOM, "active")
    (ended,) = data_of(events, "recording.ended")
    assert (ended["id"], ended["status"], ended["files"]) == (rid, "complete", done["files"])


async def test_an_older_egress_update_never_overrides_a_newer_one(
    app: Running, fake_livekit: FakeLiveKit
) -> None:
    await live_room(app, fake_livekit)
    client = app.client()
    egress = fake_livekit.egress
    _, recording = await start(client)
    rid = recording["id"]
    first = egress.webhook(rid)
    active = egress.advance(rid, ACTIVE)
    ending = egress.advance(rid, EgressStatus.EGRESS_ENDING)
    complete = egress.advance(rid, COMPLETE)
    # Delivered newest first: each older one after it changes nothing.
    await deliver(app, complete)
    await deliver(app, ending)
    await deliver(app, active, first)
    (done,) = (await listed(client))["items"]
    assert done["status"] == "complete"
    assert len(done["files"]) == 1
    assert not await recording_flag(client)
    events = await numbered(app)
    assert [k for k in kinds(events, ROOM) if k.startswith("recording.")] == [
        "recording.started",
        "recording.ended",
    ]


async def test_updates_of_one_state_apply_by_their_updated_at(
    app: Running, fake_livekit: FakeLiveKit
) -> None:
    await live_room(app, fake_livekit)
    client = app.client()
    egress = fake_livekit.egress
    _, recording = await start(client)
    rid = recording["id"]
    older = egress.advance(rid, ACTIVE)
    newer = egress.advance(rid, EgressStatus.EGRESS_FAILED, error="out of disk")
    await deliver(app, newer, older)
    (failed,) = (await listed(client))["items"]
    assert (failed["status"], failed["error"]) == ("failed", "out of disk")
    assert kinds(await numbered(app), ROOM).count("recording.ended") == 1


async def test_room_finished_leaves_no_recording_active(
    app: Running, fake_livekit: FakeLiveKit
) -> None:
    sid = await live_room(app, fake_livekit)
    client = app.client()
    egress = fake_livekit.egress
    _, recording = await start(client)
    rid = recording["id"]
    active = egress.advance(rid, ACTIVE)
    await deliver(app, active)
    await deliver(app, event("room_finished", room_info(ROOM, sid)))
    assert await statuses(client) == {rid: "ending"}
    assert not await recording_flag(client)
    # A late report of it running does not bring it back; its end completes it.
    await deliver(app, active, egress.advance(rid, COMPLETE))
    assert await statuses(client) == {rid: "complete"}


async def test_an_egress_started_elsewhere_is_recorded_under_its_room(
    app: Running, fake_livekit: FakeLiveKit
) -> None:
    sid = await live_room(app, fake_livekit)
    client = app.client()
    other = fake_livekit.egress.started_elsewhere(ROOM, sid, audio_only=True)
    await deliver(app, fake_livekit.egress.webhook(other))
    (found,) = (await listed(client))["items"]
    assert (found["id"], found["session"], found["audio_only"]) == (other, sid, True)
    assert await recording_flag(client)
    status, body = await start(client)
    assert (status, body["code"]) == (409, "recording_active")


# -- stop --------------------------------------------------------------------------


async def test_a_stop_ends_the_recording_once(app: Running, fake_livekit: FakeLiveKit) -> None:
    await live_room(app, fake_livekit)
    client = app.client()
    _, recording = await start(client)
    rid = recording["id"]
    status, stopped = await stop(client, rid)
    assert (status, stopped["id"], stopped["status"]) == (200, rid, "ending")
    assert not await recording_flag(client)
    # Already ending: answered as it is, no call.
    status, again = await stop(client, rid)
    assert (status, again["status"]) == (200, "ending")
    assert [c.egress_id for c in fake_livekit.calls_to("StopEgress")] == [rid]  # type: ignore[attr-defined]
    # A new one may start now.
    assert (await start(client))[0] == 201


async def test_a_stop_egress_refuses_changes_nothing(
    app: Running, fake_livekit: FakeLiveKit
) -> None:
    await live_room(app, fake_livekit)
    client = app.client()
    _, recording = await start(client)
    fake_livekit.fail_next("StopEgress", "internal")
    status, body = await stop(client, recording["id"])
    assert (status, body["code"]) == (503, "livekit_unavailable")
    assert await statuses(client) == {recording["id"]: "starting"}
    assert await recording_flag(client)


async def test_a_stop_of_an_egress_livekit_no_longer_has_aborts_the_recording(
    app: Running, fake_livekit: FakeLiveKit
) -> None:
    """LiveKit restarted (say) and forgot the egress: no egress_ended will ever
    come, so the recording is over now, aborted, not left running or ending."""
    await live_room(app, fake_livekit)
    client = app.client()
    _, recording = await start(client)
    rid = recording["id"]
    await deliver(app, fake_livekit.egress.advance(rid, ACTIVE))
    del fake_livekit.egress.egresses[rid]
    status, stopped = await stop(client, rid)
    assert (status, stopped["status"]) == (200, "aborted"), stopped
    assert stopped["error"] == "LiveKit no longer has this egress"
    assert stopped["ended_at"] is not None
    assert not await recording_flag(client)
    (ended,) = data_of(await numbered(app), "recording.ended")
    assert (ended["id"], ended["status"]) == (rid, "aborted")
    # Over: answered as it is, with no call; and a new one may start.
    assert (await stop(client, rid))[1]["status"] == "aborted"
    assert len(fake_livekit.calls_to("StopEgress")) == 1
    assert (await start(client))[0] == 201


async def test_a_stop_of_an_egress_that_has_just_ended_leaves_it_ending(
    app: Running, fake_livekit: FakeLiveKit
) -> None:
    """LiveKit says it is not running (it ended; its egress_ended is on its way): the
    recording is ending, and that webhook completes it."""
    await live_room(app, fake_livekit)
    client = app.client()
    _, recording = await start(client)
    rid = recording["id"]
    await deliver(app, fake_livekit.egress.advance(rid, ACTIVE))
    ended = fake_livekit.egress.advance(rid, COMPLETE)  # its webhook not delivered yet
    status, stopped = await stop(client, rid)
    assert (status, stopped["status"]) == (200, "ending"), stopped
    assert not await recording_flag(client)
    await deliver(app, ended)
    assert await statuses(client) == {rid: "complete"}


async def test_stopping_an_unknown_or_another_rooms_recording_is_404(
    app: Running, fake_livekit: FakeLiveKit
) -> None:
    await live_room(app, fake_livekit)
    client = app.client()
    _, recording = await start(client)
    other = "forum"
    assert (await client.post("/v1/rooms", json={"name": other}, headers=AUTH)).status_code == 201
    for room, rid in ((ROOM, "EG_nothing"), (other, recording["id"])):
        response = await client.post(f"/v1/rooms/{room}/recordings/{rid}/stop", headers=AUTH)
        assert response.status_code == 404
        assert (await response.get_json())["code"] == "recording_not_found"
    assert fake_livekit.calls_to("StopEgress") == []


# -- list, managers ----------------------------------------------------------------


async def test_recordings_list_newest_first_in_pages(
    app: Running, fake_livekit: FakeLiveKit
) -> None:
    await live_room(app, fake_livekit)
    client = app.client()
    made = []
    for _ in range(3):
        _, recording = await start(client)
        made.append(recording["id"])
        await stop(client, recording["id"])
    first = await listed(client, "?limit=2")
    assert [r["id"] for r in first["items"]] == made[:0:-1]
    second = await listed(client, f"?limit=2&cursor={first['next_cursor']}")
    assert [r["id"] for r in second["items"]] == made[:1]
    assert second["next_cursor"] is None
    response = await client.get("/v1/rooms/nowhere/recordings", headers=AUTH)
    assert response.status_code == 404


async def test_only_the_rooms_managers_record(
    app: Running, fake_livekit: FakeLiveKit, clock: FakeClock
) -> None:
    client = app.client()
    owner, stranger = await sign_in(client, clock.now()), await sign_in(client, clock.now())
    await live_room(app, fake_livekit, owner=owner.address)
    status, body = await start(client, stranger.auth)
    assert (status, body["code"]) == (403, "forbidden")
    status, recording = await start(client, owner.auth)
    assert status == 201
    assert (await stop(client, recording["id"], stranger.auth))[0] == 403
    response = await client.get(f"/v1/rooms/{ROOM}/recordings", headers=stranger.auth)
    assert response.status_code == 403
    response = await client.get(f"/v1/rooms/{ROOM}/recordings", headers=owner.auth)
    assert [r["id"] for r in (await response.get_json())["items"]] == [recording["id"]]
    assert (await stop(client, recording["id"], owner.auth))[0] == 200


async def test_without_livekit_a_start_is_503(running: Running) -> None:
    client = running.client()
    assert (await client.post("/v1/rooms", json={"name": ROOM}, headers=AUTH)).status_code == 201
    room = room_info(ROOM, "RM_agora")
    await deliver(
        running,
        event("room_started", room),
        event("participant_joined", room, who=participant("ann", "PA_ann")),
    )
    status, body = await start(client)
    assert (status, body["code"]) == (503, "livekit_unavailable")
    assert (await listed(client))["items"] == []


async def test_s3_credentials_are_never_answered_or_logged(
    app: Running, fake_livekit: FakeLiveKit, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await live_room(app, fake_livekit)
    client = app.client()
    answers = []
    _, recording = await start(client)
    answers.append(recording)
    fake_livekit.fail_next("StartRoomCompositeEgress", "invalid_argument", msg=S3_SECRET)
    await stop(client, recording["id"])
    answers.append((await start(client))[1])
    answers.append(await listed(client))
    answers.append((await stop(client, recording["id"]))[1])
    for text in (repr(answers), caplog.text):
        assert S3_SECRET not in text
        assert S3_ACCESS_KEY not in text
    # Both are redacted from log lines wherever they would appear.
    assert {S3_SECRET, S3_ACCESS_KEY} <= set(app.services.settings.secrets())
