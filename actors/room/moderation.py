"""Moderation of one room: remove (and ban), mute, change a participant, end the meeting.

Everything here runs inside the room's actor, one message at a time, so a
removal with a ban and a token request for the same identity can never cross:
a request handled after the ban is refused, one handled before it was issued
while the identity was not banned yet.

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

from actors.room.presence import Annotations, RoomState
from actors.room.protocol import (
    BanNotFoundError,
    LiveKit,
    LiveKitNotConfiguredError,
    LiveKitRefusedError,
    LiveKitUnreachableError,
    LiveParticipant,
    ParticipantNotFoundError,
    RemovalNotMadeError,
    TrackNotFoundError,
)
from actors.room.seats import SeatBook
from models.bans import BanRow, delete_ban, insert_ban, room_bans
from models.db import transaction

log = logging.getLogger(__name__)


def _log_unstored_revocation(written: asyncio.Future[None]) -> None:
    if not written.cancelled() and written.exception() is not None:
        log.warning("a revocation was not stored: %s", written.exception())


class BanList:
    """A room's bans, as its actor keeps them (stored in `bans`)."""

    def __init__(self) -> None:
        self._bans: dict[str, BanRow] = {}

    def __contains__(self, identity: object) -> bool:
        return identity in self._bans

    def reset(self) -> None:
        self._bans = {}

    async def load(self, room_id: int) -> None:
        async with transaction() as conn:
            rows = await room_bans(conn, room_id)
        self._bans = {row.identity: row for row in rows}

    async def add(self, room_id: int, row: BanRow) -> None:
        async with transaction() as conn:
            stored = await insert_ban(conn, room_id, row)
        self._bans[stored.identity] = stored

    async def lift(self, room_id: int, identity: str) -> None:
        async with transaction() as conn:
            lifted = await delete_ban(conn, room_id, identity)
        self._bans.pop(identity, None)
        if not lifted:
            raise BanNotFoundError(identity)

    def rows(self) -> list[BanRow]:
        return sorted(self._bans.values(), key=lambda row: row.created_at)

    def identities(self) -> frozenset[str]:
        return frozenset(self._bans)


class Moderator:
    """The moderation actions of one room; called only by its actor."""

    def __init__(
        self,
        room_name: str,
        gateway: LiveKit,
        state: Callable[[], RoomState],
        annotations: Annotations,
        seats: SeatBook,
        bans: BanList,
        now: Callable[[], dt.datetime],
    ) -> None:
        self._room = room_name
        self._gateway = gateway
        # The room's presence as its actor holds it now (replaced on every commit).
        self._state = state
        self._annotations = annotations
        self._seats = seats
        self._bans = bans
        self._now = now

    def _require_livekit(self) -> None:
        if not self._gateway.url:
            raise LiveKitNotConfiguredError

    async def remove(self, room_id: int, identity: str, *, ban: bool, reason: str | None) -> None:
        present = bool(self._state().connections(identity))
        if not present and not ban:
            if not self._gateway.url:
                raise LiveKitNotConfiguredError
            raise ParticipantNotFoundError(identity)
        if ban:
            await self._bans.add(room_id, BanRow(identity, reason, self._now()))
        await self._revoke(identity)
        kept = "the ban was kept" if ban else "its tokens for this room were revoked"
        if not self._gateway.url:
            raise RemovalNotMadeError(LiveKitNotConfiguredError(), kept)
        if not present:
            return
        try:
            await self.disconnect(identity)
        except LiveKitUnreachableError as error:  # not configured, or away
            raise RemovalNotMadeError(error, kept) from error
        except LiveKitRefusedError as error:
            raise RemovalNotMadeError(error, kept) from error

    async def revoke_access(self, identity: str, *, disconnect: bool) -> None:
        """The identity no longer qualifies: revoke, and disconnect it if it is here.

        Without `disconnect` (told by a token request that found a no) nothing is
        awaited: the mailbox goes on, and a write that fails is only logged (the
        re-check finds the same no again)."""
        if not disconnect:
            written = self._seats.revoke(identity, self._now())
            if written is not None:
                written.add_done_callback(_log_unstored_revocation)
            return
        await self._revoke(identity)
        if self._state().connections(identity) and self._gateway.url:
            await self.disconnect(identity)

    async def disconnect(self, identity: str) -> None:
        """RemoveParticipant in LiveKit; already gone is done."""
        try:
            await self._gateway.remove_participant(self._room, identity)
        except LiveKitRefusedError as error:
            if error.code != "not_found":
                raise

    async def _revoke(self, identity: str) -> None:
        written = self._seats.revoke(identity, self._now())
        if written is not None:
            # Durable before the answer: a revocation lost in a restart would let
            # the old token in again. The seat writer bounds its own wait.
            await asyncio.shield(written)

    async def mute(self, identity: str, track_sid: str | None, *, muted: bool) -> None:
        self._require_livekit()
        connections = self._state().connections(identity)
        if not connections:
            raise ParticipantNotFoundError(identity)
        targets = [
            t.sid
            for c in connections
            for t in c.tracks.live
            if track_sid is None or t.sid == track_sid
        ]
        if track_sid is not None and not targets:
            raise TrackNotFoundError(track_sid)
        for sid in targets:
            await self._gateway.mute_published_track(self._room, identity, sid, muted=muted)
            # Set as each call succeeds: a later refusal leaves these as LiveKit has them.
            self._annotations.muted[sid] = muted

    async def change(
        self,
        identity: str,
        *,
        role: str | None,
        name: str | None,
        metadata: str | None,
        attributes: dict[str, str] | None,
    ) -> LiveParticipant:
        self._require_livekit()
        if not self._state().connections(identity):
            raise ParticipantNotFoundError(identity)
        await self._gateway.update_participant(
            self._room, identity, role=role, name=name, metadata=metadata, attributes=attributes
        )
        if role is not None:
            self._annotations.roles[identity] = role
        if name is not None:
            self._annotations.names[identity] = name
        return self._annotations.view(self._state().connections(identity)[-1])

    async def end(self) -> None:
        self._require_livekit()
        # Every grant revoked first (seat holders who never joined too), so nobody
        # comes back on a token of the ended meeting, even if LiveKit refuses now.
        written = self._seats.revoke_all(self._now())
        if written:
            await asyncio.shield(asyncio.gather(*written))
        try:
            await self._gateway.delete_room(self._room)
        except LiveKitRefusedError as error:
            if error.code != "not_found":  # no meeting running in LiveKit is an ended meeting
                raise RemovalNotMadeError(
                    error, "every token for it was revoked", what="The meeting was not ended"
                ) from error
        except LiveKitUnreachableError as error:
            raise RemovalNotMadeError(
                error, "every token for it was revoked", what="The meeting was not ended"
            ) from error
        # Everyone leaves (LiveKit's room_finished closes the session); seats go too.
        self._seats.release_all()
