"""What a room shows of itself to askers: immutable values, no ORM object."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

from models.sessions import PublishedTrack


@dataclass(frozen=True, slots=True)
class LiveParticipant:
    identity: str
    name: str | None
    sid: str
    joined_at: dt.datetime | None
    state: str
    # How many tracks it publishes, and which (stored with its session, by sid);
    # muted as LiveKit said, or as last set through Qari.
    tracks: int = 0
    published: tuple[PublishedTrack, ...] = ()
    # The role its token was issued with, or last set through Qari (None: unknown).
    role: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    identity: str
    room: str
    expires_at: dt.datetime
    # The seat's write, which must commit before the token is returned; None when
    # what is stored already covers this token (the same identity asking again).
    stored: asyncio.Future[None] | None = None


@dataclass(frozen=True, slots=True)
class Knocked:
    """A token request in a lobby room: the knocker's ticket, to poll until a host
    decides (a new knock gets the identity's open ticket back)."""

    ticket: str
    status: str
    expires_at: dt.datetime
