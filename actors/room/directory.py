"""What routes may read of a room without waiting in its mailbox.

Each room actor publishes here, whenever its configuration changes, the two
things routes decide on before they ask it: the room's owner (who may manage
it) and its access condition, with a version. A gated token request reads the
condition here, checks the chain, then asks the actor once with a verdict for
that version; the actor refuses a verdict for a version that is no longer
current. Only room actors write; an entry lives while its actor does.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from models.access import Condition


@dataclass(frozen=True, slots=True)
class RoomEntry:
    """One room as routes may read it."""

    # Unique across rooms and activations: a verdict names the configuration it
    # was checked for, and no later configuration can have the same number.
    version: int
    access: Condition | None
    owner: str | None
    # Wallets may qualify through vaults that delegated to them.
    delegation: bool = False


class RoomDirectory:
    """Every loaded room's entry, by name; written only by the room's own actor."""

    def __init__(self) -> None:
        self._entries: dict[str, RoomEntry] = {}
        self._versions = itertools.count(1)

    def get(self, name: str) -> RoomEntry | None:
        return self._entries.get(name)

    def publish(
        self, name: str, access: Condition | None, owner: str | None, delegation: bool = False
    ) -> RoomEntry:
        entry = RoomEntry(next(self._versions), access, owner, delegation)
        self._entries[name] = entry
        return entry

    def withdraw(self, name: str) -> None:
        """The room is gone, or its actor stopped: readers must ask it again."""
        self._entries.pop(name, None)
