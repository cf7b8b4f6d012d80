"""A room's configuration as its actor keeps it, and the typed values that change it.

`RoomSettings` (models/rooms.py) is what a create carries, `RoomChanges` what a PATCH carries
(each field given or not: a nullable field may be given as null), `Config`
the rooms row as the actor holds it (immutable, replaced on change), and
`RoomRow` what an asker gets back: plain values, never an ORM object.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from enum import Enum

from actors.room.livekit import RoomConfig
from models.access import Condition
from models.rooms import Room, RoomSettings, settings_condition


class Unset(Enum):
    """A PATCH field not given (None is a value: "set it to null")."""

    UNSET = "unset"


UNSET = Unset.UNSET


@dataclass(frozen=True, slots=True)
class RoomChanges:
    """The configuration fields a PATCH gives; the others stay as they are."""

    access_type: str | Unset = UNSET
    token_address: str | Unset | None = UNSET
    token_amount: str | Unset | None = UNSET
    nft_address: str | Unset | None = UNSET
    chain_id: int | Unset = UNSET
    nft_standard: str | Unset = UNSET
    nft_token_id: str | Unset | None = UNSET
    empty_timeout: int | Unset = UNSET
    departure_timeout: int | Unset = UNSET
    max_participants: int | Unset = UNSET
    metadata: str | Unset | None = UNSET
    lobby: bool | Unset = UNSET
    # The condition's stored text (models/access.py `dumps`; None: public).
    access: str | Unset | None = UNSET
    delegation: bool | Unset = UNSET

    def given(self) -> dict[str, object]:
        """The fields given, by the rooms row's names."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) is not UNSET
        }


CONFIG_FIELDS = tuple(f.name for f in fields(RoomSettings))


@dataclass(frozen=True, slots=True, kw_only=True)
class Config(RoomSettings):
    """The room's row as the actor keeps it: its settings, with its id and name."""

    id: int
    name: str

    @classmethod
    def of(cls, room: Room) -> Config:
        return cls(id=room.id, name=room.name, **{f: getattr(room, f) for f in CONFIG_FIELDS})

    # Derived once per configuration (replace() re-runs __post_init__), not per token.
    condition: Condition | None = field(init=False, compare=False, default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "condition", settings_condition(self))

    def changed(self, changes: RoomChanges) -> Config:
        return replace(self, **changes.given())  # type: ignore[arg-type]

    def livekit(self) -> RoomConfig:
        return RoomConfig(
            name=self.name,
            empty_timeout=self.empty_timeout,
            departure_timeout=self.departure_timeout,
            max_participants=self.max_participants,
            metadata=self.metadata,
        )
