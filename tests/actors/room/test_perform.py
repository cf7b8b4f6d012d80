"""Performing LiveKit's steps of a plan, as a table: what LiveKit answers, and what the
plan then raises and leaves in memory.

LiveKit is a recording stand-in for the port; no step here reaches the database
(those are tested through the routes: tests/app/test_moderation.py, test_rooms.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest

from actors.room import perform
from actors.room.errors import RemovalNotMadeError
from actors.room.livekit import (
    LiveKitNotConfiguredError,
    LiveKitRefusedError,
    LiveKitUnreachableError,
    RoomConfig,
    TokenRequest,
)
from actors.room.plans import (
    DeleteLiveKitRoom,
    Disconnect,
    LiveKitMissing,
    Mute,
    NotMade,
    Plan,
    UpdateParticipant,
)
from tests.actors.room.rooms import ROOM, memory

GONE = LiveKitRefusedError("not_found", 404)
REFUSED = LiveKitRefusedError("permission_denied", 403)
AWAY = LiveKitUnreachableError("connection refused")
KEPT = NotMade("its tokens for this room were revoked")
ENDED = NotMade("every token for it was revoked", what="The meeting was not ended")


@dataclass
class RecordingLiveKit:
    """The LiveKit port: records each RoomService call, and fails those it is told to
    (by the call's last argument: a participant, a track, or the room)."""

    failures: dict[str, Exception] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    configured: bool = True

    def _call(self, method: str, target: str) -> None:
        self.calls.append((method, target))
        if target in self.failures:
            raise self.failures[target]

    def mint_token(self, room: RoomConfig, request: TokenRequest) -> tuple[str, dt.datetime]:
        raise AssertionError("no token is minted here")

    async def create_room(self, room: RoomConfig) -> str | None:
        self._call("create_room", room.name)
        return "RM_new"

    async def update_room_metadata(self, name: str, metadata: str) -> None:
        self._call("update_room_metadata", name)

    async def delete_room(self, name: str) -> None:
        self._call("delete_room", name)

    async def remove_participant(self, room: str, identity: str) -> None:
        self._call("remove_participant", identity)

    async def update_participant(
        self,
        room: str,
        identity: str,
        *,
        role: str | None = None,
        name: str | None = None,
        metadata: str | None = None,
        attributes: dict[str, str] | None = None,
    ) -> None:
        self._call("update_participant", identity)

    async def mute_published_track(
        self, room: str, identity: str, track_sid: str, *, muted: bool
    ) -> None:
        self._call("mute_published_track", track_sid)


@dataclass(frozen=True)
class Case:
    name: str
    plan: Plan
    failures: dict[str, Exception]
    # None: the plan is done; else what it raises.
    raises: type[Exception] | None
    calls: list[tuple[str, str]]
    # Track sid -> muted, as memory has it after.
    muted: dict[str, bool] = field(default_factory=dict)


REMOVE = [("remove_participant", "ann")]
DELETE = [("delete_room", ROOM)]
MUTE_ALL = (Mute("ann", "TR_a1", True), Mute("ann", "TR_a2", True), Mute("ann", "TR_a3", True))
MUTE_CALLS = [("mute_published_track", t) for t in ("TR_a1", "TR_a2", "TR_a3")]

CASES = [
    Case("disconnect", (Disconnect("ann"),), {}, None, REMOVE),
    Case("disconnect one gone already: done", (Disconnect("ann"),), {"ann": GONE}, None, REMOVE),
    Case("disconnect refused", (Disconnect("ann"),), {"ann": REFUSED}, LiveKitRefusedError, REMOVE),
    Case(
        "disconnect, LiveKit away",
        (Disconnect("ann"),),
        {"ann": AWAY},
        LiveKitUnreachableError,
        REMOVE,
    ),
    Case(
        "a removal refused: not made, and what was kept",
        (Disconnect("ann", KEPT),),
        {"ann": REFUSED},
        RemovalNotMadeError,
        REMOVE,
    ),
    Case(
        "a removal, LiveKit away: not made",
        (Disconnect("ann", KEPT),),
        {"ann": AWAY},
        RemovalNotMadeError,
        REMOVE,
    ),
    Case(
        "a removal of one gone already: done",
        (Disconnect("ann", KEPT),),
        {"ann": GONE},
        None,
        REMOVE,
    ),
    Case(
        "delete an idle room, LiveKit away", (DeleteLiveKitRoom(False),), {ROOM: AWAY}, None, DELETE
    ),
    Case(
        "delete a live room, LiveKit away",
        (DeleteLiveKitRoom(True),),
        {ROOM: AWAY},
        LiveKitUnreachableError,
        DELETE,
    ),
    Case(
        "delete a room LiveKit refuses to",
        (DeleteLiveKitRoom(False),),
        {ROOM: REFUSED},
        LiveKitRefusedError,
        DELETE,
    ),
    Case("delete a room gone already", (DeleteLiveKitRoom(True),), {ROOM: GONE}, None, DELETE),
    Case(
        "end a meeting, LiveKit away: not ended",
        (DeleteLiveKitRoom(True, ENDED),),
        {ROOM: AWAY},
        RemovalNotMadeError,
        DELETE,
    ),
    Case(
        "end a meeting LiveKit refuses to end: not ended",
        (DeleteLiveKitRoom(True, ENDED),),
        {ROOM: REFUSED},
        RemovalNotMadeError,
        DELETE,
    ),
    Case(
        "end a meeting that is over already: done",
        (DeleteLiveKitRoom(True, ENDED),),
        {ROOM: GONE},
        None,
        DELETE,
    ),
    Case("without LiveKit: not made", (LiveKitMissing(KEPT),), {}, RemovalNotMadeError, []),
    Case(
        "mute every track",
        MUTE_ALL,
        {},
        None,
        MUTE_CALLS,
        {"TR_a1": True, "TR_a2": True, "TR_a3": True},
    ),
    Case(
        "a refusal midway: the tracks muted before stay muted, the rest are not tried",
        MUTE_ALL,
        {"TR_a2": REFUSED},
        LiveKitRefusedError,
        MUTE_CALLS[:2],
        {"TR_a1": True},
    ),
    Case(
        "change a participant refused: nothing remembered",
        (UpdateParticipant("ann", role="speaker", name="Ann"),),
        {"ann": REFUSED},
        LiveKitRefusedError,
        [("update_participant", "ann")],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_perform(case: Case) -> None:
    room, livekit = memory(), RecordingLiveKit(dict(case.failures))
    if case.raises is None:
        await perform.plan(room, livekit, case.plan)
    else:
        with pytest.raises(case.raises):
            await perform.plan(room, livekit, case.plan)
    assert livekit.calls == case.calls
    assert room.annotations.muted == case.muted
    assert room.annotations.roles == {}


async def test_a_change_is_remembered_once_livekit_made_it() -> None:
    room = memory()
    await perform.plan(room, RecordingLiveKit(), (UpdateParticipant("ann", role="speaker"),))
    assert (room.annotations.roles, room.annotations.names) == ({"ann": "speaker"}, {})


async def test_not_made_says_why_and_what_was_kept() -> None:
    with pytest.raises(RemovalNotMadeError) as not_made:
        await perform.plan(
            memory(), RecordingLiveKit({ROOM: AWAY}), (DeleteLiveKitRoom(True, ENDED),)
        )
    assert not_made.value.cause is AWAY
    assert (not_made.value.kept, not_made.value.what) == (ENDED.kept, ENDED.what)
    with pytest.raises(RemovalNotMadeError) as missing:
        await perform.plan(memory(), RecordingLiveKit(), (LiveKitMissing(KEPT),))
    assert isinstance(missing.value.cause, LiveKitNotConfiguredError)
