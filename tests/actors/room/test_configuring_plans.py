"""Configuring's decisions as a table: a room's memory and a create, change or deletion
give a plan or a refusal.

Pure: nothing is awaited, no database, no LiveKit. What each plan then does
is perform.py's, tested through the routes (tests/app/test_rooms.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from actors.room import configuring
from actors.room.config import Config, RoomChanges
from actors.room.errors import InvalidRoomConfigError, RoomExistsError, RoomNotFoundError
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
from actors.room.protocol import CreateRoom, DeleteRoom, UpdateRoom
from models.rooms import RoomStatus
from tests.actors.room.rooms import ANN, CONFIG, ROOM, ROOM_ID, SETTINGS, memory

Decided = Create | Update | Plan


def decide(room: RoomMemory, message: CreateRoom | UpdateRoom | DeleteRoom) -> Decided:
    """What the actor decides for `message` (the configuring cases of its dispatch)."""
    match message:
        case CreateRoom():
            return configuring.create(room, message)
        case UpdateRoom():
            return configuring.update(room, message)
        case DeleteRoom():
            return configuring.delete(room)


@dataclass(frozen=True)
class Case:
    name: str
    message: CreateRoom | UpdateRoom | DeleteRoom
    # A plan, or the refusal raised before anything is done.
    then: Decided | type[Exception]
    room: Callable[[], RoomMemory] = memory


def idle(config: Config | None = CONFIG) -> Callable[[], RoomMemory]:
    """A room with no meeting running in LiveKit."""
    return lambda: memory(config, (), session=False)


def meeting_without_room() -> RoomMemory:
    """No room of ours, but LiveKit runs a meeting under its name (Ann in it)."""
    return memory(None, ANN)


def with_metadata(metadata: str | None) -> Callable[[], RoomMemory]:
    return lambda: memory(replace(CONFIG, metadata=metadata))


LIVEKIT_ROOM = RoomConfig(
    ROOM, empty_timeout=600, departure_timeout=20, max_participants=50, metadata=None
)
SMALLER = RoomChanges(max_participants=5)
NEW_METADATA = RoomChanges(metadata="new")

CASES = [
    # -- create ---------------------------------------------------------------------------
    Case(
        "create: CreateRoom (undone if the row is not stored), then an idle row",
        CreateRoom(SETTINGS),
        Create(
            CreateLiveKitRoom(LIVEKIT_ROOM, undo=True),
            StoreRoom(ROOM, SETTINGS, RoomStatus.IDLE, 0, livekit_sid=None),
        ),
        idle(None),
    ),
    Case(
        "create over a running meeting: stored live with its sid, never ended on failure",
        CreateRoom(SETTINGS),
        Create(
            CreateLiveKitRoom(LIVEKIT_ROOM, undo=False),
            StoreRoom(ROOM, SETTINGS, RoomStatus.LIVE, 1, livekit_sid="RM_1"),
        ),
        meeting_without_room,
    ),
    Case(
        "create passes the settings LiveKit applies",
        CreateRoom(replace(SETTINGS, max_participants=3, metadata="m", empty_timeout=60)),
        Create(
            CreateLiveKitRoom(
                replace(LIVEKIT_ROOM, max_participants=3, metadata="m", empty_timeout=60),
                undo=True,
            ),
            StoreRoom(
                ROOM,
                replace(SETTINGS, max_participants=3, metadata="m", empty_timeout=60),
                RoomStatus.IDLE,
                0,
                livekit_sid=None,
            ),
        ),
        idle(None),
    ),
    Case("create a room that exists", CreateRoom(SETTINGS), RoomExistsError),
    # -- update ---------------------------------------------------------------------------
    Case(
        "update: saved, and adopted merged",
        UpdateRoom(SMALLER),
        Update(None, SMALLER, replace(CONFIG, max_participants=5)),
    ),
    Case(
        "new metadata of a live room: pushed first, the old one to put back",
        UpdateRoom(NEW_METADATA),
        Update(PushMetadata("new", previous="old"), NEW_METADATA, replace(CONFIG, metadata="new")),
        with_metadata("old"),
    ),
    Case(
        "metadata cleared in a live room: pushed as empty",
        UpdateRoom(RoomChanges(metadata=None)),
        Update(PushMetadata("", previous="old"), RoomChanges(metadata=None), CONFIG),
        with_metadata("old"),
    ),
    Case(
        "the same metadata again: nothing to push",
        UpdateRoom(NEW_METADATA),
        Update(None, NEW_METADATA, replace(CONFIG, metadata="new")),
        with_metadata("new"),
    ),
    Case(
        "new metadata of an idle room: nothing to push (CreateRoom-on-join takes the token's)",
        UpdateRoom(NEW_METADATA),
        Update(None, NEW_METADATA, replace(CONFIG, metadata="new")),
        idle(),
    ),
    Case(
        "gated by a token without its address: refused, merged with the rest",
        UpdateRoom(RoomChanges(access_type="token", token_amount="1")),
        InvalidRoomConfigError,
    ),
    Case("update no room of ours", UpdateRoom(SMALLER), RoomNotFoundError, idle(None)),
    # -- delete ---------------------------------------------------------------------------
    Case(
        "delete a live room: DeleteRoom must succeed, then the row",
        DeleteRoom(),
        (DeleteLiveKitRoom(required=True), DeleteRoomRow(ROOM_ID)),
    ),
    Case(
        "delete an idle room: an unreachable LiveKit does not block it",
        DeleteRoom(),
        (DeleteLiveKitRoom(required=False), DeleteRoomRow(ROOM_ID)),
        idle(),
    ),
    Case("delete no room of ours", DeleteRoom(), RoomNotFoundError, idle(None)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_configuring_decides(case: Case) -> None:
    room = case.room()
    config, state, entry = room.config, room.state, room.entry
    if isinstance(case.then, type):
        with pytest.raises(case.then):
            decide(room, case.message)
    else:
        assert decide(room, case.message) == case.then
    # Deciding changes nothing: the memory adopts a configuration once it is stored.
    assert (room.config, room.state, room.entry) == (config, state, entry)


def test_an_invalid_change_names_its_field() -> None:
    changes = RoomChanges(access_type="nft", nft_address=None)
    with pytest.raises(InvalidRoomConfigError) as refused:
        configuring.update(memory(), UpdateRoom(changes))
    assert refused.value.field == "nft_address"
