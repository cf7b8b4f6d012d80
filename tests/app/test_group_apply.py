"""Webhook events of many rooms applied in shared transactions (actors/group_apply.py).

Each test stores events the way the route does and then nudges every room at
once, so their actors ask for the same shared transaction; what each room
ends up with must be what it would have applied on its own.
"""

from __future__ import annotations

import asyncio

from livekit.protocol.webhook import WebhookEvent

from actors.group_apply import MAX_EVENTS_PER_ROOM
from actors.room_protocol import EventsStored, ListParticipants
from models import ParticipantSession, Room, WebhookInbox
from tests.app.test_webhooks import make_room, store
from tests.conftest import Running
from tests.support.webhooks import audio_track, event, participant, room_info

ROOMS = [f"group-{n:02d}" for n in range(12)]


def sid_of(room: str) -> str:
    return f"RM_{room}"


async def start_rooms(running: Running, rooms: list[str]) -> None:
    """Rooms created, live (room_started applied) and their actors active."""
    client = running.client()
    for room in rooms:
        await make_room(client, room)
        await store(event("room_started", room_info(room, sid_of(room))))
    await nudge_all(running, rooms)


async def nudge_all(running: Running, rooms: list[str]) -> list[int]:
    """Tell every room at once that events are stored; what each applied."""
    registry = running.services.rooms
    return list(
        await asyncio.wait_for(
            asyncio.gather(*(registry.ask(room, EventsStored()) for room in rooms)), 10
        )
    )


async def pending() -> int:
    return await WebhookInbox.filter(processed_at=None).count()


async def identities(running: Running, room: str) -> list[str]:
    live = await running.services.rooms.ask(room, ListParticipants())
    return sorted(p.identity for p in live)


async def test_many_rooms_share_one_transaction(running: Running) -> None:
    await start_rooms(running, ROOMS)
    for room in ROOMS:
        for who in ("ann", "bob"):
            await store(
                event(
                    "participant_joined",
                    room_info(room, sid_of(room)),
                    who=participant(who, f"PA_{room}_{who}"),
                )
            )
        await store(
            event(
                "track_published",
                room_info(room, sid_of(room)),
                who=participant("ann", f"PA_{room}_ann"),
                track=audio_track(f"TR_{room}"),
            )
        )
    group = running.services.group_apply
    before = group.transactions

    assert await nudge_all(running, ROOMS) == [3] * len(ROOMS)

    # Two transactions may be in flight at once; twelve rooms alone would take twelve.
    assert group.transactions - before <= 2
    assert await pending() == 0
    for room in ROOMS:
        assert await identities(running, room) == ["ann", "bob"]
        row = await Room.get(name=room)
        assert (row.status, row.num_participants, row.livekit_sid) == ("live", 2, sid_of(room))
        ann = await ParticipantSession.get(sid=f"PA_{room}_ann")
        assert (ann.state, ann.track_count, ann.left_at) == ("active", 1, None)

    # Changes to rows stored by an earlier transaction: a second track, a leave.
    for room in ROOMS:
        info = room_info(room, sid_of(room))
        ann = participant("ann", f"PA_{room}_ann")
        await store(event("track_published", info, who=ann, track=audio_track(f"TV_{room}")))
        await store(event("participant_left", info, who=participant("bob", f"PA_{room}_bob")))
    assert await nudge_all(running, ROOMS) == [2] * len(ROOMS)
    for room in ROOMS:
        assert await identities(running, room) == ["ann"]
        assert (await Room.get(name=room)).num_participants == 1
        ann_row = await ParticipantSession.get(sid=f"PA_{room}_ann")
        assert (ann_row.track_count, ann_row.left_at) == (2, None)
        bob = await ParticipantSession.get(sid=f"PA_{room}_bob")
        assert (bob.state, bob.disconnect_reason) == ("disconnected", "CLIENT_INITIATED")
        assert bob.left_at is not None


async def test_leave_then_late_join_in_separate_transactions(running: Running) -> None:
    """Decided from memory: a join that comes after its own leave changes nothing."""
    room = ROOMS[0]
    await start_rooms(running, [room])
    info = room_info(room, sid_of(room))
    late_join = event("participant_joined", info, who=participant("ann", "PA_late"))
    leave = event("participant_left", info, who=participant("ann", "PA_late"))
    group = running.services.group_apply
    before = group.transactions

    await store(leave)
    await nudge_all(running, [room])
    await store(late_join)
    await nudge_all(running, [room])

    assert group.transactions - before == 2
    assert await identities(running, room) == []
    row = await ParticipantSession.get(sid="PA_late")
    assert row.left_at is not None
    assert row.disconnect_reason == "CLIENT_INITIATED"
    assert (await Room.get(name=room)).num_participants == 0


async def test_a_failed_shared_transaction_falls_back_for_every_room(running: Running) -> None:
    """One room's event breaks the shared insert: each room then applies on its own."""
    first, second, third = ROOMS[:3]
    await start_rooms(running, [first, second, third])
    # The same participant sid in two rooms: memory cannot know, the unique index can.
    await store(
        event(
            "participant_joined", room_info(first, sid_of(first)), who=participant("ann", "PA_dup")
        )
    )
    await nudge_all(running, [first])
    await store(
        event(
            "participant_joined",
            room_info(second, sid_of(second)),
            who=participant("eve", "PA_dup"),
        )
    )
    await store(
        event(
            "participant_joined", room_info(third, sid_of(third)), who=participant("cat", "PA_cat")
        )
    )

    group = running.services.group_apply
    before = group.transactions

    assert await nudge_all(running, [second, third]) == [1, 1]

    assert group.transactions == before  # the shared one rolled back; each room went alone

    assert await pending() == 0
    assert await identities(running, first) == ["ann"]
    # On its own, the room sees the sid is taken, as a repeated join: nothing changes.
    assert await identities(running, second) == []
    assert await identities(running, third) == ["cat"]
    assert (await Room.get(name=third)).num_participants == 1
    # Falling back is not a failure of the events: nothing kept with an error.
    assert await WebhookInbox.filter(last_error__not_isnull=True).count() == 0

    # Having been through their own transactions, both rooms share again.
    for room, who in ((second, "fay"), (third, "gus")):
        await store(
            event(
                "participant_joined",
                room_info(room, sid_of(room)),
                who=participant(who, f"PA_{who}"),
            )
        )
    assert await nudge_all(running, [second, third]) == [1, 1]
    assert group.transactions == before + 1
    assert await identities(running, third) == ["cat", "gus"]


async def test_a_plan_that_fails_holds_back_only_its_room(running: Running) -> None:
    broken_room, good_room = ROOMS[:2]
    await start_rooms(running, [broken_room, good_room])
    broken: WebhookEvent = event(
        "participant_joined",
        room_info(broken_room, sid_of(broken_room)),
        who=participant("x", "PA_x"),
    )
    await store(broken, payload="[broken")
    await store(
        event(
            "participant_joined",
            room_info(good_room, sid_of(good_room)),
            who=participant("bo", "PA_bo"),
        )
    )
    group = running.services.group_apply
    before = group.transactions

    assert await nudge_all(running, [broken_room, good_room]) == [0, 1]

    assert group.transactions - before == 1  # the good room's, shared, committed
    assert await identities(running, good_room) == ["bo"]
    kept = await WebhookInbox.get(event_id=broken.id)
    assert kept.processed_at is None
    assert kept.attempts == 1
    assert kept.last_error


async def test_a_long_backlog_goes_in_slices_without_crowding_out_others(
    running: Running,
) -> None:
    busy, quiet = ROOMS[:2]
    await start_rooms(running, [busy, quiet])
    backlog = MAX_EVENTS_PER_ROOM + MAX_EVENTS_PER_ROOM // 2
    info = room_info(busy, sid_of(busy))
    for i in range(backlog):
        await store(event("participant_joined", info, who=participant(f"u{i}", f"PA_b{i}")))
    # The last event of the backlog: applied last, it closes the first participant.
    await store(event("participant_left", info, who=participant("u0", "PA_b0")))
    await store(
        event(
            "participant_joined",
            room_info(quiet, sid_of(quiet)),
            who=participant("solo", "PA_solo"),
        )
    )

    assert await nudge_all(running, [busy, quiet]) == [backlog + 1, 1]

    assert await pending() == 0
    assert len(await identities(running, busy)) == backlog - 1
    assert (await ParticipantSession.get(sid="PA_b0")).left_at is not None
    assert await identities(running, quiet) == ["solo"]
