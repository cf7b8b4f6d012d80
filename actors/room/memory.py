"""RoomMemory: everything a room actor knows of its room, in one object it alone holds.

Configuration, presence, seats and grants, bans, the lobby, and what Qari set on
participants (roles, names, mutes). The actor passes it to the functions that
handle its messages (configuring.py, moderation.py, tokens.py) and to its
webhook round (webhook_round.py); nothing else holds a reference to it, so
nothing else can change it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from actors.room.bans import BanList
from actors.room.config import Config
from actors.room.directory import RoomDirectory, RoomEntry
from actors.room.errors import NotRoomManagerError, RoomNotFoundError
from actors.room.lobby import Lobby
from actors.room.lobby_board import LobbyBoard
from actors.room.presence import Annotations, RoomState, load_state
from actors.room.seats import SeatBook
from models.db import Database
from models.leases import Lease
from models.lobby import TicketRow, load_room_tickets
from models.rooms import get_room
from models.webhook_inbox import has_pending


@dataclass
class RoomMemory:
    """One room's state, owned by its actor."""

    name: str
    seats: SeatBook
    directory: RoomDirectory
    # Where the room's rows are (and how long its work may take).
    database: Database
    config: Config | None = None
    state: RoomState = field(init=False)
    bans: BanList = field(init=False)
    annotations: Annotations = field(default_factory=Annotations)
    # Its lobby's tickets (published to the node's LobbyBoard for polls).
    lobby: Lobby = field(default_factory=lambda: Lobby(LobbyBoard()))
    # The entry routes read (None until published: not loaded, or no such room).
    entry: RoomEntry | None = None
    loaded: bool = False
    # The vault each identity qualified through in a gated room (None: itself).
    vaults: dict[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.state = RoomState(self.name)
        self.bans = BanList(self.database, self.lease)

    @property
    def lease(self) -> Lease:
        """The lease this room's actor holds (epoch 0 until it has claimed one:
        a write under it is refused on PostgreSQL)."""
        return self.seats.lease

    def hold(self, lease: Lease) -> None:
        """The room's lease, claimed by its actor: every write of its state carries it."""
        self.seats.lease = lease
        self.bans.lease = lease

    def fence(self) -> dict[str, int]:
        """What a write of this room's state passes to `Database.room_write`."""
        return {self.name: self.lease.epoch}

    def require_config(self) -> Config:
        """The room's configuration; RoomNotFoundError when Qari has no such room."""
        if self.config is None:
            raise RoomNotFoundError(self.name)
        return self.config

    async def load(self, now: dt.datetime, max_attempts: int) -> bool:
        """Load everything from the database (the caller bounds it); True when
        stored webhook events wait to be applied."""
        room = await get_room(self.name)
        state = await load_state(self.database, self.name)
        tickets: list[TicketRow] = []
        if room is not None:
            # The seats held before a restart count again, until they expire.
            await self.seats.load(room.id, now, state.in_room)
            await self.bans.load(room.id)
            # Tickets decided long ago are deleted (fenced), if there are any.
            tickets = await load_room_tickets(self.database, self.fence(), room.id, now)
        pending = await has_pending(self.name, max_attempts)
        self.state = state
        self.adopt(None if room is None else Config.of(room), new_creation=False)
        self.lobby.restore(self.name, tickets)
        self.loaded = True
        return pending

    def adopt(self, config: Config | None, *, new_creation: bool) -> None:
        """Take `config` as the room's, and publish it for routes. A new creation
        (or a deletion) starts over: nothing granted, banned or set before counts."""
        self.config = config
        if new_creation:
            self.seats.reset(None if config is None else config.id)
            self.bans.reset()
            self.lobby.reset()
            self.annotations.clear()
            self.vaults.clear()
        if config is None:
            self.entry = None
            self.directory.withdraw(self.name)
        else:
            self.entry = self.directory.publish(
                self.name, config.condition, config.owner, config.delegation
            )

    def require_manager(self, wallet: str | None) -> None:
        """A service (None), or the wallet that owns the room; else NotRoomManagerError."""
        config = self.require_config()
        if wallet is not None and wallet != config.owner:
            raise NotRoomManagerError(self.name)

    def published(self) -> RoomEntry:
        """The room's entry; RoomNotFoundError when there is no such room."""
        self.require_config()
        assert self.entry is not None  # published with every configuration
        return self.entry
