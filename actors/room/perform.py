"""Performing what configuring and moderating decided (plans.py): the calls, the writes,
and the memory's changes, in the plan's order.

Called only by the room's actor, on its memory. LiveKit's not_found counts as
done wherever a call removes something (a participant, a room): it is what was
asked for. A create or an update goes to LiveKit first and puts LiveKit back
if the database then says no, because no database lock may wait on a network
call; their database work runs within `seconds`, what is left of the asker's
budget (None: the database's own timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Iterator
from typing import assert_never

from tortoise.exceptions import IntegrityError

from actors.room import lobbying
from actors.room.config import Config
from actors.room.errors import RoomExistsError
from actors.room.livekit import (
    LiveKit,
    LiveKitNotConfiguredError,
    LiveKitRefusedError,
    LiveKitUnreachableError,
)
from actors.room.memory import RoomMemory
from actors.room.plans import (
    Create,
    DeleteLiveKitRoom,
    DeleteRoomRow,
    Disconnect,
    LiveKitMissing,
    Mute,
    NotMade,
    Plan,
    ReleaseAllSeats,
    Report,
    Revoke,
    RevokeAll,
    StoreBan,
    Update,
    UpdateParticipant,
)
from models.db import DatabaseUnavailableError, LeaseLostError
from models.outbox import Event, write_events
from models.rooms import RoomRow, create_room, delete_room, name_taken, update_room

log = logging.getLogger(__name__)

LIVEKIT_FAILED = (LiveKitUnreachableError, LiveKitRefusedError)


async def plan(memory: RoomMemory, livekit: LiveKit, steps: Plan) -> None:
    """Each step in order; the first that fails ends the plan, what went before stays."""
    # Whether the last Disconnect removed someone (LiveKit's not_found: nobody was).
    removed = False
    for step in steps:
        match step:
            case StoreBan(room_id, row):
                await memory.bans.add(room_id, row)
                # A ban denies the identity's lobby ticket (DESIGN.md section 8).
                await lobbying.deny_banned(memory, row.identity, row.created_at)
            case Revoke(identity, at, only_granted, durable):
                written = memory.seats.revoke(identity, at, only_granted=only_granted)
                if written is not None and durable:
                    # The seat writer bounds its own wait.
                    await asyncio.shield(written)
                elif written is not None:
                    written.add_done_callback(_log_unstored_revocation)
            case RevokeAll(at, in_room):
                writes = memory.seats.revoke_all(at, set(in_room))
                if writes:
                    await asyncio.shield(asyncio.gather(*writes))
            case Disconnect(identity, not_made):
                with _not_made(not_made):
                    removed = not await _gone_is_done(
                        livekit.remove_participant(memory.name, identity)
                    )
            case DeleteLiveKitRoom(required, not_made):
                with _not_made(not_made):
                    try:
                        await _gone_is_done(livekit.delete_room(memory.name))
                    except LiveKitUnreachableError:
                        if required:
                            raise
            case DeleteRoomRow(room_id):
                await delete_room(memory.database, memory.fence(), room_id)
                memory.adopt(None, new_creation=True)
            case Mute(identity, track_sid, muted):
                await livekit.mute_published_track(memory.name, identity, track_sid, muted=muted)
                # Set as each call succeeds: a later refusal leaves these as LiveKit has them.
                memory.annotations.muted[track_sid] = muted
            case UpdateParticipant(identity, role, name, metadata, attributes):
                await livekit.update_participant(
                    memory.name,
                    identity,
                    role=role,
                    name=name,
                    metadata=metadata,
                    attributes=attributes,
                )
                if role is not None:
                    memory.annotations.roles[identity] = role
                if name is not None:
                    memory.annotations.names[identity] = name
            case ReleaseAllSeats():
                memory.seats.release_all()
            case Report(event):
                if removed:
                    await _report(memory, event)
            case LiveKitMissing(not_made):
                raise not_made.error(LiveKitNotConfiguredError())
            case _:
                assert_never(step)


async def create(
    memory: RoomMemory, livekit: LiveKit, create: Create, seconds: float | None
) -> RoomRow:
    """CreateRoom in LiveKit, then the row; a row not stored deletes what LiveKit made."""
    made: str | None = None
    try:
        made = await livekit.create_room(create.livekit.config)
    except LiveKitUnreachableError:
        log.warning("LiveKit unreachable; room %r created without a sid", memory.name)
    store = create.store
    presence = {
        "livekit_sid": made if store.livekit_sid is None else store.livekit_sid,
        "status": store.status,
        "num_participants": store.num_participants,
    }
    try:
        # Within what is left of the asker's budget (its load came out of it too).
        room = await create_room(
            memory.database, memory.fence(), store.name, store.settings.as_row(), presence, seconds
        )
    except Exception as error:
        if isinstance(error, IntegrityError) and name_taken(error):
            # Another process created it (any other constraint is not the client's conflict).
            raise RoomExistsError(memory.name) from None
        if made is not None and create.livekit.undo:
            # No orphan LiveKit room for a row that was never stored.
            with contextlib.suppress(*LIVEKIT_FAILED):
                await livekit.delete_room(memory.name)
        raise
    memory.adopt(Config.of(room), new_creation=True)  # nothing granted before counts
    return RoomRow.of(room)


async def update(
    memory: RoomMemory, livekit: LiveKit, update: Update, seconds: float | None
) -> RoomRow:
    """The metadata pushed (if LiveKit says no, nothing changes), then the row saved;
    a row not saved puts LiveKit's metadata back, so the two still agree."""
    push = update.push
    if push is not None:
        await livekit.update_room_metadata(memory.name, push.metadata)
    try:
        changes = update.changes.given()
        room = await update_room(
            memory.database, memory.fence(), update.config.id, changes, seconds
        )
    except Exception:
        if push is not None:
            with contextlib.suppress(*LIVEKIT_FAILED):
                await livekit.update_room_metadata(memory.name, push.previous)
        raise
    memory.adopt(update.config, new_creation=False)
    return RoomRow.of(room)


async def _gone_is_done(call: Awaitable[None]) -> bool:
    """Await a LiveKit call that removes something: not_found means it is gone
    already (True: it was gone before the call)."""
    try:
        await call
    except LiveKitRefusedError as error:
        if not error.gone:
            raise
        return True
    return False


async def _report(memory: RoomMemory, event: Event) -> None:
    """What LiveKit did, as an event of its own write. The removal has happened
    whatever the database says now, so its asker is not told it failed: a write
    that cannot be made (the database away, the lease lost) is logged, and the
    event is lost with it."""
    try:
        await write_events(memory.database, memory.fence(), [event])
    except (DatabaseUnavailableError, LeaseLostError) as error:
        log.warning("room %r: the %s event was not written: %s", memory.name, event.type, error)


@contextlib.contextmanager
def _not_made(not_made: NotMade | None) -> Iterator[None]:
    """With `not_made`, LiveKit's failure is that RemovalNotMadeError."""
    if not_made is None:
        yield
        return
    try:
        yield
    except LIVEKIT_FAILED as error:
        raise not_made.error(error) from error


def _log_unstored_revocation(written: asyncio.Future[None]) -> None:
    if not written.cancelled() and written.exception() is not None:
        log.warning("a revocation was not stored: %s", written.exception())
