"""Tortoise models: rooms, their sessions, participant sessions, the webhook inbox,
wallet sign-in (nonces, sessions)."""

from models.rooms import AccessType, NftStandard, Room, RoomStatus
from models.sessions import ParticipantSession, RoomSession
from models.wallet_auth import SiweNonce, WalletSession
from models.webhook_inbox import WebhookInbox

__all__ = [
    "AccessType",
    "NftStandard",
    "ParticipantSession",
    "Room",
    "RoomSession",
    "RoomStatus",
    "SiweNonce",
    "WalletSession",
    "WebhookInbox",
]
