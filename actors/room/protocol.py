"""The room actor's closed set of messages, each naming the reply an `ask` gets.

Routes `ask` with the request messages (`Ask[R]`: `ActorRegistry.ask`
returns an R), and `tell` EventsStored; the committer tells CommitDone; the
room's own reconciliation timer tells ReconcileDue; nothing else reaches a
RoomActor. Messages carry typed values (no ORM field dicts), replies are
plain values (no ORM objects). What the actor needs from
LiveKit is the `LiveKit` port (actors/room/livekit.py), implemented by
app/livekit_gateway.py, so actors/ never imports app/.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from actors.actor import Ask
from actors.room.config import RoomChanges
from actors.room.directory import RoomEntry
from actors.room.errors import (
    AccessCheckNeededError,
    BannedError,
    BanNotFoundError,
    InvalidRoomConfigError,
    NotRoomManagerError,
    NotRoomOwnerError,
    ParticipantNotFoundError,
    RemovalNotMadeError,
    RoomError,
    RoomExistsError,
    RoomFullError,
    RoomNotFoundError,
    TrackNotFoundError,
)
from actors.room.livekit import (
    LiveKit,
    LiveKitNotConfiguredError,
    LiveKitRefusedError,
    LiveKitUnreachableError,
    RoomConfig,
    TokenRequest,
)
from actors.room.lobby_board import TicketView
from actors.room.views import IssuedToken, Knocked, LiveParticipant
from models.access import Condition
from models.bans import BanRow
from models.recordings import RecordingRow
from models.rooms import RoomRow, RoomSettings
from models.sessions import PublishedTrack

if TYPE_CHECKING:
    from actors.rounds import Committed

# Re-exported: what routes name along with the messages.
__all__ = [
    "AccessCheckNeededError",
    "BanNotFoundError",
    "BannedError",
    "InvalidRoomConfigError",
    "IssuedToken",
    "Knocked",
    "LiveKit",
    "LiveKitNotConfiguredError",
    "LiveKitRefusedError",
    "LiveKitUnreachableError",
    "LiveParticipant",
    "NotRoomManagerError",
    "NotRoomOwnerError",
    "ParticipantNotFoundError",
    "PublishedTrack",
    "RemovalNotMadeError",
    "RoomChanges",
    "RoomConfig",
    "RoomEntry",
    "RoomError",
    "RoomExistsError",
    "RoomFullError",
    "RoomNotFoundError",
    "RoomRow",
    "RoomSettings",
    "TokenRequest",
    "TrackNotFoundError",
]

# -- configuration -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateRoom(Ask[RoomRow]):
    """Create the room with these validated settings."""

    settings: RoomSettings


@dataclass(frozen=True, slots=True)
class UpdateRoom(Ask[RoomRow]):
    """Change these fields; the actor checks them merged with the rest."""

    changes: RoomChanges
    # The wallet acting as the room's manager (None: a service): the actor checks
    # it owns the room, at the moment it handles the message.
    manager: str | None = None


@dataclass(frozen=True, slots=True)
class DeleteRoom(Ask[None]):
    """Delete the room (and the LiveKit room, which disconnects everyone)."""

    # The wallet acting as the room's manager (None: a service): the actor checks
    # it owns the room, at the moment it handles the message.
    manager: str | None = None


@dataclass(frozen=True, slots=True)
class ReadEntry(Ask[RoomEntry]):
    """The room's entry (owner, access condition and its version), as the actor
    publishes it for routes to read without the mailbox; asked when none is
    published yet (the room's actor was not in memory)."""


# -- tokens ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessVerdict:
    """The identity meets the room's condition as it was at `version` (checked on
    chain outside the actor, so a slow chain never holds the mailbox)."""

    version: int
    # The vault that qualified (checksummed; None: the identity itself): the token
    # carries it as `qari.vault`, and the re-check follows it.
    vault: str | None = None
    # When the Unlock key that admitted ends (unix seconds), if nothing else admits.
    ends_at: int | None = None


@dataclass(frozen=True, slots=True)
class IssueToken(Ask[IssuedToken | Knocked]):
    """Reserve a seat for the identity and mint its join token; in a lobby room, a
    wallet that does not own it knocks instead (its ticket: Knocked).

    In a gated room the actor issues only on a verdict for the room's current
    condition; else AccessCheckNeededError names it (and its version).
    """

    request: TokenRequest
    verdict: AccessVerdict | None = None
    # The caller's address when a wallet asks (None: a service): a wallet may
    # ask for `host` only in a room it owns.
    wallet: str | None = None


# -- presence and webhooks -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListParticipants(Ask[list[LiveParticipant]]):
    """Who is in the room now."""

    # The wallet acting as the room's manager (None: a service): the actor checks
    # it owns the room, at the moment it handles the message.
    manager: str | None = None


@dataclass(frozen=True, slots=True)
class EventsStored:
    """Webhook events for this room are in the inbox: apply what is pending, in order.

    A tell. With `applied` (a reply channel, as Akka's replyTo), that future is
    set, with how many events were applied, once everything stored so far is
    (and the joins it refused are removed from LiveKit). The webhook route
    sends it without one, and coalesced: one nudge waiting is enough.
    """

    applied: asyncio.Future[int] | None = None


@dataclass(frozen=True, slots=True)
class ReconcileDue:
    """From the room's own timer: time to reconcile its presence with LiveKit's
    (actors/room/reconciler.py). A tell, coalesced: one waiting is enough."""


@dataclass(frozen=True, slots=True)
class CommitDone:
    """From the committer: the room's round is over (actors/committer.py)."""

    result: Committed


# -- moderation (actors/room/moderation.py) ------------------------------------------


@dataclass(frozen=True, slots=True)
class RemoveParticipant(Ask[None]):
    """Disconnect `identity`, revoke its tokens and free its seat; with `ban`, for good."""

    identity: str
    ban: bool = False
    reason: str | None = None
    # The wallet acting as the room's manager (None: a service): the actor checks
    # it owns the room, at the moment it handles the message.
    manager: str | None = None


@dataclass(frozen=True, slots=True)
class RevokeAccess(Ask[None]):
    """The identity no longer meets the room's access condition (the re-check, or a
    token request, found a no): its grant is revoked, its seat freed, and with
    `disconnect` it is removed from LiveKit if it is in the room."""

    identity: str
    disconnect: bool = True
    # For the participant.removed event: the condition that failed, and what found it.
    reason: str | None = None
    by: str = "access_recheck"


@dataclass(frozen=True, slots=True)
class KeysEnded:
    """From the room's own timer (actors/room/expiry.py): Unlock keys that admitted
    participants have ended; remove whoever is due. A tell, coalesced."""


@dataclass(frozen=True, slots=True)
class AccessConfirmed:
    """The re-check found `identity` still qualifies: through `vault`, until `ends_at`
    (a key renewed moves its end). A tell.

    `condition`: the one it was checked against; a confirmation of a condition the
    room no longer holds (a PATCH since the re-check read it) is ignored."""

    identity: str
    vault: str | None
    ends_at: int | None
    condition: Condition


@dataclass(frozen=True, slots=True)
class ReadVaults(Ask[dict[str, str | None]]):
    """The vault each identity was admitted through (None: itself), for the re-check
    of a room with delegation to follow."""


@dataclass(frozen=True, slots=True)
class ListBans(Ask[list[BanRow]]):
    """The room's bans, oldest first."""

    # The wallet acting as the room's manager (None: a service): the actor checks
    # it owns the room, at the moment it handles the message.
    manager: str | None = None


@dataclass(frozen=True, slots=True)
class LiftBan(Ask[None]):
    identity: str
    # The wallet acting as the room's manager (None: a service): the actor checks
    # it owns the room, at the moment it handles the message.
    manager: str | None = None


@dataclass(frozen=True, slots=True)
class MuteTracks(Ask[None]):
    """Mute (or unmute) one of `identity`'s tracks, or all of them when `track_sid` is None."""

    identity: str
    track_sid: str | None
    muted: bool = True
    # The wallet acting as the room's manager (None: a service): the actor checks
    # it owns the room, at the moment it handles the message.
    manager: str | None = None


@dataclass(frozen=True, slots=True)
class ChangeParticipant(Ask[LiveParticipant]):
    """UpdateParticipant: only the fields given change; a role becomes its permissions."""

    identity: str
    role: str | None = None
    name: str | None = None
    metadata: str | None = None
    attributes: dict[str, str] | None = None
    # The wallet acting as the room's manager (None: a service): the actor checks
    # it owns the room, at the moment it handles the message.
    manager: str | None = None


@dataclass(frozen=True, slots=True)
class EndMeeting(Ask[None]):
    """DeleteRoom in LiveKit (everyone leaves); the room stays, its grants are revoked."""

    # The wallet acting as the room's manager (None: a service): the actor checks
    # it owns the room, at the moment it handles the message.
    manager: str | None = None


# -- recordings (actors/room/recordings.py) -------------------------------------------


@dataclass(frozen=True, slots=True)
class StartRecording(Ask[RecordingRow]):
    """StartRoomCompositeEgress to one file, if no recording of the room is running
    and someone is in it."""

    audio_only: bool = False
    layout: str = "grid"
    # The wallet acting as the room's manager (None: a service): the actor checks
    # it owns the room, at the moment it handles the message.
    manager: str | None = None


@dataclass(frozen=True, slots=True)
class StopRecording(Ask[RecordingRow]):
    """StopEgress for one of the room's recordings, if it is still running."""

    recording_id: str
    # The wallet acting as the room's manager (None: a service): the actor checks
    # it owns the room, at the moment it handles the message.
    manager: str | None = None


# -- the lobby (actors/room/lobbying.py) ----------------------------------------------


@dataclass(frozen=True, slots=True)
class ReadTicket(Ask[TicketView]):
    """One ticket of the room's lobby (asked when the LobbyBoard has none: the room's
    actor was not in memory)."""

    ticket: str


@dataclass(frozen=True, slots=True)
class ListLobby(Ask[list[TicketView]]):
    """The waiting tickets, in knock order."""

    # The wallet acting as the room's manager (None: a service): the actor checks
    # it owns the room, at the moment it handles the message.
    manager: str | None = None


@dataclass(frozen=True, slots=True)
class AdmitTicket(Ask[None]):
    """Let the ticket's identity in: a seat by the room's rules now, and its token."""

    ticket: str
    # The wallet acting as the room's manager (None: a service): the actor checks
    # it owns the room, at the moment it handles the message.
    manager: str | None = None


@dataclass(frozen=True, slots=True)
class DenyTicket(Ask[None]):
    ticket: str
    reason: str | None = None
    # The wallet acting as the room's manager (None: a service): the actor checks
    # it owns the room, at the moment it handles the message.
    manager: str | None = None


@dataclass(frozen=True, slots=True)
class AdmitAll(Ask[int]):
    """Admit the waiting tickets in knock order while there are places; how many."""

    # The wallet acting as the room's manager (None: a service): the actor checks
    # it owns the room, at the moment it handles the message.
    manager: str | None = None


@dataclass(frozen=True, slots=True)
class LobbyDue:
    """From the room's lobby timer: a waiting ticket's wait may be over. A tell,
    coalesced."""


# The messages only the room's managers (services, its owner) may send.
MANAGED = (
    UpdateRoom,
    DeleteRoom,
    ListParticipants,
    RemoveParticipant,
    ListBans,
    LiftBan,
    MuteTracks,
    ChangeParticipant,
    EndMeeting,
    StartRecording,
    StopRecording,
    ListLobby,
    AdmitTicket,
    DenyTicket,
    AdmitAll,
)

RoomMessage = (
    CreateRoom
    | UpdateRoom
    | DeleteRoom
    | ReadEntry
    | IssueToken
    | ListParticipants
    | EventsStored
    | ReconcileDue
    | CommitDone
    | RemoveParticipant
    | RevokeAccess
    | KeysEnded
    | AccessConfirmed
    | ReadVaults
    | ListBans
    | LiftBan
    | MuteTracks
    | ChangeParticipant
    | EndMeeting
    | StartRecording
    | StopRecording
    | ReadTicket
    | ListLobby
    | AdmitTicket
    | DenyTicket
    | AdmitAll
    | LobbyDue
)
