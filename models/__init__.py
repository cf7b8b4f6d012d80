"""Tortoise models: rooms, their sessions, participant sessions, the webhook inbox."""

from models.rooms import AccessType, NftStandard, Room, RoomStatus
from models.sessions import ParticipantSession, RoomSession
from models.webhook_inbox import WebhookInbox

__all__ = [
    "AccessType",
    "NftStandard",
    "ParticipantSession",
    "Room",
    "RoomSession",
    "RoomStatus",
    "WebhookInbox",
]
