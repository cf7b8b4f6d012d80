"""Creating, changing and deleting a room: its row and its LiveKit room, kept in step.

LiveKit goes first and is put back if the database then says no, because no
database lock may wait on a network call. Called only by the room's actor,
from its mailbox.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import IntegrityError

from actors.room.config import Config
from actors.room.protocol import (
    InvalidRoomConfigError,
    LiveKitRefusedError,
    LiveKitUnreachableError,
    RoomConfig,
    RoomExistsError,
    RoomNotFoundError,
)
from models.db import bounded
from models.rooms import (
    Room,
    RoomStatus,
    access_rule_violation,
    create_room,
    delete_room,
    name_taken,
    update_room,
)

if TYPE_CHECKING:
    from actors.room.actor import RoomActor

log = logging.getLogger(__name__)


class Configuring:
    """The configuration messages of one room actor."""

    def __init__(self, actor: RoomActor) -> None:
        self._actor = actor

    async def create(self, fields: dict[str, Any]) -> Room:
        actor = self._actor
        if actor.config is not None:
            raise RoomExistsError(actor.key)
        livekit = actor.livekit
        livekit_sid: str | None = None
        try:
            livekit_sid = await livekit.create_room(
                RoomConfig(
                    name=actor.key,
                    empty_timeout=fields["empty_timeout"],
                    departure_timeout=fields["departure_timeout"],
                    max_participants=fields["max_participants"],
                    metadata=fields.get("metadata"),
                )
            )
        except LiveKitUnreachableError:
            # LiveKit creates the room on the first join anyway, and the token
            # carries the configuration; room_started will bring the sid.
            log.warning("LiveKit unreachable; room %r created without a sid", actor.key)
        session = actor.state.session
        presence = {
            "livekit_sid": session.sid if session else livekit_sid,
            "status": RoomStatus.LIVE if session else RoomStatus.IDLE,
            "num_participants": len(actor.state.identities()),
        }
        try:
            # Within what is left of the asker's budget (its load came out of it too).
            async with bounded(actor.remaining()):
                room = await create_room(actor.key, fields, presence)
        except Exception as error:
            if isinstance(error, IntegrityError) and name_taken(error):
                # Another process created it (any other constraint is not the client's conflict).
                raise RoomExistsError(actor.key) from None
            if livekit_sid is not None and actor.state.session is None:
                # No orphan LiveKit room for a row that was never stored (but
                # never end a meeting that is already running in it).
                with contextlib.suppress(LiveKitUnreachableError, LiveKitRefusedError):
                    await livekit.delete_room(actor.key)
            raise
        actor.config = Config.of(room)
        actor.seats.reset(room.id)  # a new creation: nothing granted before counts
        actor.bans.reset()
        actor.annotations.clear()
        return room

    async def update(self, changes: dict[str, Any]) -> Room:
        actor = self._actor
        config = actor.config
        if config is None:
            raise RoomNotFoundError(actor.key)
        merged = replace(config, **changes)
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
        push_metadata = (
            "metadata" in changes
            and merged.metadata != config.metadata
            and actor.state.session is not None
        )
        if push_metadata:
            # A live room must see its new metadata; if LiveKit says no, nothing changes.
            await actor.livekit.update_room_metadata(actor.key, merged.metadata or "")
        try:
            async with bounded(actor.remaining()):
                room = await update_room(config.id, changes)
        except Exception:
            if push_metadata:
                # Not stored: put LiveKit back, so the two still agree.
                with contextlib.suppress(LiveKitUnreachableError, LiveKitRefusedError):
                    await actor.livekit.update_room_metadata(actor.key, config.metadata or "")
            raise
        actor.config = merged
        return room

    async def delete(self) -> None:
        actor = self._actor
        if actor.config is None:
            raise RoomNotFoundError(actor.key)
        await self._delete_livekit_room(required=actor.state.session is not None)
        await delete_room(actor.config.id)
        actor.config = None
        actor.seats.reset(None)
        actor.bans.reset()
        actor.annotations.clear()

    async def _delete_livekit_room(self, *, required: bool) -> None:
        """DeleteRoom. LiveKit's not_found means it is gone already: fine either way.

        An unreachable LiveKit blocks deleting a live room (its participants
        would stay connected) but not an idle one.
        """
        actor = self._actor
        try:
            await actor.livekit.delete_room(actor.key)
        except LiveKitUnreachableError:
            if required:
                raise
        except LiveKitRefusedError as error:
            if error.code != "not_found":
                raise
