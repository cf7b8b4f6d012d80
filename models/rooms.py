"""The rooms table: configuration set by clients, presence kept by the room actor."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class AccessType(StrEnum):
    PUBLIC = "public"
    TOKEN = "token"  # noqa: S105 - an access type, not a credential
    NFT = "nft"


class RoomStatus(StrEnum):
    IDLE = "idle"
    LIVE = "live"


class Room(Model):
    """A room clients created; `status` and `num_participants` follow the webhooks."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=50, unique=True)
    access_type = fields.CharEnumField(AccessType, max_length=16, default=AccessType.PUBLIC)
    token_address = fields.CharField(max_length=42, null=True)
    # Base units of an ERC-20 amount can exceed 64 bits: kept as a decimal string.
    token_amount = fields.CharField(max_length=80, null=True)
    nft_address = fields.CharField(max_length=42, null=True)
    livekit_sid = fields.CharField(max_length=64, null=True, db_index=True)
    # The wallet (checksummed address) that may manage the room; null: services only.
    owner = fields.CharField(max_length=42, null=True, db_index=True)
    empty_timeout = fields.IntField(default=600)
    departure_timeout = fields.IntField(default=20)
    max_participants = fields.IntField(default=50)
    metadata = fields.TextField(null=True)
    status = fields.CharEnumField(RoomStatus, max_length=8, default=RoomStatus.IDLE)
    num_participants = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "rooms"


def access_rule_violation(
    access_type: AccessType | str,
    token_address: str | None,
    token_amount: str | None,
    nft_address: str | None,
) -> tuple[str, str] | None:
    """The (field, message) a room's access settings break, if any.

    Shared by the create schema and the room actor (which checks a PATCH merged
    with the current configuration), so both enforce one rule set.
    """
    if access_type == AccessType.TOKEN:
        if not token_address:
            return "token_address", "a token room needs token_address"
        if not token_amount or int(token_amount) <= 0:
            return "token_amount", "a token room needs a positive token_amount"
    if access_type == AccessType.NFT and not nft_address:
        return "nft_address", "an nft room needs nft_address"
    return None
