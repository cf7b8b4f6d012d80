"""Tortoise models: rooms, their sessions, participant sessions, the webhook inbox, seats."""

from models.rooms import AccessType, NftStandard, Room, RoomStatus
from models.seats import Seat
from models.sessions import ParticipantSession, RoomSession
from models.webhook_inbox import WebhookInbox

__all__ = [
    "AccessType",
    "NftStandard",
    "ParticipantSession",
    "Room",
    "RoomSession",
    "RoomStatus",
    "Seat",
    "WebhookInbox",
]
