"""Moderation of one room: remove (and ban), revoke, mute, change a participant, end the meeting.

Functions of the room's memory and the message, called only by the room's
actor, one message at a time, so a removal with a ban and a token request for
the same identity can never cross: a request handled after the ban is
refused, one handled before it was issued while the identity was not banned.

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

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from actors.room.errors import (
    ParticipantNotFoundError,
    RemovalNotMadeError,
    TrackNotFoundError,
)
from actors.room.livekit import (
    LiveKit,
    LiveKitNotConfiguredError,
    LiveKitRefusedError,
    LiveKitUnreachableError,
)
from actors.room.memory import RoomMemory
from actors.room.views import LiveParticipant
from models.bans import BanRow

log = logging.getLogger(__name__)

ENDED_KEPT = "every token for it was revoked"
NOT_ENDED = "The meeting was not ended"


@dataclass(frozen=True, slots=True)
class Ports:
    """What moderation reaches outside the room's memory."""

    livekit: LiveKit
    now: Callable[[], dt.datetime]


def _require_livekit(ports: Ports) -> None:
    if not ports.livekit.configured:
        raise LiveKitNotConfiguredError


async def remove(
    memory: RoomMemory, ports: Ports, identity: str, *, ban: bool, reason: str | None
) -> None:
    config = memory.require_config()
    present = bool(memory.state.connections(identity))
    if not present and not ban:
        _require_livekit(ports)
        raise ParticipantNotFoundError(identity)
    if ban:
        await memory.bans.add(config.id, BanRow(identity, reason, ports.now()))
    await _revoke(memory, ports, identity)
    kept = "the ban was kept" if ban else "its tokens for this room were revoked"
    if not ports.livekit.configured:
        raise RemovalNotMadeError(LiveKitNotConfiguredError(), kept)
    if not present:
        return
    try:
        await disconnect(memory, ports, identity)
    except (LiveKitUnreachableError, LiveKitRefusedError) as error:
        raise RemovalNotMadeError(error, kept) from error


async def revoke_access(
    memory: RoomMemory, ports: Ports, identity: str, *, disconnect_now: bool
) -> None:
    """The identity no longer qualifies: revoke, and disconnect it if it is here.

    Without `disconnect_now` (told by a token request that found a no) nothing
    is awaited: the mailbox goes on, and a write that fails is only logged (the
    re-check finds the same no again)."""
    if not disconnect_now:
        written = memory.seats.revoke(identity, ports.now(), only_granted=True)
        if written is not None:
            written.add_done_callback(_log_unstored_revocation)
        return
    await _revoke(memory, ports, identity)
    if memory.state.connections(identity) and ports.livekit.configured:
        await disconnect(memory, ports, identity)


async def disconnect(memory: RoomMemory, ports: Ports, identity: str) -> None:
    """RemoveParticipant in LiveKit; already gone is done."""
    try:
        await ports.livekit.remove_participant(memory.name, identity)
    except LiveKitRefusedError as error:
        if not error.gone:
            raise


async def mute(
    memory: RoomMemory, ports: Ports, identity: str, track_sid: str | None, *, muted: bool
) -> None:
    memory.require_config()
    _require_livekit(ports)
    connections = memory.state.connections(identity)
    if not connections:
        raise ParticipantNotFoundError(identity)
    targets = [
        t.sid for c in connections for t in c.tracks.live if track_sid is None or t.sid == track_sid
    ]
    if track_sid is not None and not targets:
        raise TrackNotFoundError(track_sid)
    for sid in targets:
        await ports.livekit.mute_published_track(memory.name, identity, sid, muted=muted)
        # Set as each call succeeds: a later refusal leaves these as LiveKit has them.
        memory.annotations.muted[sid] = muted


async def change(
    memory: RoomMemory,
    ports: Ports,
    identity: str,
    *,
    role: str | None,
    name: str | None,
    metadata: str | None,
    attributes: dict[str, str] | None,
) -> LiveParticipant:
    memory.require_config()
    _require_livekit(ports)
    if not memory.state.connections(identity):
        raise ParticipantNotFoundError(identity)
    await ports.livekit.update_participant(
        memory.name, identity, role=role, name=name, metadata=metadata, attributes=attributes
    )
    if role is not None:
        memory.annotations.roles[identity] = role
    if name is not None:
        memory.annotations.names[identity] = name
    return memory.annotations.view(memory.state.connections(identity)[-1])


async def end(memory: RoomMemory, ports: Ports) -> None:
    memory.require_config()
    _require_livekit(ports)
    # Every grant revoked first (seat holders who never joined too), so nobody
    # comes back on a token of the ended meeting, even if LiveKit refuses now.
    written = memory.seats.revoke_all(ports.now(), memory.state.identities())
    if written:
        await asyncio.shield(asyncio.gather(*written))
    try:
        await ports.livekit.delete_room(memory.name)
    except LiveKitRefusedError as error:
        if not error.gone:  # no meeting running in LiveKit is an ended meeting
            raise RemovalNotMadeError(error, ENDED_KEPT, what=NOT_ENDED) from error
    except LiveKitUnreachableError as error:
        raise RemovalNotMadeError(error, ENDED_KEPT, what=NOT_ENDED) from error
    # Everyone leaves (LiveKit's room_finished closes the session); seats go too.
    memory.seats.release_all()


async def _revoke(memory: RoomMemory, ports: Ports, identity: str) -> None:
    written = memory.seats.revoke(identity, ports.now())
    if written is not None:
        # Durable before the answer: a revocation lost in a restart would let the
        # old token in again. The seat writer bounds its own wait.
        await asyncio.shield(written)


def _log_unstored_revocation(written: asyncio.Future[None]) -> None:
    if not written.cancelled() and written.exception() is not None:
        log.warning("a revocation was not stored: %s", written.exception())
