"""The committer (actors/committer.py): many rooms' webhook effects in one write.

Each test stores events the way the route does and then nudges every room at
once, so their actors ask for the same round; what each room ends up with
must be what it would have applied on its own, and a failure of one event
must cost that event alone.
"""

from __future__ import annotations

import asyncio

import pytest
from livekit.protocol.webhook import WebhookEvent

from actors.committer import MAX_EVENTS_PER_ROOM
from actors.room.protocol import EventsStored, ListParticipants
from models import ParticipantSession, Room, WebhookInbox
from models.db import connection, is_postgres
from tests.app.test_webhooks import make_room, store
from tests.conftest import Running, app_running
from tests.support.clock import FakeClock
from tests.support.pg_proxy import PostgresProxy
from tests.support.postgres import truncate_tables
from tests.support.settings import make_settings
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
    loop = asyncio.get_running_loop()
    futures: list[asyncio.Future[int]] = [loop.create_future() for _ in rooms]
    for room, applied in zip(rooms, futures, strict=True):
        registry.tell(room, EventsStored(applied))
    return list(await asyncio.wait_for(asyncio.gather(*futures), 10))


async def pending() -> int:
    return await WebhookInbox.filter(processed_at=None).count()


async def identities(running: Running, room: str) -> list[str]:
    live = await running.services.rooms.ask(room, ListParticipants())
    return sorted(p.identity for p in live)


async def test_many_rooms_share_one_write(running: Running) -> None:
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
    committer = running.services.committer
    before = committer.writes

    assert await nudge_all(running, ROOMS) == [3] * len(ROOMS)

    # Rounds may overlap; twelve rooms alone would take twelve writes.
    assert committer.writes - before <= 2
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


async def test_leave_then_late_join_in_separate_rounds(running: Running) -> None:
    """Decided from memory: a join that comes after its own leave changes nothing."""
    room = ROOMS[0]
    await start_rooms(running, [room])
    info = room_info(room, sid_of(room))
    late_join = event("participant_joined", info, who=participant("ann", "PA_late"))
    leave = event("participant_left", info, who=participant("ann", "PA_late"))
    committer = running.services.committer
    before = committer.writes

    await store(leave)
    await nudge_all(running, [room])
    await store(late_join)
    await nudge_all(running, [room])

    assert committer.writes - before == 2
    assert await identities(running, room) == []
    row = await ParticipantSession.get(sid="PA_late")
    assert row.left_at is not None
    assert row.disconnect_reason == "CLIENT_INITIATED"
    assert (await Room.get(name=room)).num_participants == 0


async def test_a_sid_another_room_holds_is_not_taken_over(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    """The same participant sid in two rooms: the rules cannot know, the unique index can.

    The second room's join stores nothing and does not count there, the first
    room's row stays as it was, and nothing is kept as failed.
    """
    first, second, third = ROOMS[:3]
    await start_rooms(running, [first, second, third])
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

    assert await nudge_all(running, [second, third]) == [1, 1]
    # Never for a good reason, so said.
    assert f"room {second!r}: participant sid(s) ['PA_dup'] already stored" in caplog.text

    assert await pending() == 0
    assert await identities(running, first) == ["ann"]
    assert await identities(running, second) == []
    assert await identities(running, third) == ["cat"]
    assert (await Room.get(name=second)).num_participants == 0
    assert (await Room.get(name=third)).num_participants == 1
    row = await ParticipantSession.get(sid="PA_dup")
    assert (row.identity, row.left_at) == ("ann", None)
    assert await WebhookInbox.filter(last_error__not_isnull=True).count() == 0
    # A leave of that sid in the second room closes nothing of the first's.
    await store(
        event(
            "participant_left", room_info(second, sid_of(second)), who=participant("eve", "PA_dup")
        )
    )
    await nudge_all(running, [second])
    assert (await ParticipantSession.get(sid="PA_dup")).left_at is None
    assert await identities(running, first) == ["ann"]


async def refuse_identity(identity: str) -> None:
    """Make the database itself refuse a participant row with this identity."""
    conn = connection()
    if is_postgres(conn):
        await conn.execute_script(
            "ALTER TABLE participant_sessions ADD CONSTRAINT test_refused "
            f"CHECK (identity <> '{identity}')"
        )
    else:
        await conn.execute_script(
            "CREATE TRIGGER test_refused BEFORE INSERT ON participant_sessions "
            f"WHEN NEW.identity = '{identity}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )


async def accept_everyone() -> None:
    conn = connection()
    if is_postgres(conn):
        await conn.execute_script(
            "ALTER TABLE participant_sessions DROP CONSTRAINT IF EXISTS test_refused"
        )
    else:
        await conn.execute_script("DROP TRIGGER IF EXISTS test_refused")


async def test_an_event_the_database_refuses_costs_that_event_alone(running: Running) -> None:
    """The shared write fails: each room goes alone, the failing room event by event."""
    bad_room, good_room = ROOMS[:2]
    await start_rooms(running, [bad_room, good_room])
    bad_info, good_info = (
        room_info(bad_room, sid_of(bad_room)),
        room_info(good_room, sid_of(good_room)),
    )
    refused = event("participant_joined", bad_info, who=participant("mallory", "PA_m"))
    await store(event("participant_joined", bad_info, who=participant("amy", "PA_amy")))
    await store(refused)
    await store(event("participant_joined", bad_info, who=participant("ben", "PA_ben")))
    await store(event("participant_joined", good_info, who=participant("gil", "PA_gil")))
    await refuse_identity("mallory")
    try:
        assert await nudge_all(running, [bad_room, good_room]) == [2, 1]
    finally:
        await accept_everyone()

    assert await identities(running, bad_room) == ["amy", "ben"]
    assert await identities(running, good_room) == ["gil"]
    assert (await Room.get(name=bad_room)).num_participants == 2
    kept = await WebhookInbox.get(event_id=refused.id)
    assert (kept.processed_at, kept.attempts) == (None, 1)
    assert kept.last_error
    # Retried later (once the database takes it), it applies: memory was not ahead.
    assert await nudge_all(running, [bad_room]) == [1]
    assert await identities(running, bad_room) == ["amy", "ben", "mallory"]


async def test_an_event_that_cannot_be_decided_holds_back_only_itself(running: Running) -> None:
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
    committer = running.services.committer
    before = committer.writes

    assert await nudge_all(running, [broken_room, good_room]) == [0, 1]

    assert committer.writes - before == 1  # one write: the good event and the bad one's attempt
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


async def test_one_sid_named_by_two_rooms_in_one_round_counts_in_one_room_only(
    running: Running,
) -> None:
    first, second = ROOMS[:2]
    await start_rooms(running, [first, second])
    for room, who in ((first, "ann"), (second, "eve")):
        await store(
            event("participant_joined", room_info(room, sid_of(room)), who=participant(who, "PA_x"))
        )

    await nudge_all(running, [first, second])  # one round, one write: one row for PA_x

    row = await ParticipantSession.get(sid="PA_x").prefetch_related("room_session")
    owner = first if row.identity == "ann" else second
    other = second if owner == first else first
    assert row.room_session.room_name == owner
    assert await identities(running, owner) == [row.identity]
    assert await identities(running, other) == []  # memory is never ahead of the database
    rows = {r.name: r.num_participants for r in await Room.filter(name__in=[first, second])}
    assert rows == {owner: 1, other: 0}


async def test_a_write_whose_answer_came_too_late_is_read_again(
    postgres_url: str, clock: FakeClock
) -> None:
    """The write committed, but its answer missed DATABASE_TIMEOUT_SECONDS: the
    committer cannot know, so the room's next round reads its presence again."""
    await truncate_tables(postgres_url)
    room = ROOMS[0]
    info = room_info(room, sid_of(room))
    async with PostgresProxy(postgres_url) as proxy:
        settings = make_settings(proxy.url, database_timeout_seconds=1.0)
        async with app_running(settings, clock) as running:
            await start_rooms(running, [room])
            await store(event("participant_joined", info, who=participant("ann", "PA_ann")))
            # The write-and-mark statement (on PostgreSQL its own transaction, fenced
            # by itself): its answer is late, after it committed.
            proxy.hold_after(b"SET processed_at", 2.0)

            assert await nudge_all(running, [room]) == [0]

            assert proxy.held == 1
            committer = running.services.committer
            assert committer.uncertain_rooms() == [room]
            assert (await ParticipantSession.get(sid="PA_ann")).left_at is None  # committed
            assert await identities(running, room) == []  # behind the database, not ahead
            # Her leave: the round reads the room again first, so it closes her row.
            await store(event("participant_left", info, who=participant("ann", "PA_ann")))
            await nudge_all(running, [room])
            assert (await ParticipantSession.get(sid="PA_ann")).left_at is not None
            assert await identities(running, room) == []
            assert committer.uncertain_rooms() == []
            assert await pending() == 0
