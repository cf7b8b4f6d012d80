"""Tortoise models: rooms, their sessions, participant sessions, the webhook inbox,
seats, bans, wallet sign-in (nonces, sessions), nodes and room leases, the outbox
and webhook endpoints, recordings, lobby tickets."""

from models.bans import Ban
from models.leases import Node, RoomLease
from models.lobby import LobbyTicket
from models.outbox import (
    OutboxAttempt,
    OutboxDelivery,
    OutboxEvent,
    OutboxSequence,
    WebhookEndpoint,
)
from models.recordings import Recording
from models.rooms import AccessType, NftStandard, Room, RoomStatus
from models.seats import Seat
from models.sessions import ParticipantSession, RoomSession
from models.wallet_auth import SiweNonce, WalletSession
from models.webhook_inbox import WebhookInbox

__all__ = [
    "AccessType",
    "Ban",
    "LobbyTicket",
    "NftStandard",
    "Node",
    "OutboxAttempt",
    "OutboxDelivery",
    "OutboxEvent",
    "OutboxSequence",
    "ParticipantSession",
    "Recording",
    "Room",
    "RoomLease",
    "RoomSession",
    "RoomStatus",
    "Seat",
    "SiweNonce",
    "WalletSession",
    "WebhookEndpoint",
    "WebhookInbox",
]
