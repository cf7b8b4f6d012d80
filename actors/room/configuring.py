"""Creating, changing and deleting a room: its row and its LiveKit room, kept in step.

Functions of the room's memory and the message, called only by the room's
actor. LiveKit goes first and is put back if the database then says no,
because no database lock may wait on a network call. Database work runs
within `seconds`, what is left of the asker's budget (None: the database's
own timeout).
"""

from __future__ import annotations

import contextlib
import logging

from tortoise.exceptions import IntegrityError

from actors.room.config import Config, RoomChanges
from actors.room.errors import InvalidRoomConfigError, RoomExistsError
from actors.room.livekit import LiveKit, LiveKitRefusedError, LiveKitUnreachableError, RoomConfig
from actors.room.memory import RoomMemory
from models.rooms import (
    RoomRow,
    RoomSettings,
    RoomStatus,
    access_rule_violation,
    create_room,
    delete_room,
    name_taken,
    update_room,
)

log = logging.getLogger(__name__)


async def create(
    memory: RoomMemory, livekit: LiveKit, settings: RoomSettings, seconds: float | None
) -> RoomRow:
    if memory.config is not None:
        raise RoomExistsError(memory.name)
    livekit_sid: str | None = None
    try:
        livekit_sid = await livekit.create_room(
            RoomConfig(
                name=memory.name,
                empty_timeout=settings.empty_timeout,
                departure_timeout=settings.departure_timeout,
                max_participants=settings.max_participants,
                metadata=settings.metadata,
            )
        )
    except LiveKitUnreachableError:
        # LiveKit creates the room on the first join anyway, and the token
        # carries the configuration; room_started will bring the sid.
        log.warning("LiveKit unreachable; room %r created without a sid", memory.name)
    session = memory.state.session
    presence = {
        "livekit_sid": session.sid if session else livekit_sid,
        "status": RoomStatus.LIVE if session else RoomStatus.IDLE,
        "num_participants": len(memory.state.identities()),
    }
    try:
        # Within what is left of the asker's budget (its load came out of it too).
        async with memory.database.bounded(seconds):
            room = await create_room(memory.name, settings.as_row(), presence)
    except Exception as error:
        if isinstance(error, IntegrityError) and name_taken(error):
            # Another process created it (any other constraint is not the client's conflict).
            raise RoomExistsError(memory.name) from None
        if livekit_sid is not None and memory.state.session is None:
            # No orphan LiveKit room for a row that was never stored (but never
            # end a meeting that is already running in it).
            with contextlib.suppress(LiveKitUnreachableError, LiveKitRefusedError):
                await livekit.delete_room(memory.name)
        raise
    memory.adopt(Config.of(room), new_creation=True)  # nothing granted before counts
    return RoomRow.of(room)


async def update(
    memory: RoomMemory, livekit: LiveKit, changes: RoomChanges, seconds: float | None
) -> RoomRow:
    config = memory.require_config()
    merged = config.changed(changes)
    violation = access_rule_violation(
        merged.access_type,
        merged.token_address,
        merged.token_amount,
        merged.nft_address,
        merged.nft_standard,
        merged.nft_token_id,
    )
    if violation is not None:
        raise InvalidRoomConfigError(*violation)
    push_metadata = merged.metadata != config.metadata and memory.state.session is not None
    if push_metadata:
        # A live room must see its new metadata; if LiveKit says no, nothing changes.
        await livekit.update_room_metadata(memory.name, merged.metadata or "")
    try:
        async with memory.database.bounded(seconds):
            room = await update_room(config.id, changes.given())
    except Exception:
        if push_metadata:
            # Not stored: put LiveKit back, so the two still agree.
            with contextlib.suppress(LiveKitUnreachableError, LiveKitRefusedError):
                await livekit.update_room_metadata(memory.name, config.metadata or "")
        raise
    memory.adopt(merged, new_creation=False)
    return RoomRow.of(room)


async def delete(memory: RoomMemory, livekit: LiveKit) -> None:
    config = memory.require_config()
    await _delete_livekit_room(memory, livekit, required=memory.state.session is not None)
    await delete_room(memory.database, config.id)
    memory.adopt(None, new_creation=True)


async def _delete_livekit_room(memory: RoomMemory, livekit: LiveKit, *, required: bool) -> None:
    """DeleteRoom. LiveKit's not_found means it is gone already: fine either way.

    An unreachable LiveKit blocks deleting a live room (its participants would
    stay connected) but not an idle one.
    """
    try:
        await livekit.delete_room(memory.name)
    except LiveKitUnreachableError:
        if required:
            raise
    except LiveKitRefusedError as error:
        if not error.gone:
            raise
