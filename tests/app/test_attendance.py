"""Attendance: every participant session of one room session, in join order, page by page.

Sessions are built as LiveKit builds them, by signed webhooks, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from livekit.protocol.models import DisconnectReason, ParticipantInfo
from livekit.protocol.webhook import WebhookEvent

from models import ParticipantSession, RoomSession
from tests.conftest import Client, Running, app_running
from tests.support.applied import apply_pending
from tests.support.clock import FakeClock
from tests.support.settings import AUTH, make_settings
from tests.support.wallets import SIWE_DOMAIN, sign_in
from tests.support.webhooks import audio_track, event, participant, room_info, signed

ROOM = "ama"
SID = "RM_ama"
START = 1_790_000_000


@pytest.fixture
async def app(database_url: str, clock: FakeClock) -> AsyncIterator[Running]:
    # Wallets may sign in, to ask as an owner and as a stranger.
    settings = make_settings(database_url, siwe_domain=SIWE_DOMAIN)
    async with app_running(settings, clock) as instance:
        yield instance


async def deliver(client: Client, message: WebhookEvent) -> None:
    body, headers = signed(message)
    response = await client.post("/v1/livekit/webhook", data=body, headers=headers)
    assert response.status_code == 200


async def make_room(client: Client, name: str = ROOM, headers: dict[str, str] = AUTH) -> None:
    response = await client.post("/v1/rooms", json={"name": name}, headers=headers)
    assert response.status_code == 201


async def attendance(
    client: Client,
    room: str = ROOM,
    sid: str = SID,
    headers: dict[str, str] = AUTH,
    query: dict[str, object] | None = None,
) -> tuple[int, Any]:
    response = await client.get(
        f"/v1/rooms/{room}/sessions/{sid}/participants",
        query_string={k: str(v) for k, v in (query or {}).items()},
        headers=headers,
    )
    return response.status_code, await response.get_json()


async def all_pages(client: Client, limit: int, sid: str = SID) -> list[dict[str, Any]]:
    """Every item, following `next_cursor` until there is none."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        query: dict[str, object] = {"limit": limit}
        if cursor is not None:
            query["cursor"] = cursor
        status, page = await attendance(client, sid=sid, query=query)
        assert status == 200, page
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert len(page["items"]) == limit  # only a full page has a next one
    raise AssertionError("no last page")


async def a_meeting(running: Running) -> None:
    """Alice joins, leaves and comes back; Bob and Carol stay until the room
    finishes; Erin's leave comes without its join (LiveKit gave no join time)."""
    client = running.client()
    room = room_info(ROOM, SID, created=START)
    alice = participant("alice", "PA_a1", joined_at=START + 10)
    alice_again = participant("alice", "PA_a2", joined_at=START + 50)
    bob = participant("bob", "PA_b", joined_at=START + 20)
    carol = participant("carol", "PA_c", joined_at=START + 30, kind=ParticipantInfo.Kind.AGENT)
    erin = participant("erin", "PA_e", reason=DisconnectReason.JOIN_FAILURE)
    await deliver(client, event("room_started", room, created_at=START))
    await deliver(client, event("participant_joined", room, who=alice, created_at=START + 10))
    await deliver(client, event("participant_joined", room, who=bob, created_at=START + 20))
    await deliver(client, event("participant_joined", room, who=carol, created_at=START + 30))
    await deliver(
        client,
        event("track_published", room, who=bob, track=audio_track("TR_b"), created_at=START + 35),
    )
    await deliver(client, event("participant_left", room, who=alice, created_at=START + 40))
    await deliver(client, event("participant_left", room, who=erin, created_at=START + 45))
    await deliver(client, event("participant_joined", room, who=alice_again, created_at=START + 50))
    await deliver(client, event("room_finished", room, created_at=START + 100))
    await apply_pending(running.services.rooms, ROOM)


async def test_every_participant_session_in_join_order_rejoins_included(app: Running) -> None:
    client = app.client()
    await make_room(client)
    await a_meeting(app)
    status, page = await attendance(client)
    assert status == 200
    assert page["next_cursor"] is None
    items = page["items"]
    # Joined ones by join time; one without a join time after them all.
    assert [(p["identity"], p["sid"]) for p in items] == [
        ("alice", "PA_a1"),
        ("bob", "PA_b"),
        ("carol", "PA_c"),
        ("alice", "PA_a2"),
        ("erin", "PA_e"),
    ]
    by_sid = {p["sid"]: p for p in items}
    first = by_sid["PA_a1"]
    assert set(first) == {
        "identity",
        "name",
        "sid",
        "kind",
        "joined_at",
        "left_at",
        "duration_seconds",
        "disconnect_reason",
        "track_count",
    }
    assert first["name"] == "Alice"
    assert first["duration_seconds"] == 30
    assert first["disconnect_reason"] == "CLIENT_INITIATED"
    joined = dt.datetime.fromisoformat(first["joined_at"])
    assert joined == dt.datetime.fromtimestamp(START + 10, dt.UTC)
    assert by_sid["PA_b"]["duration_seconds"] == 80
    assert by_sid["PA_b"]["disconnect_reason"] == "ROOM_CLOSED"
    assert by_sid["PA_b"]["track_count"] == 1
    assert by_sid["PA_c"]["kind"] == "agent"
    assert by_sid["PA_a2"]["duration_seconds"] == 50
    assert by_sid["PA_a1"]["kind"] == "standard"
    erin = by_sid["PA_e"]
    assert erin["joined_at"] is None
    assert erin["duration_seconds"] is None
    assert erin["disconnect_reason"] == "JOIN_FAILURE"
    assert erin["left_at"] is not None
    # The history route counts the same participant sessions.
    history = await (await client.get(f"/v1/rooms/{ROOM}/sessions", headers=AUTH)).get_json()
    assert history["items"][0]["participants_total"] == len(items)


async def test_one_still_connected_counts_its_time_until_now(
    app: Running, clock: FakeClock
) -> None:
    client = app.client()
    await make_room(client)
    now = int(clock.now().timestamp())
    room = room_info(ROOM, SID, created=now - 120)
    await deliver(client, event("room_started", room, created_at=now - 120))
    gil = participant("gil", "PA_g", joined_at=now - 60)
    await deliver(client, event("participant_joined", room, who=gil, created_at=now - 60))
    await apply_pending(app.services.rooms, ROOM)
    status, page = await attendance(client)
    assert status == 200
    [item] = page["items"]
    assert (item["sid"], item["left_at"], item["duration_seconds"]) == ("PA_g", None, 60)
    clock.advance(30)
    status, page = await attendance(client)
    assert page["items"][0]["duration_seconds"] == 90


async def test_pages_of_two_return_every_participant_session_exactly_once(
    app: Running,
) -> None:
    client = app.client()
    await make_room(client)
    await a_meeting(app)
    whole = (await attendance(client))[1]["items"]
    assert len(whole) == 5
    assert await all_pages(client, 2) == whole
    assert await all_pages(client, 1) == whole
    assert await all_pages(client, 5) == whole
    # A page boundary between two rows of one join time (their order: by id).
    session = await RoomSession.get(sid=SID)
    tied = dt.datetime.fromtimestamp(START + 20, dt.UTC)
    for index in range(3):
        await ParticipantSession.create(
            sid=f"PA_tie{index}", room_session=session, identity=f"tie{index}", joined_at=tied
        )
    pages = await all_pages(client, 2)
    assert [p["sid"] for p in pages] == [
        "PA_a1",
        "PA_b",
        "PA_tie0",
        "PA_tie1",
        "PA_tie2",
        "PA_c",
        "PA_a2",
        "PA_e",
    ]


async def test_a_page_is_stable_while_people_join(app: Running) -> None:
    """The cursor is a place in join order: who joins meanwhile comes later,
    nobody is skipped or listed twice."""
    client = app.client()
    await make_room(client)
    room = room_info(ROOM, SID, created=START)
    await deliver(client, event("room_started", room, created_at=START))
    for index in range(3):
        who = participant(f"early{index}", f"PA_e{index}", joined_at=START + 1 + index)
        await deliver(client, event("participant_joined", room, who=who, created_at=START + 1))
    await apply_pending(app.services.rooms, ROOM)
    status, first = await attendance(client, query={"limit": 2})
    assert status == 200
    assert [p["sid"] for p in first["items"]] == ["PA_e0", "PA_e1"]
    late = participant("late", "PA_late", joined_at=START + 10)
    await deliver(client, event("participant_joined", room, who=late, created_at=START + 10))
    await apply_pending(app.services.rooms, ROOM)
    status, second = await attendance(client, query={"limit": 2, "cursor": first["next_cursor"]})
    assert [p["sid"] for p in second["items"]] == ["PA_e2", "PA_late"]
    assert second["next_cursor"] is None


async def test_a_large_meeting_is_listed_whole_and_only_its_own(app: Running) -> None:
    """A 500-person AMA has 500 attendees, not the first 100; another session's
    participants (the same room name, reused) are not among them."""
    client = app.client()
    await make_room(client)
    await deliver(client, event("room_started", room_info(ROOM, SID, created=START)))
    await apply_pending(app.services.rooms, ROOM)
    session = await RoomSession.get(sid=SID)
    other = await RoomSession.create(
        sid="RM_before",
        room_name=ROOM,
        started_at=dt.datetime.fromtimestamp(START - 1000, dt.UTC),
        ended_at=dt.datetime.fromtimestamp(START - 500, dt.UTC),
    )
    base = dt.datetime.fromtimestamp(START, dt.UTC)
    await ParticipantSession.bulk_create(
        [
            ParticipantSession(
                sid=f"PA_{index:04d}",
                room_session=session,
                identity=f"user-{index:04d}",
                # Twenty joins a second: many share a join time.
                joined_at=base + dt.timedelta(seconds=index // 20),
            )
            for index in range(520)
        ]
        + [
            ParticipantSession(
                sid=f"PA_old{index}", room_session=other, identity=f"old-{index}", joined_at=base
            )
            for index in range(5)
        ]
    )
    status, page = await attendance(client)
    assert status == 200
    assert len(page["items"]) == 100
    assert page["next_cursor"] is not None
    status, page = await attendance(client, query={"limit": 500})
    assert len(page["items"]) == 500
    everyone = await all_pages(client, 100)
    assert [p["sid"] for p in everyone] == [f"PA_{index:04d}" for index in range(520)]
    assert [p["sid"] for p in await all_pages(client, 7, sid="RM_before")] == [
        f"PA_old{index}" for index in range(5)
    ]


@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ({"limit": 0}, ["query", "limit"]),
        ({"limit": 501}, ["query", "limit"]),
        ({"limit": "many"}, ["query", "limit"]),
        ({"cursor": "not-a-cursor"}, ["query", "cursor"]),
        ({"page": 2}, ["query", "page"]),
    ],
)
async def test_bad_paging_is_422_in_the_one_shape(
    app: Running, query: dict[str, object], loc: list[str]
) -> None:
    client = app.client()
    await make_room(client)
    await a_meeting(app)
    status, body = await attendance(client, query=query)
    assert status == 422
    assert body["code"] == "validation_error"
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert [e["loc"] for e in body["errors"]] == [loc]


async def test_a_cursor_that_is_not_of_this_session_gives_an_empty_page(app: Running) -> None:
    client = app.client()
    await make_room(client)
    await a_meeting(app)
    for cursor in ("0", "999999", "999999999999999999"):
        status, page = await attendance(client, query={"cursor": cursor})
        assert (status, page) == (200, {"items": [], "next_cursor": None})


async def test_unknown_sessions_and_rooms_are_404(app: Running) -> None:
    client = app.client()
    await make_room(client)
    await a_meeting(app)
    await make_room(client, "other-room")
    other = room_info("other-room", "RM_other", created=START)
    await deliver(client, event("room_started", other, created_at=START))
    await apply_pending(app.services.rooms, "other-room")
    assert (await attendance(client, room="other-room", sid="RM_other"))[0] == 200

    for sid in ("RM_nothing", "RM_other", "x" * 200):
        status, body = await attendance(client, sid=sid)
        assert (status, body["code"]) == (404, "session_not_found"), sid
        assert body["detail"]
    status, body = await attendance(client, room="no-such-room")
    assert (status, body["code"]) == (404, "room_not_found")


async def test_only_the_rooms_managers_may_read_its_attendance(
    app: Running, clock: FakeClock
) -> None:
    client = app.client()
    alice = await sign_in(client, clock.now())
    bob = await sign_in(client, clock.now())
    await make_room(client, headers=alice.auth)
    await a_meeting(app)
    status, body = await attendance(client, headers=bob.auth)
    assert (status, body["code"]) == (403, "forbidden")
    # Before the session is looked up: a stranger learns nothing about sids.
    status, body = await attendance(client, sid="RM_nothing", headers=bob.auth)
    assert (status, body["code"]) == (403, "forbidden")
    status, page = await attendance(client, headers=alice.auth)
    assert (status, len(page["items"])) == (200, 5)
    status, page = await attendance(client)  # a service
    assert (status, len(page["items"])) == (200, 5)
    status, body = await attendance(client, room="no-such-room", headers=bob.auth)
    assert (status, body["code"]) == (404, "room_not_found")
    # A room no wallet owns is the services' alone.
    await make_room(client, "services-room")
    status, body = await attendance(client, room="services-room", headers=alice.auth)
    assert (status, body["code"]) == (403, "forbidden")
