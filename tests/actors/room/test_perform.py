"""Performing LiveKit's steps of a plan, as a table: what LiveKit answers, and what the
plan then raises and leaves in memory.

The real gateway talks to the fake LiveKit server (tests/fakes/livekit_server.py)
over Twirp, which answers each call or fails it as the case says: not_found
(gone already), permission_denied (refused), or no answer within the gateway's
timeout (away). No step here reaches the database (those are tested through
the routes: tests/app/test_moderation.py, test_rooms.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from livekit.protocol.models import TrackInfo

from actors.room import perform
from actors.room.errors import RemovalNotMadeError
from actors.room.livekit import (
    LiveKitNotConfiguredError,
    LiveKitRefusedError,
    LiveKitUnreachableError,
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
from app.livekit_gateway import LiveKitGateway
from tests.actors.room.rooms import ROOM, memory
from tests.fakes.livekit_server import FakeLiveKit
from tests.support.settings import LIVEKIT_KEY, LIVEKIT_SECRET, make_settings

# The gateway's own bound; an "away" LiveKit holds its answer longer than this.
TIMEOUT_SECONDS = 0.2
KEPT = NotMade("its tokens for this room were revoked")
ENDED = NotMade("every token for it was revoked", what="The meeting was not ended")
# The fake's RoomService methods, as the calls below name them.
METHODS = {
    "RemoveParticipant": "remove_participant",
    "DeleteRoom": "delete_room",
    "MutePublishedTrack": "mute_published_track",
    "UpdateParticipant": "update_participant",
}
_BY_NAME = {snake: twirp for twirp, snake in METHODS.items()}


@dataclass(frozen=True)
class Fail:
    """How LiveKit answers a method's call (after `skip` answered normally)."""

    method: str
    how: str  # "gone", "refused" or "away"
    skip: int = 0


def GONE(method: str) -> Fail:
    return Fail(method, "gone")


def REFUSED(method: str, skip: int = 0) -> Fail:
    return Fail(method, "refused", skip)


def AWAY(method: str) -> Fail:
    return Fail(method, "away")


class LiveKit:
    """The fake server and the real gateway pointed at it."""

    def __init__(self, fake: FakeLiveKit, gateway: LiveKitGateway) -> None:
        self.fake = fake
        self.gateway = gateway

    def fail(self, *failures: Fail) -> None:
        for f in failures:
            method = _BY_NAME[f.method]
            if f.how == "away":
                self.fake.hang_next(method, TIMEOUT_SECONDS * 10)
            else:
                code = "not_found" if f.how == "gone" else "permission_denied"
                self.fake.fail_next(method, code, skip=f.skip)

    def calls(self) -> list[tuple[str, str]]:
        """Each RoomService call LiveKit received, with whom or what it named."""
        made = []
        for name, request in self.fake.calls:
            if name in METHODS:
                target = (
                    request.track_sid
                    if name == "MutePublishedTrack"
                    else request.room
                    if name == "DeleteRoom"
                    else request.identity
                )
                made.append((METHODS[name], target))
        return made


@pytest.fixture
async def livekit() -> AsyncIterator[LiveKit]:
    async with FakeLiveKit(LIVEKIT_KEY, LIVEKIT_SECRET) as fake:
        fake.join(ROOM, "ann", tracks=[TrackInfo(sid=t) for t in ("TR_a1", "TR_a2", "TR_a3")])
        settings = make_settings(
            "sqlite://:memory:", livekit_url=fake.url, livekit_timeout_seconds=TIMEOUT_SECONDS
        )
        gateway = LiveKitGateway(settings)
        await gateway.open()
        try:
            yield LiveKit(fake, gateway)
        finally:
            await gateway.close()


@dataclass(frozen=True)
class Case:
    name: str
    plan: Plan
    failures: tuple[Fail, ...]
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
    Case("disconnect", (Disconnect("ann"),), (), None, REMOVE),
    Case(
        "disconnect one gone already: done",
        (Disconnect("ann"),),
        (GONE("remove_participant"),),
        None,
        REMOVE,
    ),
    Case(
        "disconnect refused",
        (Disconnect("ann"),),
        (REFUSED("remove_participant"),),
        LiveKitRefusedError,
        REMOVE,
    ),
    Case(
        "disconnect, LiveKit away",
        (Disconnect("ann"),),
        (AWAY("remove_participant"),),
        LiveKitUnreachableError,
        REMOVE,
    ),
    Case(
        "a removal refused: not made, and what was kept",
        (Disconnect("ann", KEPT),),
        (REFUSED("remove_participant"),),
        RemovalNotMadeError,
        REMOVE,
    ),
    Case(
        "a removal, LiveKit away: not made",
        (Disconnect("ann", KEPT),),
        (AWAY("remove_participant"),),
        RemovalNotMadeError,
        REMOVE,
    ),
    Case(
        "a removal of one gone already: done",
        (Disconnect("ann", KEPT),),
        (GONE("remove_participant"),),
        None,
        REMOVE,
    ),
    Case(
        "delete an idle room, LiveKit away",
        (DeleteLiveKitRoom(False),),
        (AWAY("delete_room"),),
        None,
        DELETE,
    ),
    Case(
        "delete a live room, LiveKit away",
        (DeleteLiveKitRoom(True),),
        (AWAY("delete_room"),),
        LiveKitUnreachableError,
        DELETE,
    ),
    Case(
        "delete a room LiveKit refuses to",
        (DeleteLiveKitRoom(False),),
        (REFUSED("delete_room"),),
        LiveKitRefusedError,
        DELETE,
    ),
    Case(
        "delete a room gone already",
        (DeleteLiveKitRoom(True),),
        (GONE("delete_room"),),
        None,
        DELETE,
    ),
    Case(
        "end a meeting, LiveKit away: not ended",
        (DeleteLiveKitRoom(True, ENDED),),
        (AWAY("delete_room"),),
        RemovalNotMadeError,
        DELETE,
    ),
    Case(
        "end a meeting LiveKit refuses to end: not ended",
        (DeleteLiveKitRoom(True, ENDED),),
        (REFUSED("delete_room"),),
        RemovalNotMadeError,
        DELETE,
    ),
    Case(
        "end a meeting that is over already: done",
        (DeleteLiveKitRoom(True, ENDED),),
        (GONE("delete_room"),),
        None,
        DELETE,
    ),
    Case("without LiveKit: not made", (LiveKitMissing(KEPT),), (), RemovalNotMadeError, []),
    Case(
        "mute every track",
        MUTE_ALL,
        (),
        None,
        MUTE_CALLS,
        {"TR_a1": True, "TR_a2": True, "TR_a3": True},
    ),
    Case(
        "a refusal midway: the tracks muted before stay muted, the rest are not tried",
        MUTE_ALL,
        (REFUSED("mute_published_track", skip=1),),
        LiveKitRefusedError,
        MUTE_CALLS[:2],
        {"TR_a1": True},
    ),
    Case(
        "change a participant refused: nothing remembered",
        (UpdateParticipant("ann", role="speaker", name="Ann"),),
        (REFUSED("update_participant"),),
        LiveKitRefusedError,
        [("update_participant", "ann")],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_perform(case: Case, livekit: LiveKit) -> None:
    room = memory()
    livekit.fail(*case.failures)
    if case.raises is None:
        await perform.plan(room, livekit.gateway, case.plan)
    else:
        with pytest.raises(case.raises):
            await perform.plan(room, livekit.gateway, case.plan)
    assert livekit.calls() == case.calls
    assert room.annotations.muted == case.muted
    assert room.annotations.roles == {}


async def test_a_change_is_remembered_once_livekit_made_it(livekit: LiveKit) -> None:
    room = memory()
    await perform.plan(room, livekit.gateway, (UpdateParticipant("ann", role="speaker"),))
    assert (room.annotations.roles, room.annotations.names) == ({"ann": "speaker"}, {})


async def test_not_made_says_why_and_what_was_kept(livekit: LiveKit) -> None:
    livekit.fail(AWAY("delete_room"))
    with pytest.raises(RemovalNotMadeError) as not_made:
        await perform.plan(memory(), livekit.gateway, (DeleteLiveKitRoom(True, ENDED),))
    assert isinstance(not_made.value.cause, LiveKitUnreachableError)
    assert (not_made.value.kept, not_made.value.what) == (ENDED.kept, ENDED.what)
    unconfigured = LiveKitGateway(make_settings("sqlite://:memory:"))
    with pytest.raises(RemovalNotMadeError) as missing:
        await perform.plan(memory(), unconfigured, (LiveKitMissing(KEPT),))
    assert isinstance(missing.value.cause, LiveKitNotConfiguredError)
