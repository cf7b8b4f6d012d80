"""Moderation's decisions as a table: a room's memory and a message give a plan or a refusal.

Pure: nothing is awaited, no database, no LiveKit. What each plan then does
is perform.py's, tested through the routes (tests/app/test_moderation.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from actors.room import moderation
from actors.room.errors import (
    ParticipantNotFoundError,
    RoomNotFoundError,
    TrackNotFoundError,
)
from actors.room.livekit import LiveKitNotConfiguredError
from actors.room.memory import RoomMemory
from actors.room.moderation import BAN_KEPT, ENDED_KEPT, NOT_ENDED, REVOKED_KEPT
from actors.room.plans import (
    DeleteLiveKitRoom,
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
    UpdateParticipant,
)
from actors.room.protocol import (
    ChangeParticipant,
    EndMeeting,
    MuteTracks,
    RemoveParticipant,
    RevokeAccess,
    RoomMessage,
)
from models.bans import BanRow
from models.outbox_events import participant_removed
from tests.actors.room.rooms import ANN, BOB, NOW, ROOM, ROOM_ID, memory


def decide(room: RoomMemory, message: RoomMessage, configured: bool) -> Plan:
    """What the actor decides for `message` (the moderation cases of its dispatch)."""
    match message:
        case RemoveParticipant():
            return moderation.remove(room, message, NOW, livekit_configured=configured)
        case RevokeAccess():
            return moderation.revoke_access(room, message, NOW, livekit_configured=configured)
        case MuteTracks():
            return moderation.mute(room, message, livekit_configured=configured)
        case ChangeParticipant():
            return moderation.change(room, message, livekit_configured=configured)
        case EndMeeting():
            return moderation.end(room, NOW, livekit_configured=configured)
    raise AssertionError(message)


@dataclass(frozen=True)
class Case:
    name: str
    message: RoomMessage
    # A plan, or the refusal raised before anything is done.
    then: Plan | type[Exception]
    room: Callable[[], RoomMemory] = memory
    configured: bool = True


def no_room() -> RoomMemory:
    return memory(None)


def empty_room() -> RoomMemory:
    return memory(live=())


REVOKED = NotMade(REVOKED_KEPT)
BANNED = NotMade(BAN_KEPT)
ANN_BANNED = StoreBan(ROOM_ID, BanRow("ann", "spam", NOW))
CAROL_BANNED = StoreBan(ROOM_ID, BanRow("carol", None, NOW))


def removed(
    identity: str, *, by: str = "access_recheck", reason: str | None = None, banned: bool = False
) -> Report:
    """The participant.removed event a removal that happened reports."""
    return Report(participant_removed(ROOM, identity, reason=reason, banned=banned, by=by, at=NOW))


CASES = [
    # -- remove (and ban) ----------------------------------------------------------------
    Case(
        "remove one who is here: revoke durably, then disconnect",
        RemoveParticipant("ann"),
        (Revoke("ann", NOW), Disconnect("ann", REVOKED), removed("ann", by="moderation")),
    ),
    Case(
        "remove with a ban: the ban first, then as a removal",
        RemoveParticipant("ann", ban=True, reason="spam"),
        (
            ANN_BANNED,
            Revoke("ann", NOW),
            Disconnect("ann", BANNED),
            removed("ann", by="moderation", reason="spam", banned=True),
        ),
    ),
    Case(
        "ban one who is not here: stored and revoked, nobody to disconnect",
        RemoveParticipant("carol", ban=True),
        (CAROL_BANNED, Revoke("carol", NOW)),
    ),
    Case("remove one who is not here", RemoveParticipant("carol"), ParticipantNotFoundError),
    Case(
        "remove one who is not here, without LiveKit: LiveKit is named first",
        RemoveParticipant("carol"),
        LiveKitNotConfiguredError,
        configured=False,
    ),
    Case(
        "remove without LiveKit: revoked all the same, then not made",
        RemoveParticipant("ann"),
        (Revoke("ann", NOW), LiveKitMissing(REVOKED)),
        configured=False,
    ),
    Case(
        "ban without LiveKit: the ban kept, then not made",
        RemoveParticipant("carol", ban=True),
        (CAROL_BANNED, Revoke("carol", NOW), LiveKitMissing(BANNED)),
        configured=False,
    ),
    Case("remove in no room of ours", RemoveParticipant("ann"), RoomNotFoundError, no_room),
    # -- revoke (access no longer met) -------------------------------------------------------
    Case(
        "told by a token request: only a grant memory holds, not waited for",
        RevokeAccess("ann", disconnect=False),
        (Revoke("ann", NOW, only_granted=True, durable=False),),
    ),
    Case("told, in no room of ours: nothing", RevokeAccess("ann", disconnect=False), (), no_room),
    Case(
        "the re-check, one who is here: revoke, disconnect (not_found is done), report",
        RevokeAccess("ann", reason="holds 1 of 0xabc"),
        (Revoke("ann", NOW), Disconnect("ann"), removed("ann", reason="holds 1 of 0xabc")),
    ),
    Case("the re-check, one who is not here", RevokeAccess("carol"), (Revoke("carol", NOW),)),
    Case(
        "the re-check without LiveKit: revoked only",
        RevokeAccess("ann"),
        (Revoke("ann", NOW),),
        configured=False,
    ),
    Case("the re-check in no room of ours", RevokeAccess("ann"), RoomNotFoundError, no_room),
    # -- mute --------------------------------------------------------------------------------
    Case(
        "mute every track, on every connection of the identity",
        MuteTracks("ann", None),
        (Mute("ann", "TR_a1", True), Mute("ann", "TR_a2", True), Mute("ann", "TR_a3", True)),
    ),
    Case("mute one track", MuteTracks("ann", "TR_a3"), (Mute("ann", "TR_a3", True),)),
    Case(
        "unmute one track",
        MuteTracks("ann", "TR_a2", muted=False),
        (Mute("ann", "TR_a2", False),),
    ),
    Case("mute all of one who publishes nothing: nothing to do", MuteTracks("bob", None), ()),
    Case("mute a track another publishes", MuteTracks("bob", "TR_a1"), TrackNotFoundError),
    Case("mute a track nobody publishes", MuteTracks("ann", "TR_zz"), TrackNotFoundError),
    Case("mute one who is not here", MuteTracks("carol", None), ParticipantNotFoundError),
    Case(
        "mute without LiveKit",
        MuteTracks("carol", None),
        LiveKitNotConfiguredError,
        configured=False,
    ),
    Case("mute in no room of ours", MuteTracks("ann", None), RoomNotFoundError, no_room),
    # -- change a participant ---------------------------------------------------------------------
    Case(
        "change: the fields given",
        ChangeParticipant("bob", role="speaker", attributes={"a": "b"}),
        (UpdateParticipant("bob", role="speaker", attributes={"a": "b"}),),
    ),
    Case("change one who is not here", ChangeParticipant("carol"), ParticipantNotFoundError),
    Case(
        "change without LiveKit",
        ChangeParticipant("bob"),
        LiveKitNotConfiguredError,
        configured=False,
    ),
    Case("change in no room of ours", ChangeParticipant("bob"), RoomNotFoundError, no_room),
    # -- end the meeting ---------------------------------------------------------------------
    Case(
        "end: every grant revoked first, then DeleteRoom, then the seats freed",
        EndMeeting(),
        (
            RevokeAll(NOW, frozenset({"ann", "bob"})),
            DeleteLiveKitRoom(required=True, not_made=NotMade(ENDED_KEPT, what=NOT_ENDED)),
            ReleaseAllSeats(),
        ),
    ),
    Case(
        "end a meeting nobody is in: the grants all the same",
        EndMeeting(),
        (
            RevokeAll(NOW, frozenset()),
            DeleteLiveKitRoom(required=True, not_made=NotMade(ENDED_KEPT, what=NOT_ENDED)),
            ReleaseAllSeats(),
        ),
        empty_room,
    ),
    Case("end without LiveKit", EndMeeting(), LiveKitNotConfiguredError, configured=False),
    Case("end in no room of ours", EndMeeting(), RoomNotFoundError, no_room),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_moderation_decides(case: Case) -> None:
    room = case.room()
    config, state, entry = room.config, room.state, room.entry
    if isinstance(case.then, tuple):
        assert decide(room, case.message, case.configured) == case.then
    else:
        with pytest.raises(case.then):
            decide(room, case.message, case.configured)
    # Deciding changes nothing: that is the performer's.
    assert (room.config, room.state, room.entry) == (config, state, entry)
    assert room.seats.grants() == {}
    annotations = room.annotations
    assert (annotations.muted, annotations.roles, annotations.names) == ({}, {}, {})


def test_the_participant_shown_after_a_change_is_the_latest_connection() -> None:
    room = memory()
    room.annotations.roles["ann"] = "speaker"
    shown = moderation.participant(room, "ann")
    assert (shown.sid, shown.role, shown.tracks) == (ANN[-1].sid, "speaker", 1)
    assert moderation.participant(room, "bob").sid == BOB[0].sid


def test_the_kept_texts_say_what_was_done() -> None:
    error = NotMade(ENDED_KEPT, what=NOT_ENDED).error(LiveKitNotConfiguredError())
    assert str(error) == f"{NOT_ENDED} (LIVEKIT_URL is not set); {ENDED_KEPT}"
    assert REVOKED.error(RuntimeError("x")).what == "The participant was not disconnected"
