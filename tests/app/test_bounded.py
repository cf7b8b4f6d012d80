"""Lists and tables stay bounded: sessions in pages, webhook payloads pruned after retention."""

from __future__ import annotations

import datetime as dt

from app.blueprints.presence import PARTICIPANTS_PER_SESSION
from app.lifecycle import prune_webhook_payloads
from models import ParticipantSession, RoomSession, WebhookInbox
from tests.conftest import Client, Running
from tests.support.applied import apply_pending
from tests.support.clock import EPOCH, FakeClock
from tests.support.settings import AUTH
from tests.support.webhooks import event, room_info, signed

ROOM = "history"


async def make_room(client: Client) -> None:
    response = await client.post("/v1/rooms", json={"name": ROOM}, headers=AUTH)
    assert response.status_code == 201


async def sessions_page(client: Client, query: str = "") -> dict[str, object]:
    response = await client.get(f"/v1/rooms/{ROOM}/sessions{query}", headers=AUTH)
    assert response.status_code == 200, await response.get_data(as_text=True)
    page: dict[str, object] = await response.get_json()
    return page


async def test_sessions_page_newest_first_with_a_cursor(running: Running) -> None:
    client = running.client()
    await make_room(client)
    # Two share a start time: the id breaks the tie, so no page skips or repeats one.
    starts = [0, 10, 10, 20, 30]
    for n, offset in enumerate(starts):
        await RoomSession.create(
            sid=f"RM_{n}", room_name=ROOM, started_at=EPOCH + dt.timedelta(seconds=offset)
        )
    seen: list[str] = []
    query = "?limit=2"
    for _ in range(5):
        page = await sessions_page(client, query)
        items = page["items"]
        assert isinstance(items, list)
        assert len(items) <= 2
        seen.extend(item["sid"] for item in items)
        if page["next_cursor"] is None:
            break
        query = f"?limit=2&cursor={page['next_cursor']}"
    assert seen == ["RM_4", "RM_3", "RM_2", "RM_1", "RM_0"]


async def test_session_paging_rejects_bad_parameters(client: Client) -> None:
    await make_room(client)
    for query in ("?limit=0", "?limit=101", "?cursor=abc", "?limits=5"):
        response = await client.get(f"/v1/rooms/{ROOM}/sessions{query}", headers=AUTH)
        assert response.status_code == 422, query
    # A cursor this room never gave out is an empty page, not an error.
    page = await sessions_page(client, "?cursor=999999")
    assert page == {"items": [], "next_cursor": None}


async def test_a_session_lists_its_first_participants_and_their_total(running: Running) -> None:
    client = running.client()
    await make_room(client)
    session = await RoomSession.create(sid="RM_big", room_name=ROOM, started_at=EPOCH)
    total = PARTICIPANTS_PER_SESSION + 5
    await ParticipantSession.bulk_create(
        [
            ParticipantSession(
                sid=f"PA_{n:04d}",
                room_session=session,
                identity=f"p{n}",
                joined_at=EPOCH + dt.timedelta(seconds=n),
            )
            for n in range(total)
        ]
    )
    page = await sessions_page(client)
    items = page["items"]
    assert isinstance(items, list)
    (only,) = items
    assert only["participants_total"] == total
    assert len(only["participants"]) == PARTICIPANTS_PER_SESSION
    assert only["participants"][0]["sid"] == "PA_0000"  # the first to join


async def test_processed_payloads_are_blanked_after_retention_and_ids_still_dedupe(
    running: Running, clock: FakeClock
) -> None:
    client = running.client()
    settings = running.services.settings
    old = event("room_started", room_info(ROOM, "RM_old"))
    body, headers = signed(old)
    assert (await client.post("/v1/livekit/webhook", data=body, headers=headers)).status_code == 200
    # Let the room's actor apply it first, so nothing else writes these rows below.
    await apply_pending(running.services.rooms, ROOM)
    await WebhookInbox.filter(event_id=old.id).update(processed_at=clock.now())
    # Pending and claimed by no room, so no actor applies it while the test runs.
    pending = await WebhookInbox.create(
        event_id="EV_pending", event_type="room_started", room_name=None, payload='{"kept": 1}'
    )

    # Not yet past retention: nothing changes.
    clock.advance(settings.webhook_retention_days * 86_400 - 60)
    assert await prune_webhook_payloads(running.services) == 0

    clock.advance(120)
    assert await prune_webhook_payloads(running.services) == 1
    row = await WebhookInbox.get(event_id=old.id)
    assert row.payload == ""
    assert (await WebhookInbox.get(id=pending.id)).payload == '{"kept": 1}'  # not processed
    assert await prune_webhook_payloads(running.services) == 0  # once is enough

    # LiveKit retrying the old event long after: still a duplicate, not applied again.
    sessions_before = await RoomSession.filter(sid="RM_old").count()
    assert (await client.post("/v1/livekit/webhook", data=body, headers=headers)).status_code == 200
    await apply_pending(running.services.rooms, ROOM)
    assert await WebhookInbox.filter(event_id=old.id).count() == 1
    assert (await WebhookInbox.get(event_id=old.id)).payload == ""
    assert await RoomSession.filter(sid="RM_old").count() == sessions_before
