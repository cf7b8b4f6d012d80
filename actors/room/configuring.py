"""Creating, changing and deleting a room: what to do to its row and its LiveKit room.

Pure functions of the room's memory and the message, called only by the
room's actor: each raises the room's refusal, or returns the plan
(plans.py) that perform.py carries out (LiveKit first, put back if the
database then says no).
"""

from __future__ import annotations

from dataclasses import replace

from actors.room.config import Config, RoomChanges
from actors.room.errors import InvalidRoomConfigError, RoomExistsError
from actors.room.livekit import RoomConfig
from actors.room.memory import RoomMemory
from actors.room.plans import (
    Create,
    CreateLiveKitRoom,
    DeleteLiveKitRoom,
    DeleteRoomRow,
    Plan,
    PushMetadata,
    StoreRoom,
    Update,
)
from actors.room.protocol import CreateRoom, UpdateRoom
from models.access import dumps, from_legacy
from models.access_rules import access_rule_violation
from models.rooms import AccessType, RoomStatus


def create(memory: RoomMemory, message: CreateRoom) -> Create:
    """CreateRoom in LiveKit (unreachable: stored without a sid), then the row, with
    the presence of a meeting that may already run under this name."""
    if memory.config is not None:
        raise RoomExistsError(memory.name)
    settings = message.settings
    session = memory.state.session
    config = RoomConfig(
        name=memory.name,
        empty_timeout=settings.empty_timeout,
        departure_timeout=settings.departure_timeout,
        max_participants=settings.max_participants,
        metadata=settings.metadata,
    )
    return Create(
        # Never end a meeting that already runs in it, if the row is not stored.
        livekit=CreateLiveKitRoom(config, undo=session is None),
        store=StoreRoom(
            name=memory.name,
            settings=settings,
            status=RoomStatus.LIVE if session else RoomStatus.IDLE,
            num_participants=len(memory.state.in_room),
            livekit_sid=session.sid if session else None,
        ),
    )


def update(memory: RoomMemory, message: UpdateRoom) -> Update:
    """The changes merged with the configuration, within the access rules; a live
    room's new metadata is pushed to LiveKit first."""
    config = memory.require_config()
    changes = _with_access(config, message.changes)
    merged = config.changed(changes)
    push = None
    if merged.metadata != config.metadata and memory.state.session is not None:
        # A live room must see its new metadata; if LiveKit says no, nothing changes.
        push = PushMetadata(merged.metadata or "", previous=config.metadata or "")
    return Update(push, changes, merged)


# The older access fields (DESIGN.md section 3); `access` (section 10) says what they say.
_LEGACY = (
    "access_type",
    "token_address",
    "token_amount",
    "nft_address",
    "nft_standard",
    "nft_token_id",
)


def _with_access(config: Config, changes: RoomChanges) -> RoomChanges:
    """The changes with `access` kept in step with the older fields they change
    (the route made the older fields of an `access` it was given already)."""
    given = changes.given()
    if "access" in given or not any(name in given for name in (*_LEGACY, "chain_id")):
        return changes
    merged = config.changed(changes)
    if merged.access_type == AccessType.CONDITIONS:
        if any(name in given for name in _LEGACY):
            # The older fields cannot say this room's condition: they cannot change it.
            raise InvalidRoomConfigError(
                "access", "this room's access is a condition tree: change it with `access`"
            )
        return changes  # the tree's leaves name their chains
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
    condition = from_legacy(
        merged.access_type,
        merged.chain_id,
        merged.token_address,
        merged.token_amount,
        merged.nft_address,
        merged.nft_standard,
        merged.nft_token_id,
    )
    return replace(changes, access=dumps(condition))


def delete(memory: RoomMemory) -> Plan:
    """DeleteRoom in LiveKit, then the row. An unreachable LiveKit blocks deleting a
    live room (its participants would stay connected) but not an idle one."""
    config = memory.require_config()
    return (
        DeleteLiveKitRoom(required=memory.state.session is not None),
        DeleteRoomRow(config.id),
    )
