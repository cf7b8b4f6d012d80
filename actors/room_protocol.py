"""The room actor's closed set of messages, its replies and its domain errors.

Routes `ask` with the request messages and `tell` EventsStored; nothing else
reaches a RoomActor.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

from app.livekit_gateway import TokenRequest
from models.rooms import AccessCondition

# -- messages ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateRoom:
    """Create the room with these validated fields (model field names)."""

    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class UpdateRoom:
    """Change these configuration fields; the actor checks them merged with the rest."""

    changes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeleteRoom:
    """Delete the room (and the LiveKit room, which disconnects everyone)."""


@dataclass(frozen=True, slots=True)
class IssueToken:
    """Reserve a seat for the identity and mint its join token.

    `passed` is the access condition the identity was found to meet on chain
    (checked outside the actor, so a slow chain never holds the mailbox); the
    actor issues only when it is the room's current condition.
    """

    request: TokenRequest
    passed: AccessCondition | None = None


@dataclass(frozen=True, slots=True)
class ReadAccessCondition:
    """The room's current access condition (None: public)."""


@dataclass(frozen=True, slots=True)
class ListParticipants:
    """Who is in the room now."""


@dataclass(frozen=True, slots=True)
class EventsStored:
    """Webhook events for this room are in the inbox: apply what is pending, in order."""


RoomMessage = (
    CreateRoom
    | UpdateRoom
    | DeleteRoom
    | IssueToken
    | ReadAccessCondition
    | ListParticipants
    | EventsStored
)


# -- replies ---------------------------------------------------------------------


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
class LiveParticipant:
    identity: str
    name: str | None
    sid: str
    joined_at: dt.datetime | None
    state: str
    tracks: int = 0


# -- domain errors -------------------------------------------------------------


class RoomError(Exception):
    """A request the room refuses; routes map each kind to a status and code."""


class RoomNotFoundError(RoomError):
    pass


class RoomExistsError(RoomError):
    pass


class RoomFullError(RoomError):
    pass


class AccessCheckNeededError(RoomError):
    """The token request named another condition than the room's: check this one first.

    `condition` is the room's current one (None: the room is public now).
    """

    def __init__(self, condition: AccessCondition | None) -> None:
        super().__init__("access condition changed")
        self.condition = condition


class InvalidRoomConfigError(RoomError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
