"""A room's presence: its current LiveKit session and who is in it, as one immutable value.

The room's rules (effects.py) turn one RoomState and a batch of events into
the next; the actor swaps the value it holds only once the effects are
committed, so its memory is never ahead of the database. What Qari sets and
LiveKit sends no webhook for (a role, a name, a mute) is kept beside it, in
Annotations, so a commit never undoes it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from actors.room.identity import canonical_identity
from actors.room.views import LiveParticipant
from models.db import Database
from models.rooms import RoomPresenceRow, RoomStatus
from models.sessions import Connection, room_presence

# Ended sessions a room remembers by sid, so a late event for one is known as late.
RECENT_ENDED = 16


@dataclass(frozen=True, slots=True)
class CurrentSession:
    sid: str
    started_at: dt.datetime


_NO_ONE: Mapping[str, Connection] = MappingProxyType({})
_NO_ONE_IN: Mapping[str, int] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class RoomState:
    """What the rules need to decide any event without asking the database."""

    name: str
    session: CurrentSession | None = None
    # Open connections of the current session, by participant sid.
    live: Mapping[str, Connection] = field(default_factory=lambda: _NO_ONE)
    # Connections of the current session that have closed: a join for one is late.
    closed: frozenset[str] = frozenset()
    # The latest ended sessions' sids, newest last.
    ended: tuple[str, ...] = ()
    # When the newest session known started: an unknown sid older than that is a
    # late event of an earlier instance of this room name.
    latest_start: dt.datetime | None = None
    # identity -> how many of its connections are live: who is in the room, kept
    # by the rules as they decide (effects.py), so a join's check and the room
    # row read it without a pass over every connection. Counted from `live`
    # when not given.
    in_room: Mapping[str, int] = field(default_factory=lambda: _NO_ONE_IN)

    def __post_init__(self) -> None:
        if self.live and not self.in_room:
            object.__setattr__(self, "in_room", counted(self.live))
        elif sum(self.in_room.values()) != len(self.live):
            # A state built with new connections and the old count (a `replace`
            # that forgot `in_room`): refused here, not a wrong admission later.
            raise ValueError("in_room does not count the live connections")

    def identities(self) -> set[str]:
        return set(self.in_room)

    def connections(self, identity: str) -> list[Connection]:
        return [c for c in self.live.values() if c.identity == identity]

    def room_row(self, room_id: int) -> RoomPresenceRow:
        """The room row's presence columns that this state implies."""
        return RoomPresenceRow(
            room_id=room_id,
            status=(RoomStatus.LIVE if self.session else RoomStatus.IDLE).value,
            num_participants=len(self.in_room),
            livekit_sid=self.session.sid if self.session else None,
        )


def counted(live: Mapping[str, Connection]) -> Mapping[str, int]:
    """identity -> how many of `live`'s connections are its."""
    return MappingProxyType(dict(Counter(c.identity for c in live.values())))


async def load_state(database: Database, room_name: str) -> RoomState:
    """The room's presence as the database holds it (bounded reads)."""
    rows = await room_presence(database, room_name, RECENT_ENDED)
    if rows.session is None:
        return RoomState(room_name, ended=tuple(rows.ended), latest_start=rows.latest_start)
    # Rows stored before identities had one spelling read as the one spelling.
    live = {c.sid: replace(c, identity=canonical_identity(c.identity)) for c in rows.live}
    return RoomState(
        room_name,
        session=CurrentSession(rows.session.sid, rows.session.started_at),
        live=MappingProxyType(live),
        closed=frozenset(rows.closed),
        ended=tuple(rows.ended),
        latest_start=rows.latest_start,
    )


class Annotations:
    """What Qari set on a room's participants in memory: roles, names, mutes.

    LiveKit sends no webhook for these, so they are not the rules' to decide;
    they are lost on restart (a role shows as unknown until set again).
    """

    def __init__(self) -> None:
        # The role each identity's latest token was issued with, or set by a moderator.
        self.roles: dict[str, str] = {}
        self.names: dict[str, str] = {}
        # Track sid -> muted, as last set through Qari.
        self.muted: dict[str, bool] = {}

    def clear(self) -> None:
        self.roles.clear()
        self.names.clear()
        self.muted.clear()

    def view(self, connection: Connection) -> LiveParticipant:
        tracks = tuple(
            replace(t, muted=self.muted.get(t.sid, t.muted)) for t in connection.tracks.live
        )
        return LiveParticipant(
            identity=connection.identity,
            name=self.names.get(connection.identity, connection.name),
            sid=connection.sid,
            joined_at=connection.joined_at,
            state=connection.state,
            tracks=len(tracks),
            published=tracks,
            role=self.roles.get(connection.identity),
        )
