"""Room and participant sessions, keyed by LiveKit's sids.

A room name is reused with a new sid, and an identity reconnects with a new
sid, so sids (not names) identify what happened when.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise import fields
from tortoise.models import Model


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

    class Meta:
        table = "participant_sessions"
        indexes = (("room_session_id", "left_at"),)


@dataclass(frozen=True, slots=True)
class OpenParticipant:
    """Someone in a room now, as the applied webhooks left it."""

    room_name: str
    identity: str


async def open_standard_participants(room_names: list[str]) -> list[OpenParticipant]:
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
        OpenParticipant(room_name=row["room_session__room_name"], identity=row["identity"])
        for row in rows
    ]
