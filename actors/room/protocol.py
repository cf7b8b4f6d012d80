"""The room actor's closed set of messages, its replies, its errors, and its LiveKit port.

Routes `ask` with the request messages and `tell` EventsStored; the committer
tells CommitDone; nothing else reaches a RoomActor. What the actor needs from
LiveKit is the `LiveKit` protocol (actors/room/livekit.py), implemented by
app/livekit_gateway.py, so actors/ never imports app/.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from actors.room.livekit import (
    LiveKit,
    LiveKitNotConfiguredError,
    LiveKitRefusedError,
    LiveKitUnreachableError,
    RoomConfig,
    TokenRequest,
)
from models.rooms import AccessCondition
from models.sessions import PublishedTrack

if TYPE_CHECKING:
    from actors.rounds import Committed

# Re-exported: a LiveParticipant's tracks, and the LiveKit port's names.
__all__ = [
    "LiveKit",
    "LiveKitNotConfiguredError",
    "LiveKitRefusedError",
    "LiveKitUnreachableError",
    "PublishedTrack",
    "RoomConfig",
    "TokenRequest",
]

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
    # The caller's address when a wallet asks (None: a service): a wallet may
    # ask for `host` only in a room it owns.
    wallet: str | None = None


@dataclass(frozen=True, slots=True)
class ReadAccessCondition:
    """The room's current access condition (None: public)."""


@dataclass(frozen=True, slots=True)
class ListParticipants:
    """Who is in the room now."""


@dataclass(frozen=True, slots=True)
class EventsStored:
    """Webhook events for this room are in the inbox: apply what is pending, in order."""


@dataclass(frozen=True, slots=True)
class ApplyPending:
    """Like EventsStored, but answered with a future that is done, with how many
    events were applied, once everything stored so far is (for tests and ops)."""


@dataclass(frozen=True, slots=True)
class CommitDone:
    """From the committer: the room's round is over (actors/committer.py)."""

    result: Committed


# -- moderation (actors/room_moderation.py) --------------------------------------


@dataclass(frozen=True, slots=True)
class RemoveParticipant:
    """Disconnect `identity` (RemoveParticipant) and free its seat; with `ban`, for good."""

    identity: str
    ban: bool = False
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RevokeAccess:
    """The identity no longer meets the room's access condition (the re-check, or a
    token request, found a no): its grant is revoked, its seat freed, and with
    `disconnect` it is removed from LiveKit if it is in the room."""

    identity: str
    disconnect: bool = True


@dataclass(frozen=True, slots=True)
class ListBans:
    """The room's bans, oldest first."""


@dataclass(frozen=True, slots=True)
class LiftBan:
    identity: str


@dataclass(frozen=True, slots=True)
class MuteTracks:
    """Mute (or unmute) one of `identity`'s tracks, or all of them when `track_sid` is None."""

    identity: str
    track_sid: str | None
    muted: bool = True


@dataclass(frozen=True, slots=True)
class ChangeParticipant:
    """UpdateParticipant: only the fields given change; a role becomes its permissions."""

    identity: str
    role: str | None = None
    name: str | None = None
    metadata: str | None = None
    attributes: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class EndMeeting:
    """DeleteRoom in LiveKit (everyone leaves); the room stays, its seats are freed."""


RoomMessage = (
    CreateRoom
    | UpdateRoom
    | DeleteRoom
    | IssueToken
    | ReadAccessCondition
    | ListParticipants
    | EventsStored
    | ApplyPending
    | CommitDone
    | RemoveParticipant
    | RevokeAccess
    | ListBans
    | LiftBan
    | MuteTracks
    | ChangeParticipant
    | EndMeeting
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
    # How many tracks it publishes, and which (stored with its session, by sid);
    # muted as LiveKit said, or as last set through Qari.
    tracks: int = 0
    published: tuple[PublishedTrack, ...] = ()
    # The role its token was issued with, or last set through Qari (None: unknown).
    role: str | None = None


# -- domain errors -------------------------------------------------------------


class RoomError(Exception):
    """A request the room refuses; routes map each kind to a status and code."""


class RoomNotFoundError(RoomError):
    pass


class RoomExistsError(RoomError):
    pass


class RoomFullError(RoomError):
    pass


class BannedError(RoomError):
    pass


class ParticipantNotFoundError(RoomError):
    pass


class TrackNotFoundError(RoomError):
    pass


class BanNotFoundError(RoomError):
    pass


class RemovalNotMadeError(RoomError):
    """LiveKit did not disconnect the participant, or end the meeting (not
    configured, refused, away), but what needs only the database was done:
    `what` says what was not done and `kept` what was, for people."""

    def __init__(
        self, cause: Exception, kept: str, what: str = "The participant was not disconnected"
    ) -> None:
        super().__init__(f"{what} ({cause}); {kept}")
        self.cause = cause
        self.kept = kept
        self.what = what


class AccessCheckNeededError(RoomError):
    """The token request named another condition than the room's: check this one first.

    `condition` is the room's current one (None: the room is public now).
    """

    def __init__(self, condition: AccessCondition | None) -> None:
        super().__init__("access condition changed")
        self.condition = condition


class NotRoomOwnerError(RoomError):
    """A wallet asked for what only the room's owner may have (the host role)."""


class InvalidRoomConfigError(RoomError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
