"""Moderation of one room: remove (and ban), mute, change a participant, end the meeting.

Everything here runs inside the room's actor, one message at a time, so a
removal with a ban and a token request for the same identity can never cross:
a request handled after the ban is refused, one handled before it was issued
while the identity was not banned yet.

Each of these needs LiveKit: with LIVEKIT_URL empty, LiveKitNotConfiguredError
(503) before anything changes. A LiveKit that refuses or cannot be reached is
503 too, and nothing changes but a ban, which is stored first and kept: a
moderator who asked for it wants that identity out even if LiveKit is away.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from actors.room.presence import Annotations, RoomState
from actors.room.protocol import (
    BanNotFoundError,
    LiveKit,
    LiveKitNotConfiguredError,
    LiveKitRefusedError,
    LiveParticipant,
    ParticipantNotFoundError,
    TrackNotFoundError,
)
from actors.room.seats import SeatBook
from models.bans import BanRow, delete_ban, insert_ban, room_bans
from models.db import transaction


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
        self._require_livekit()
        present = bool(self._state().connections(identity))
        if not present and not ban:
            raise ParticipantNotFoundError(identity)
        if ban:
            await self._bans.add(room_id, BanRow(identity, reason, self._now()))
        if present:
            try:
                await self._gateway.remove_participant(self._room, identity)
            except LiveKitRefusedError as error:
                if error.code != "not_found":
                    raise  # 503; the ban (if any) stays
        self._seats.release(identity)

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
        try:
            await self._gateway.delete_room(self._room)
        except LiveKitRefusedError as error:
            if error.code != "not_found":
                raise  # no meeting running in LiveKit is an ended meeting
        # Everyone leaves (LiveKit's room_finished closes the session); seats go too.
        self._seats.release_all()
