"""Moderation of one room: remove (and ban), revoke, mute, change a participant, end the meeting.

Pure functions of the room's memory and the message (with the time, and
whether there is a LiveKit to call), called only by the room's actor: each
raises the room's refusal, or returns the plan (plans.py) that perform.py
carries out. One message at a time, so a removal with a ban and a token
request for the same identity can never cross: a request handled after the
ban is refused, one handled before it was issued while the identity was not
banned.

Each of these needs LiveKit: with LIVEKIT_URL empty, LiveKitNotConfiguredError
(503) before anything changes. A LiveKit that refuses or cannot be reached is
503 too, and nothing changes, except what a removal does in the database
alone, first: a requested ban is stored and the identity's grant revoked
(RemovalNotMadeError says so), since a moderator who asked for it wants that
identity out even if LiveKit is away, and both are enforced on tokens and joins.

A removal (and ending the meeting) revokes: the tokens the identity holds for
this room stop admitting it, so coming back takes a new token, which checks
the ban, the access condition and capacity again.
"""

from __future__ import annotations

import datetime as dt

from actors.room.errors import ParticipantNotFoundError, TrackNotFoundError
from actors.room.livekit import LiveKitNotConfiguredError
from actors.room.memory import RoomMemory
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
    MuteTracks,
    RemoveParticipant,
    RevokeAccess,
)
from actors.room.views import LiveParticipant
from models.bans import BanRow
from models.outbox_events import participant_removed

BAN_KEPT = "the ban was kept"
REVOKED_KEPT = "its tokens for this room were revoked"
ENDED_KEPT = "every token for it was revoked"
NOT_ENDED = "The meeting was not ended"


def remove(
    memory: RoomMemory, message: RemoveParticipant, now: dt.datetime, *, livekit_configured: bool
) -> Plan:
    """The ban (if asked) and the revocation, durably, whatever LiveKit then says;
    then RemoveParticipant if the identity is here."""
    config = memory.require_config()
    identity, ban = message.identity, message.ban
    present = bool(memory.state.connections(identity))
    if not present and not ban:
        _require_livekit(livekit_configured)
        raise ParticipantNotFoundError(identity)
    stored = (StoreBan(config.id, BanRow(identity, message.reason, now)),) if ban else ()
    not_made = NotMade(BAN_KEPT if ban else REVOKED_KEPT)
    if not livekit_configured:
        return (*stored, Revoke(identity, now), LiveKitMissing(not_made))
    if not present:
        return (*stored, Revoke(identity, now))
    removed = participant_removed(
        memory.name, identity, reason=message.reason, banned=ban, by="moderation", at=now
    )
    return (*stored, Revoke(identity, now), Disconnect(identity, not_made), Report(removed))


def revoke_access(
    memory: RoomMemory, message: RevokeAccess, now: dt.datetime, *, livekit_configured: bool
) -> Plan:
    """The identity no longer qualifies: revoke, and disconnect it if it is here.

    Without `disconnect` (told by a token request that found a no) nothing is
    awaited: the mailbox goes on, and a write that fails is only logged (the
    re-check finds the same no again)."""
    identity = message.identity
    if not message.disconnect:
        if memory.config is None:
            return ()  # nothing granted in a room that is not ours
        return (Revoke(identity, now, only_granted=True, durable=False),)
    memory.require_config()
    if memory.state.connections(identity) and livekit_configured:
        removed = participant_removed(
            memory.name, identity, reason=message.reason, banned=False, by=message.by, at=now
        )
        return (Revoke(identity, now), Disconnect(identity), Report(removed))
    return (Revoke(identity, now),)


def mute(memory: RoomMemory, message: MuteTracks, *, livekit_configured: bool) -> Plan:
    """MutePublishedTrack for the track named, or every track the identity publishes."""
    memory.require_config()
    _require_livekit(livekit_configured)
    identity, track_sid = message.identity, message.track_sid
    connections = memory.state.connections(identity)
    if not connections:
        raise ParticipantNotFoundError(identity)
    targets = [
        t.sid for c in connections for t in c.tracks.live if track_sid is None or t.sid == track_sid
    ]
    if track_sid is not None and not targets:
        raise TrackNotFoundError(track_sid)
    return tuple(Mute(identity, sid, message.muted) for sid in targets)


def change(memory: RoomMemory, message: ChangeParticipant, *, livekit_configured: bool) -> Plan:
    """UpdateParticipant with the fields given."""
    memory.require_config()
    _require_livekit(livekit_configured)
    if not memory.state.connections(message.identity):
        raise ParticipantNotFoundError(message.identity)
    return (
        UpdateParticipant(
            message.identity,
            role=message.role,
            name=message.name,
            metadata=message.metadata,
            attributes=message.attributes,
        ),
    )


def participant(memory: RoomMemory, identity: str) -> LiveParticipant:
    """The identity's latest connection as askers see it (after a change)."""
    return memory.annotations.view(memory.state.connections(identity)[-1])


def end(memory: RoomMemory, now: dt.datetime, *, livekit_configured: bool) -> Plan:
    """Every grant revoked first (seat holders who never joined too), so nobody comes
    back on a token of the ended meeting, even if LiveKit refuses now; then
    DeleteRoom (no meeting running in LiveKit is an ended meeting); then the
    seats go too (LiveKit's room_finished closes the session)."""
    memory.require_config()
    _require_livekit(livekit_configured)
    return (
        RevokeAll(now, frozenset(memory.state.identities())),
        DeleteLiveKitRoom(required=True, not_made=NotMade(ENDED_KEPT, what=NOT_ENDED)),
        ReleaseAllSeats(),
    )


def _require_livekit(configured: bool) -> None:
    if not configured:
        raise LiveKitNotConfiguredError
