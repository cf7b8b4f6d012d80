"""The durable inbox: every verified webhook is stored here before it is acknowledged."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class WebhookInbox(Model):
    """One LiveKit event, unique by its id; applied by its room's actor, once."""

    id = fields.BigIntField(primary_key=True)
    event_id = fields.CharField(max_length=128, unique=True)
    event_type = fields.CharField(max_length=64)
    room_name = fields.CharField(max_length=128, null=True)
    room_sid = fields.CharField(max_length=64, null=True)
    # LiveKit's own timestamp (seconds): events are applied in this order, then arrival.
    livekit_created_at = fields.BigIntField(default=0)
    received_at = fields.DatetimeField(auto_now_add=True)
    payload = fields.TextField()
    processed_at = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)
    last_error = fields.TextField(null=True)

    class Meta:
        table = "webhook_inbox"
        indexes = (("room_name", "processed_at"),)
