"""A room's configuration as its actor keeps it: the rooms row, immutable, replaced on change."""

from __future__ import annotations

from dataclasses import dataclass, field

from actors.room.protocol import RoomConfig
from models.rooms import AccessCondition, Room, access_condition

CONFIG_FIELDS = (
    "access_type",
    "token_address",
    "token_amount",
    "nft_address",
    "chain_id",
    "nft_standard",
    "nft_token_id",
    "empty_timeout",
    "departure_timeout",
    "max_participants",
    "metadata",
    "owner",
)


@dataclass(frozen=True, slots=True)
class Config:
    """The room's row as the actor keeps it."""

    id: int
    name: str
    access_type: str
    token_address: str | None
    token_amount: str | None
    nft_address: str | None
    chain_id: int
    nft_standard: str
    nft_token_id: str | None
    empty_timeout: int
    departure_timeout: int
    max_participants: int
    metadata: str | None
    owner: str | None

    @classmethod
    def of(cls, room: Room) -> Config:
        return cls(id=room.id, name=room.name, **{f: getattr(room, f) for f in CONFIG_FIELDS})

    # Derived once per configuration (replace() re-runs __post_init__), not per token.
    access: AccessCondition | None = field(init=False, compare=False, default=None)

    def __post_init__(self) -> None:
        condition = access_condition(
            self.access_type,
            self.chain_id,
            self.token_address,
            self.token_amount,
            self.nft_address,
            self.nft_standard,
            self.nft_token_id,
        )
        object.__setattr__(self, "access", condition)

    def livekit(self) -> RoomConfig:
        return RoomConfig(
            name=self.name,
            empty_timeout=self.empty_timeout,
            departure_timeout=self.departure_timeout,
            max_participants=self.max_participants,
            metadata=self.metadata,
        )
