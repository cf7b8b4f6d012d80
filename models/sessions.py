"""Room and participant sessions, keyed by LiveKit's sids.

A room name is reused with a new sid, and an identity reconnects with a new
sid, so sids (not names) identify what happened when.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from tortoise import fields
from tortoise.models import Model

from models.db import Database

# A connection's unpublished track sids kept, so a late publish of one is ignored.
MAX_GONE_TRACKS = 64
# Column sizes, for rules that refuse what could never be stored.
MAX_SID = 64
MAX_IDENTITY = 256
MAX_NAME = 256
MAX_KIND = 16


class RoomSession(Model):
    """One LiveKit room instance, from room_started to room_finished."""

    id = fields.IntField(primary_key=True)
    sid = fields.CharField(max_length=64, unique=True)
    room_name = fields.CharField(max_length=128)
    started_at = fields.DatetimeField()
    ended_at = fields.DatetimeField(null=True)

    participants: fields.ReverseRelation[ParticipantSession]

    class Meta:
        table = "room_sessions"
        indexes = (("room_name", "started_at"),)


class ParticipantSession(Model):
    """One connection of one participant, from join (or its first sign) to leave."""

    id = fields.IntField(primary_key=True)
    sid = fields.CharField(max_length=64, unique=True)
    room_session: fields.ForeignKeyRelation[RoomSession] = fields.ForeignKeyField(
        "models.RoomSession", related_name="participants", on_delete=fields.CASCADE
    )
    identity = fields.CharField(max_length=256)
    name = fields.CharField(max_length=256, null=True)
    kind = fields.CharField(max_length=16, default="standard")
    state = fields.CharField(max_length=16, default="joined")
    joined_at = fields.DatetimeField(null=True)
    left_at = fields.DatetimeField(null=True)
    disconnect_reason = fields.CharField(max_length=64, null=True)
    track_count = fields.IntField(default=0)
    # The tracks published and unpublished, by sid (TrackSet as JSON), so a count
    # is right whatever order LiveKit's track events arrive in.
    track_sids = fields.TextField(null=True)

    class Meta:
        table = "participant_sessions"
        indexes = (("room_session_id", "left_at"),)


@dataclass(frozen=True, slots=True)
class PublishedTrack:
    """A track a connection publishes, from track_published; muted as LiveKit said."""

    sid: str
    kind: str  # audio, video, data
    muted: bool = False


@dataclass(frozen=True, slots=True)
class TrackSet:
    """A connection's tracks by sid: those published now, and those unpublished."""

    live: tuple[PublishedTrack, ...] = ()
    gone: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return len(self.live)

    def published(self, track: PublishedTrack) -> TrackSet:
        if track.sid in self.gone or any(t.sid == track.sid for t in self.live):
            return self  # a repeat, or late after its unpublish
        return TrackSet((*self.live, track), self.gone)

    def unpublished(self, sid: str) -> TrackSet:
        if sid in self.gone:
            return self
        live = tuple(t for t in self.live if t.sid != sid)
        return TrackSet(live, (*self.gone, sid)[-MAX_GONE_TRACKS:])

    def to_json(self) -> str:
        live = [[t.sid, t.kind, t.muted] for t in self.live]
        return json.dumps({"live": live, "gone": list(self.gone)}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None, count: int = 0) -> TrackSet:
        if text:
            try:
                value = json.loads(text)
                tracks = value["live"]
                live = tuple(PublishedTrack(str(t[0]), str(t[1]), bool(t[2])) for t in tracks)
                return cls(live, tuple(str(sid) for sid in value["gone"]))
            except (ValueError, TypeError, KeyError, IndexError):
                pass  # not ours to fail a room's load over: fall back to the count
        # Stored before tracks were kept by sid: the count is all there is.
        return cls(tuple(PublishedTrack(f"unknown-{i}", "unknown") for i in range(count)))


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A room session to store if its sid is new."""

    sid: str
    room_name: str
    started_at: dt.datetime
    ended_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class SessionEnd:
    """A stored room session that ended (if it had not already)."""

    sid: str
    ended_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ParticipantRow:
    """A participant session to store if its sid is new."""

    sid: str
    session_sid: str
    identity: str
    name: str | None
    kind: str
    state: str
    joined_at: dt.datetime | None
    left_at: dt.datetime | None = None
    disconnect_reason: str | None = None
    tracks: TrackSet = field(default_factory=TrackSet)


@dataclass(frozen=True, slots=True)
class ParticipantChange:
    """A change to a stored participant session of `session_sid`; None: unchanged.

    A close applies only to a session still open: a leave is never moved or undone.
    """

    sid: str
    session_sid: str
    left_at: dt.datetime | None = None
    disconnect_reason: str | None = None
    tracks: TrackSet | None = None


@dataclass(frozen=True, slots=True)
class Connection:
    """An open participant session: as a room actor reloads it, and keeps it."""

    sid: str
    identity: str
    name: str | None
    kind: str
    state: str
    joined_at: dt.datetime | None
    tracks: TrackSet = field(default_factory=TrackSet)


@dataclass(frozen=True, slots=True)
class RoomPresence:
    """What a room actor reloads: its newest open session and who is in it."""

    session: SessionRow | None
    live: list[Connection]
    closed: list[str]
    # Sids of the room's latest ended sessions, newest last.
    ended: list[str]
    latest_start: dt.datetime | None


async def room_presence(database: Database, room_name: str, recent: int) -> RoomPresence:
    """The newest open session of a room name, its participants, its latest ended sessions
    (within the database's timeout)."""
    async with database.bounded():
        sessions = (
            await RoomSession.filter(room_name=room_name)
            .order_by("-started_at", "-id")
            .limit(recent + 1)
        )
        current = next((s for s in sessions if s.ended_at is None), None)
        live: list[Connection] = []
        closed: list[str] = []
        if current is not None:
            for row in await ParticipantSession.filter(room_session_id=current.id):
                if row.left_at is not None:
                    closed.append(row.sid)
                    continue
                live.append(
                    Connection(
                        sid=row.sid,
                        identity=row.identity,
                        name=row.name,
                        kind=row.kind,
                        state=row.state,
                        joined_at=row.joined_at,
                        tracks=TrackSet.from_json(row.track_sids, row.track_count),
                    )
                )
    return RoomPresence(
        session=None
        if current is None
        else SessionRow(current.sid, current.room_name, current.started_at),
        live=live,
        closed=closed,
        ended=[s.sid for s in reversed(sessions) if s.ended_at is not None][-recent:],
        latest_start=sessions[0].started_at if sessions else None,
    )


@dataclass(frozen=True, slots=True)
class InRoom:
    """Someone in a room now, as the applied webhooks left it."""

    room_name: str
    identity: str


async def open_standard_participants(room_names: list[str]) -> list[InRoom]:
    """Who is connected now to these rooms' open sessions, ordinary participants only.

    Agents, egress, ingress and SIP participants are LiveKit's or ours, not
    people: nothing about them is checked.
    """
    if not room_names:
        return []
    rows = await ParticipantSession.filter(
        room_session__room_name__in=room_names,
        room_session__ended_at=None,
        left_at=None,
        kind="standard",
    ).values("room_session__room_name", "identity")
    return [
        InRoom(room_name=row["room_session__room_name"], identity=row["identity"]) for row in rows
    ]
