"""Tortoise models: rooms, their sessions, participant sessions, the webhook inbox, seats, bans."""

from models.bans import Ban
from models.rooms import AccessType, NftStandard, Room, RoomStatus
from models.seats import Seat
from models.sessions import ParticipantSession, RoomSession
from models.webhook_inbox import WebhookInbox

__all__ = [
    "AccessType",
    "Ban",
    "NftStandard",
    "ParticipantSession",
    "Room",
    "RoomSession",
    "RoomStatus",
    "Seat",
    "WebhookInbox",
]
