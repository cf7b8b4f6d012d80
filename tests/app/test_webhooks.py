"""LiveKit webhooks: signed exactly as LiveKit signs them, stored, then applied in order."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from livekit import api
from livekit.protocol.egress import EgressInfo
from livekit.protocol.ingress import IngressInfo
from livekit.protocol.models import DisconnectReason
from livekit.protocol.webhook import WebhookEvent

from actors.room.protocol import ListParticipants
from app.inbox_writer import InboxEntry
from models import ParticipantSession, RoomSession, WebhookInbox
from tests.conftest import Client, Running, app_running
from tests.support.applied import apply_pending
from tests.support.clock import EPOCH, FakeClock
from tests.support.postgres import truncate_tables, unreachable
from tests.support.settings import AUTH, LIVEKIT_KEY, make_settings
from tests.support.webhooks import (
    audio_track,
    event,
    participant,
    room_info,
    serialise,
    sign,
    signed,
)

ROOM = "town-hall"
SID = "RM_first"


async def deliver(client: Client, message: WebhookEvent) -> int:
    body, headers = signed(message)
    response = await client.post("/v1/livekit/webhook", data=body, headers=headers)
    if response.status_code == 200:
        assert await response.get_json() == {"status": "ok"}
    return response.status_code


async def settle(running: Running, room: str = ROOM) -> None:
    """Wait until the room's actor has applied everything stored so far."""
    await apply_pending(running.services.rooms, room)


async def store(message: WebhookEvent, payload: str | None = None) -> None:
    """Put an event in the inbox as the route would, without telling its room's actor."""
    await WebhookInbox.create(
        event_id=message.id,
        event_type=message.event,
        room_name=message.room.name,
        room_sid=message.room.sid or None,
        livekit_created_at=message.created_at,
        payload=serialise(message).decode() if payload is None else payload,
        # By the app's clock (the fake one starts there and only goes forward).
        received_at=EPOCH,
    )


async def make_room(client: Client, name: str = ROOM, **fields: object) -> None:
    response = await client.post("/v1/rooms", json={"name": name, **fields}, headers=AUTH)
    assert response.status_code == 201


async def live_identities(client: Client, room: str = ROOM) -> list[str]:
    response = await client.get(f"/v1/rooms/{room}/participants", headers=AUTH)
    assert response.status_code == 200
    return sorted(p["identity"] for p in (await response.get_json())["items"])


# -- verification ------------------------------------------------------------------


def _room_started() -> WebhookEvent:
    return event("room_started", room_info(ROOM, SID))


async def test_valid_event_is_stored_and_acknowledged(client: Client) -> None:
    message = _room_started()
    assert await deliver(client, message) == 200
    row = await WebhookInbox.get(event_id=message.id)
    assert row.event_type == "room_started"
    assert row.room_name == ROOM
    assert row.room_sid == SID
    assert row.livekit_created_at == message.created_at


@pytest.mark.parametrize(
    "case", ["missing", "garbage", "wrong_secret", "expired", "other_body", "bearer_no_sha"]
)
async def test_bad_signature_is_401_and_stores_nothing(client: Client, case: str) -> None:
    body = serialise(_room_started())
    headers = {"Content-Type": "application/webhook+json"}
    if case == "garbage":
        headers["Authorization"] = "not-a-jwt"
    elif case == "wrong_secret":
        headers["Authorization"] = sign(body, secret="wrong-secret-0123456789-0123456789-01")
    elif case == "expired":
        import base64
        import hashlib

        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        from tests.support.settings import LIVEKIT_SECRET

        headers["Authorization"] = (
            api.AccessToken(LIVEKIT_KEY, LIVEKIT_SECRET)
            .with_sha256(digest)
            .with_ttl(dt.timedelta(minutes=-5))
            .to_jwt()
        )
    elif case == "other_body":
        headers["Authorization"] = sign(body + b" ")
    elif case == "bearer_no_sha":
        from tests.support.settings import LIVEKIT_SECRET

        headers["Authorization"] = api.AccessToken(LIVEKIT_KEY, LIVEKIT_SECRET).to_jwt()
    response = await client.post("/v1/livekit/webhook", data=body, headers=headers)
    assert response.status_code == 401
    assert (await response.get_json())["code"] == "unauthorized"
    assert await WebhookInbox.all().count() == 0


@pytest.mark.parametrize("body", [b"[1, 2]", b'{"event": 5}', b"not json", b'{"room": {}}'])
async def test_signed_but_not_an_event_is_400(client: Client, body: bytes) -> None:
    response = await client.post(
        "/v1/livekit/webhook",
        data=body,
        headers={"Authorization": sign(body), "Content-Type": "application/webhook+json"},
    )
    assert response.status_code == 400
    assert (await response.get_json())["code"] == "invalid_event"
    assert await WebhookInbox.all().count() == 0


# -- duplicates --------------------------------------------------------------------


async def test_duplicate_is_acknowledged_and_applied_once(running: Running) -> None:
    client = running.client()
    await make_room(client)
    await deliver(client, _room_started())
    joined = event("participant_joined", room_info(ROOM, SID), who=participant("alice", "PA_alice"))
    published = event(
        "track_published",
        room_info(ROOM, SID),
        who=participant("alice", "PA_alice"),
        track=audio_track("TR_1"),
    )
    for message in (joined, published, published, joined, published):
        assert await deliver(client, message) == 200
    await settle(running)
    assert await WebhookInbox.all().count() == 3
    row = await ParticipantSession.get(sid="PA_alice")
    assert row.track_count == 1
    assert await ParticipantSession.all().count() == 1


async def test_concurrent_duplicates_of_one_id(running: Running) -> None:
    client = running.client()
    await deliver(client, _room_started())
    await deliver(
        client, event("participant_joined", room_info(ROOM, SID), who=participant("bob", "PA_bob"))
    )
    message = event(
        "track_published",
        room_info(ROOM, SID),
        who=participant("bob", "PA_bob"),
        track=audio_track("TR_b"),
    )
    statuses = await asyncio.gather(*(deliver(client, message) for _ in range(25)))
    assert statuses == [200] * 25
    await settle(running)
    assert await WebhookInbox.filter(event_id=message.id).count() == 1
    assert (await ParticipantSession.get(sid="PA_bob")).track_count == 1


# -- every event type ------------------------------------------------------------------


async def test_a_whole_meeting(running: Running) -> None:
    client = running.client()
    await make_room(client)
    room = room_info(ROOM, SID, created=1_790_000_000)
    alice = participant("alice", "PA_a", joined_at=1_790_000_010)
    bob = participant("bob", "PA_b", joined_at=1_790_000_020)

    await deliver(client, event("room_started", room, created_at=1_790_000_000))
    await settle(running)
    state = await (await client.get(f"/v1/rooms/{ROOM}", headers=AUTH)).get_json()
    assert state["status"] == "live"
    assert state["livekit_sid"] == SID

    await deliver(client, event("participant_joined", room, who=alice, created_at=1_790_000_010))
    await deliver(client, event("participant_joined", room, who=bob, created_at=1_790_000_020))
    await deliver(
        client,
        event(
            "track_published", room, who=alice, track=audio_track("TR_a"), created_at=1_790_000_030
        ),
    )
    await settle(running)
    assert await live_identities(client) == ["alice", "bob"]
    participants = (
        await (await client.get(f"/v1/rooms/{ROOM}/participants", headers=AUTH)).get_json()
    )["items"]
    assert {p["identity"]: len(p["tracks"]) for p in participants} == {"alice": 1, "bob": 0}
    state = await (await client.get(f"/v1/rooms/{ROOM}", headers=AUTH)).get_json()
    assert state["num_participants"] == 2

    await deliver(
        client,
        event(
            "track_unpublished",
            room,
            who=alice,
            track=audio_track("TR_a"),
            created_at=1_790_000_040,
        ),
    )
    await deliver(client, event("participant_left", room, who=bob, created_at=1_790_000_050))
    await settle(running)
    assert await live_identities(client) == ["alice"]
    assert (await ParticipantSession.get(sid="PA_a")).track_count == 0

    egress = event("egress_started", room, created_at=1_790_000_055)
    egress.egress_info.CopyFrom(EgressInfo(egress_id="EG_1", room_name=ROOM))
    ingress = event("ingress_started", room, created_at=1_790_000_056)
    ingress.ingress_info.CopyFrom(IngressInfo(ingress_id="IN_1", room_name=ROOM))
    assert await deliver(client, egress) == 200
    assert await deliver(client, ingress) == 200

    await deliver(client, event("room_finished", room, created_at=1_790_000_100))
    await settle(running)
    assert await live_identities(client) == []
    state = await (await client.get(f"/v1/rooms/{ROOM}", headers=AUTH)).get_json()
    assert state["status"] == "idle"
    assert state["num_participants"] == 0
    assert await WebhookInbox.filter(processed_at=None).count() == 0

    sessions = (await (await client.get(f"/v1/rooms/{ROOM}/sessions", headers=AUTH)).get_json())[
        "items"
    ]
    assert len(sessions) == 1
    session = sessions[0]
    assert session["sid"] == SID
    assert session["duration_seconds"] == 100
    by_identity = {p["identity"]: p for p in session["participants"]}
    assert by_identity["bob"]["duration_seconds"] == 30
    assert by_identity["bob"]["disconnect_reason"] == "CLIENT_INITIATED"
    assert by_identity["alice"]["left_at"] is not None
    assert by_identity["alice"]["disconnect_reason"] == "ROOM_CLOSED"


async def test_connection_aborted_without_a_join(running: Running) -> None:
    client = running.client()
    await make_room(client)
    room = room_info(ROOM, SID)
    await deliver(client, event("room_started", room))
    aborted = participant("carol", "PA_c", reason=DisconnectReason.JOIN_FAILURE)
    assert await deliver(client, event("participant_connection_aborted", room, who=aborted)) == 200
    await settle(running)
    row = await ParticipantSession.get(sid="PA_c")
    assert row.left_at is not None
    assert row.disconnect_reason == "JOIN_FAILURE"
    assert await live_identities(client) == []


async def test_duplicate_identity_keeps_the_newer_connection(running: Running) -> None:
    client = running.client()
    await make_room(client)
    room = room_info(ROOM, SID)
    await deliver(client, event("room_started", room))
    await deliver(client, event("participant_joined", room, who=participant("dan", "PA_old")))
    await deliver(client, event("participant_joined", room, who=participant("dan", "PA_new")))
    kicked = participant("dan", "PA_old", reason=DisconnectReason.DUPLICATE_IDENTITY)
    await deliver(client, event("participant_left", room, who=kicked))
    await settle(running)
    participants = (
        await (await client.get(f"/v1/rooms/{ROOM}/participants", headers=AUTH)).get_json()
    )["items"]
    assert [(p["identity"], p["sid"]) for p in participants] == [("dan", "PA_new")]
    assert (await ParticipantSession.get(sid="PA_old")).disconnect_reason == "DUPLICATE_IDENTITY"


# -- out of order, reuse, unknown rooms ----------------------------------------------------


async def test_an_older_join_never_undoes_a_newer_leave(running: Running) -> None:
    client = running.client()
    await make_room(client)
    room = room_info(ROOM, SID)
    erin = participant("erin", "PA_e", joined_at=1_790_000_010)
    await deliver(client, event("room_started", room, created_at=1_790_000_000))
    # The leave arrives first; the join (a late retry) after it.
    await deliver(client, event("participant_left", room, who=erin, created_at=1_790_000_050))
    await settle(running)
    await deliver(client, event("participant_joined", room, who=erin, created_at=1_790_000_010))
    await settle(running)
    assert await live_identities(client) == []
    row = await ParticipantSession.get(sid="PA_e")
    assert row.left_at is not None


async def test_events_stored_together_apply_in_livekit_order(running: Running) -> None:
    """Events that wait in the inbox are applied by LiveKit's created_at, not arrival."""
    client = running.client()
    await make_room(client)
    room = room_info(ROOM, SID)
    frank = participant("frank", "PA_f")
    events = [
        event("room_started", room, created_at=1_790_000_000),
        event("participant_left", room, who=frank, created_at=1_790_000_030),
        event("participant_joined", room, who=frank, created_at=1_790_000_020),
    ]
    # Stored while the room's actor is busy elsewhere: apply all at once.
    for message in reversed(events):
        await store(message)
    await settle(running)
    row = await ParticipantSession.get(sid="PA_f")
    assert row.joined_at is not None
    assert row.left_at is not None
    assert row.left_at > row.joined_at


async def test_a_wall_clock_that_steps_back_holds_no_event_back(
    running: Running, clock: FakeClock
) -> None:
    """A round reads the events received up to its snapshot; one stamped before an
    NTP step back is still in the past, and is applied."""
    client = running.client()
    await make_room(client)
    room = room_info(ROOM, SID)
    assert await deliver(client, event("room_started", room)) == 200
    await settle(running)
    joined = event("participant_joined", room, who=participant("ann", "PA_a"))
    # Stored (stamped now) as the route would, its room not told yet...
    await running.services.inbox.store(
        InboxEntry(
            joined.id, joined.event, ROOM, SID, joined.created_at, serialise(joined).decode()
        )
    )
    clock.advance(-3600)  # ... when the wall clock steps back an hour.
    await settle(running)
    assert await live_identities(client) == ["ann"]
    assert await WebhookInbox.filter(processed_at=None).count() == 0


async def test_reused_room_name_starts_a_new_session(running: Running) -> None:
    client = running.client()
    await make_room(client)
    first, second = room_info(ROOM, "RM_one"), room_info(ROOM, "RM_two")
    await deliver(client, event("room_started", first, created_at=1_790_000_000))
    await deliver(
        client,
        event(
            "participant_joined", first, who=participant("gil", "PA_g1"), created_at=1_790_000_010
        ),
    )
    await deliver(client, event("room_finished", first, created_at=1_790_000_100))
    await deliver(client, event("room_started", second, created_at=1_790_000_200))
    await deliver(
        client,
        event(
            "participant_joined", second, who=participant("gil", "PA_g2"), created_at=1_790_000_210
        ),
    )
    await settle(running)
    sessions = (await (await client.get(f"/v1/rooms/{ROOM}/sessions", headers=AUTH)).get_json())[
        "items"
    ]
    assert [s["sid"] for s in sessions] == ["RM_two", "RM_one"]
    assert sessions[1]["ended_at"] is not None
    assert sessions[0]["ended_at"] is None
    state = await (await client.get(f"/v1/rooms/{ROOM}", headers=AUTH)).get_json()
    assert state["livekit_sid"] == "RM_two"
    assert await live_identities(client) == ["gil"]


async def test_new_sid_without_room_finished_closes_the_old_session(running: Running) -> None:
    client = running.client()
    await make_room(client)
    old, new = room_info(ROOM, "RM_lost"), room_info(ROOM, "RM_next")
    await deliver(client, event("room_started", old, created_at=1_790_000_000))
    await deliver(
        client,
        event("participant_joined", old, who=participant("hal", "PA_h"), created_at=1_790_000_010),
    )
    # room_finished for RM_lost never comes.
    await deliver(client, event("room_started", new, created_at=1_790_000_500))
    await settle(running)
    assert (await RoomSession.get(sid="RM_lost")).ended_at is not None
    assert (await ParticipantSession.get(sid="PA_h")).left_at is not None
    assert await live_identities(client) == []


async def test_events_for_an_unknown_room_are_kept_by_sid(running: Running) -> None:
    client = running.client()
    ghost = room_info("ghost-room", "RM_ghost")
    await deliver(client, event("room_started", ghost))
    await deliver(client, event("participant_joined", ghost, who=participant("ivy", "PA_i")))
    await settle(running, "ghost-room")
    assert await RoomSession.filter(sid="RM_ghost").count() == 1
    assert await ParticipantSession.filter(sid="PA_i").count() == 1
    # Creating the room afterwards shows it live, with the sid LiveKit gave it.
    await make_room(client, "ghost-room")
    state = await (await client.get("/v1/rooms/ghost-room", headers=AUTH)).get_json()
    assert state["status"] == "live"
    assert state["livekit_sid"] == "RM_ghost"
    assert state["num_participants"] == 1


# -- webhooks racing tokens ------------------------------------------------------------------


async def test_joins_racing_token_requests_keep_capacity_exact(running: Running) -> None:
    client = running.client()
    await make_room(client, max_participants=10)
    room = room_info(ROOM, SID)
    await deliver(client, event("room_started", room))
    holders = [f"holder-{i}" for i in range(10)]
    for identity in holders:
        status = (
            await client.post(f"/v1/rooms/{ROOM}/token", json={"identity": identity}, headers=AUTH)
        ).status_code
        assert status == 200
    joins = [
        deliver(client, event("participant_joined", room, who=participant(identity, f"PA_{i}")))
        for i, identity in enumerate(holders)
    ]
    newcomers = [
        client.post(f"/v1/rooms/{ROOM}/token", json={"identity": f"new-{i}"}, headers=AUTH)
        for i in range(40)
    ]
    again = [
        client.post(f"/v1/rooms/{ROOM}/token", json={"identity": identity}, headers=AUTH)
        for identity in holders
    ]
    results = await asyncio.gather(*joins, *newcomers, *again)
    join_statuses = results[:10]
    newcomer_statuses = [r.status_code for r in results[10:50]]
    again_statuses = [r.status_code for r in results[50:]]
    assert join_statuses == [200] * 10
    assert newcomer_statuses == [409] * 40
    assert again_statuses == [200] * 10
    await settle(running)
    assert len(await live_identities(client)) == 10
    # A leave frees a place for exactly one newcomer.
    await deliver(client, event("participant_left", room, who=participant("holder-0", "PA_0")))
    await settle(running)
    statuses = [
        (
            await client.post(
                f"/v1/rooms/{ROOM}/token", json={"identity": f"late-{i}"}, headers=AUTH
            )
        ).status_code
        for i in range(3)
    ]
    assert statuses == [200, 409, 409]


# -- failures ------------------------------------------------------------------------------


async def test_event_that_fails_to_apply_is_retried_then_kept(
    database_url: str, clock: FakeClock
) -> None:
    async with app_running(make_settings(database_url, webhook_max_attempts=2), clock) as running:
        client = running.client()
        bad = event("room_started", room_info(ROOM, SID))
        # A stored payload that cannot be parsed any more: applying it fails.
        await store(bad, payload=serialise(bad).decode().replace("{", "[", 1))
        await settle(running)
        await settle(running)
        await settle(running)
        row = await WebhookInbox.get(event_id=bad.id)
        assert row.processed_at is None
        assert row.attempts == 2
        assert row.last_error
        # The room goes on: later events still apply.
        assert await deliver(client, event("room_started", room_info(ROOM, "RM_2"))) == 200
        await settle(running)
        assert await RoomSession.filter(sid="RM_2").count() == 1


async def test_stored_events_are_applied_at_start_up(database_url: str, clock: FakeClock) -> None:
    """Crash recovery: events in the inbox but not applied are applied when the app starts."""
    message = event("room_started", room_info(ROOM, SID))
    async with app_running(make_settings(database_url), clock):
        await store(message)
    async with app_running(make_settings(database_url), clock) as second:
        await settle(second)
        assert (await WebhookInbox.get(event_id=message.id)).processed_at is not None
        assert await RoomSession.filter(sid=SID).count() == 1


async def test_database_down_is_503_then_recovery_loses_nothing(
    postgres_url: str, clock: FakeClock
) -> None:
    """PostgreSQL goes away mid-stream: 503s (LiveKit retries), then every retry lands."""
    await truncate_tables(postgres_url)
    async with app_running(make_settings(postgres_url), clock) as running:
        client = running.client()
        room = room_info(ROOM, SID)
        await deliver(client, event("room_started", room))
        people = [participant(f"p{i}", f"PA_{i}") for i in range(6)]
        messages = [event("participant_joined", room, who=p) for p in people]
        assert await deliver(client, messages[0]) == 200

        async with unreachable(postgres_url):
            statuses = [await deliver(client, m) for m in messages[1:4]]
            assert statuses == [503, 503, 503]
            ready = await client.get("/v1/health/ready")
            assert ready.status_code == 503

        # LiveKit retries what got a 503, then sends the rest.
        for message in messages[1:]:
            assert await deliver(client, message) == 200
        await settle(running)
        assert sorted(await live_identities_unchecked(running)) == [p.identity for p in people]
        assert await WebhookInbox.filter(processed_at=None).count() == 0


async def live_identities_unchecked(running: Running) -> list[str]:
    return sorted(row.identity for row in await ParticipantSession.filter(left_at=None))


@pytest.mark.parametrize(
    "kind",
    [
        "egress_started",
        "egress_updated",
        "egress_ended",
        "ingress_started",
        "ingress_ended",
    ],
)
async def test_egress_and_ingress_events_are_kept(running: Running, kind: str) -> None:
    client = running.client()
    message = event(kind, room_info(ROOM, SID))
    if kind.startswith("egress"):
        message.egress_info.CopyFrom(EgressInfo(egress_id="EG_1", room_name=ROOM))
    else:
        message.ingress_info.CopyFrom(IngressInfo(ingress_id="IN_1", room_name=ROOM))
    message.ClearField("room")  # egress and ingress events name the room in their own info
    assert await deliver(client, message) == 200
    await settle(running)
    row = await WebhookInbox.get(event_id=message.id)
    assert row.event_type == kind
    assert row.room_name == ROOM
    assert row.processed_at is not None


async def test_one_bad_event_in_a_backlog_does_not_hold_back_the_rest(running: Running) -> None:
    """A backlog is applied together; if one event fails, the others still apply."""
    client = running.client()
    await make_room(client)
    room = room_info(ROOM, SID)
    good = [
        event("room_started", room, created_at=1_790_000_000),
        event("participant_joined", room, who=participant("una", "PA_u"), created_at=1_790_000_010),
        event("participant_joined", room, who=participant("vic", "PA_v"), created_at=1_790_000_030),
    ]
    bad = event(
        "participant_joined", room, who=participant("wes", "PA_w"), created_at=1_790_000_020
    )
    for message in good:
        await store(message)
    await store(bad, payload="[not an event")
    await settle(running)
    assert await live_identities(client) == ["una", "vic"]
    assert await WebhookInbox.filter(processed_at=None).count() == 1
    failed = await WebhookInbox.get(event_id=bad.id)
    assert failed.attempts == 1
    assert failed.last_error


async def test_an_event_too_large_for_the_inbox_is_400_not_a_retry_loop(client: Client) -> None:
    """A 503 would make LiveKit retry an event that can never be stored."""
    message = event("room_started", room_info("r" * 200, SID))
    assert await deliver(client, message) == 400
    message = event("room_started", room_info(ROOM, SID), event_id="E" * 300)
    assert await deliver(client, message) == 400
    assert await WebhookInbox.all().count() == 0


async def test_a_whole_meeting_stored_at_once_applies_as_one_batch(running: Running) -> None:
    """Joins, tracks, leaves and the finish in one backlog give the same rows as one by one."""
    client = running.client()
    await make_room(client)
    room = room_info(ROOM, SID)
    xena, yuri = participant("xena", "PA_x"), participant("yuri", "PA_y")
    backlog = [
        event("room_started", room, created_at=1_790_000_000),
        event("participant_joined", room, who=xena, created_at=1_790_000_010),
        event("participant_joined", room, who=yuri, created_at=1_790_000_020),
        event(
            "track_published", room, who=xena, track=audio_track("TR_x"), created_at=1_790_000_030
        ),
        event("participant_left", room, who=yuri, created_at=1_790_000_040),
        event("room_finished", room, created_at=1_790_000_100),
    ]
    for message in backlog:
        await store(message)
    await settle(running)
    x = await ParticipantSession.get(sid="PA_x")
    y = await ParticipantSession.get(sid="PA_y")
    assert (x.track_count, x.disconnect_reason) == (1, "ROOM_CLOSED")
    assert y.disconnect_reason == "CLIENT_INITIATED"
    assert y.left_at == dt.datetime.fromtimestamp(1_790_000_040, tz=dt.UTC)
    assert (await RoomSession.get(sid=SID)).ended_at is not None
    assert await live_identities(client) == []
    assert await WebhookInbox.filter(processed_at=None).count() == 0


async def test_the_periodic_sweep_applies_what_no_one_announced(running: Running) -> None:
    """A stored event whose nudge was lost (actor retired, database away) is still applied."""
    client = running.client()
    await make_room(client)
    message = event("room_started", room_info(ROOM, SID))
    await store(message)  # stored, never told
    await running.services.rooms.ask(ROOM, ListParticipants())  # the actor is up, idle
    assert (await WebhookInbox.get(event_id=message.id)).processed_at is None
    await running.sleep.tick()  # one sweep round
    await running.services.rooms.ask(ROOM, ListParticipants())  # after the sweep's nudge
    round_out = running.services.committer.in_flight(ROOM)
    assert round_out is not None  # the nudge handed the room to the committer
    await asyncio.wait_for(round_out, 10)
    assert (await WebhookInbox.get(event_id=message.id)).processed_at is not None
    state = await (await client.get(f"/v1/rooms/{ROOM}", headers=AUTH)).get_json()
    assert state["status"] == "live"


async def test_a_database_blip_keeps_the_room_and_its_seats(
    postgres_url: str, clock: FakeClock
) -> None:
    """Applying events while PostgreSQL is away neither restarts the room nor frees seats."""
    await truncate_tables(postgres_url)
    async with app_running(make_settings(postgres_url), clock) as running:
        client = running.client()
        await make_room(client, max_participants=2)
        for identity in ("a", "b"):
            response = await client.post(
                f"/v1/rooms/{ROOM}/token", json={"identity": identity}, headers=AUTH
            )
            assert response.status_code == 200
        async with unreachable(postgres_url):
            assert await apply_pending(running.services.rooms, ROOM) == 0
        response = await client.post(
            f"/v1/rooms/{ROOM}/token", json={"identity": "c"}, headers=AUTH
        )
        assert response.status_code == 409
        assert running.services.rooms.total_restarts == 0


async def test_an_event_with_nul_in_its_names_is_400(client: Client) -> None:
    message = event("room_started", room_info("bad\x00room", SID))
    assert await deliver(client, message) == 400
    assert await WebhookInbox.all().count() == 0


async def test_ops_see_pending_and_failed_events(database_url: str, clock: FakeClock) -> None:
    async with app_running(make_settings(database_url, webhook_max_attempts=1), clock) as running:
        client = running.client()
        bad = event("room_started", room_info(ROOM, SID))
        await store(bad, payload="[broken")
        waiting = event("room_started", room_info("other-room", "RM_o"))
        await store(waiting)
        await settle(running)  # ROOM's bad event fails once: with a limit of 1, it is kept
        report = await (await client.get("/v1/ops/webhooks", headers=AUTH)).get_json()
        assert report["pending"] == 1  # other-room's, never nudged
        assert report["failed"] == 1
        (failed,) = report["failed_events"]
        assert failed["event_id"] == bad.id
        assert failed["attempts"] == 1
        assert failed["last_error"]
