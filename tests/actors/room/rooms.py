"""A room's memory as its actor holds it, built from plain values (no database, no LiveKit).

For the tables of pure decisions: nothing here is awaited, so the seat writer
and the database are never reached.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import fields
from types import MappingProxyType

from actors.room.config import Config
from actors.room.directory import RoomDirectory
from actors.room.memory import RoomMemory
from actors.room.presence import CurrentSession, RoomState
from actors.room.seats import SeatBook
from actors.seat_writer import SeatWriter
from models.db import Database
from models.rooms import RoomSettings
from models.sessions import Connection, PublishedTrack, TrackSet

ROOM = "plans-room"
ROOM_ID = 7
NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)

SETTINGS = RoomSettings(
    access_type="public",
    token_address=None,
    token_amount=None,
    nft_address=None,
    chain_id=1,
    nft_standard="erc721",
    nft_token_id=None,
    empty_timeout=600,
    departure_timeout=20,
    max_participants=50,
    metadata=None,
    owner=None,
    lobby=False,
)
CONFIG = Config(
    id=ROOM_ID, name=ROOM, **{f.name: getattr(SETTINGS, f.name) for f in fields(RoomSettings)}
)


def connection(identity: str, sid: str, *tracks: str) -> Connection:
    return Connection(
        sid=sid,
        identity=identity,
        name=None,
        kind="standard",
        state="ACTIVE",
        joined_at=NOW,
        tracks=TrackSet(live=tuple(PublishedTrack(t, "audio") for t in tracks)),
    )


# Ann in the room twice (a second device), publishing on both; Bob with no tracks.
ANN = (connection("ann", "PA_ann_1", "TR_a1", "TR_a2"), connection("ann", "PA_ann_2", "TR_a3"))
BOB = (connection("bob", "PA_bob"),)


def memory(
    config: Config | None = CONFIG,
    live: tuple[Connection, ...] = (*ANN, *BOB),
    *,
    session: bool = True,
) -> RoomMemory:
    """A loaded room: `config` (None: no room of ours), in a running meeting with
    `live` in it (or none running)."""
    database = Database(5.0)
    seats = SeatBook(ROOM, 60.0, SeatWriter(database), database)
    room = RoomMemory(ROOM, seats, RoomDirectory(), database)
    if session:
        room.state = RoomState(
            ROOM,
            session=CurrentSession("RM_1", NOW - dt.timedelta(hours=1)),
            live=MappingProxyType({c.sid: c for c in live}),
        )
    room.adopt(config, new_creation=True)
    room.loaded = True
    return room
