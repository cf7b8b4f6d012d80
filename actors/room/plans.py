"""What configuring and moderating a room decide to do: plain values, performed by perform.py.

configuring.py and moderation.py decide from the room's memory and the
message alone (raising the room's refusals); what they return names every
call to LiveKit and every write, in order, and what to say when LiveKit does
not do its part. perform.py makes the calls and writes, and changes the memory.

A moderation (and a deletion) is a `Plan`: steps performed one after another,
the first failure ending it. A create and an update are one value each, since
what they store depends on LiveKit's answer and a refusal of the database puts
LiveKit back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from actors.room.config import Config, RoomChanges
from actors.room.errors import RemovalNotMadeError
from actors.room.livekit import RoomConfig
from models.bans import BanRow
from models.outbox import Event
from models.rooms import RoomSettings, RoomStatus

# -- what to say -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NotMade:
    """RemovalNotMadeError's wording, for when LiveKit does not do its part after
    the database did its own: `what` was not done (None: the participant was not
    disconnected), `kept` is what was."""

    kept: str
    what: str | None = None

    def error(self, cause: Exception) -> RemovalNotMadeError:
        if self.what is None:
            return RemovalNotMadeError(cause, self.kept)
        return RemovalNotMadeError(cause, self.kept, what=self.what)


# -- steps of a plan (moderation, deletion) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class StoreBan:
    """Store the ban (durable before the next step) and keep it in memory."""

    room_id: int
    row: BanRow


@dataclass(frozen=True, slots=True)
class Revoke:
    """The identity's tokens stop admitting it here (its seat freed, its grant a new key).

    `durable`: the write is waited for before the next step (a revocation lost
    in a restart would let the old token in again); else it is only logged if
    it fails. `only_granted`: an identity with no grant in memory is left alone.
    """

    identity: str
    at: dt.datetime
    only_granted: bool = False
    durable: bool = True


@dataclass(frozen=True, slots=True)
class RevokeAll:
    """Every grant of the room revoked, and everyone in it (`in_room`), durably."""

    at: dt.datetime
    in_room: frozenset[str]


@dataclass(frozen=True, slots=True)
class Disconnect:
    """RemoveParticipant; LiveKit's not_found is done. With `not_made`, a refusal or an
    unreachable LiveKit is that RemovalNotMadeError; else it is raised as it is."""

    identity: str
    not_made: NotMade | None = None


@dataclass(frozen=True, slots=True)
class DeleteLiveKitRoom:
    """DeleteRoom; LiveKit's not_found is done. An unreachable LiveKit fails the plan
    only when `required` (a live room: its participants would stay connected).
    With `not_made`, a failure is that RemovalNotMadeError."""

    required: bool
    not_made: NotMade | None = None


@dataclass(frozen=True, slots=True)
class DeleteRoomRow:
    """Delete the rooms row; the memory starts over (nothing granted or banned counts)."""

    room_id: int


@dataclass(frozen=True, slots=True)
class Mute:
    """MutePublishedTrack; remembered in memory once LiveKit did it."""

    identity: str
    track_sid: str
    muted: bool


@dataclass(frozen=True, slots=True)
class UpdateParticipant:
    """UpdateParticipant with the fields given; a role and a name are remembered."""

    identity: str
    role: str | None = None
    name: str | None = None
    metadata: str | None = None
    attributes: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class ReleaseAllSeats:
    """Every held seat freed (the meeting was ended)."""


@dataclass(frozen=True, slots=True)
class Report:
    """Write `event` to the outbox (fenced): what the steps before it did has happened."""

    event: Event


@dataclass(frozen=True, slots=True)
class LiveKitMissing:
    """LIVEKIT_URL is empty, so LiveKit's part cannot be done: RemovalNotMadeError."""

    not_made: NotMade


Step = (
    StoreBan
    | Revoke
    | RevokeAll
    | Disconnect
    | DeleteLiveKitRoom
    | DeleteRoomRow
    | Mute
    | UpdateParticipant
    | ReleaseAllSeats
    | Report
    | LiveKitMissing
)
Plan = tuple[Step, ...]


# -- a create and an update ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateLiveKitRoom:
    """CreateRoom in LiveKit. Unreachable is no failure (the first join creates the
    room with the token's configuration, and room_started brings its sid); a
    refusal is, and nothing is stored."""

    config: RoomConfig
    # Delete the room LiveKit made if the row is then not stored (never when a
    # meeting already runs in it).
    undo: bool


@dataclass(frozen=True, slots=True)
class StoreRoom:
    """Insert the rooms row: the settings, and the presence the memory knows."""

    name: str
    settings: RoomSettings
    status: RoomStatus
    num_participants: int
    # The running session's sid; None: the sid CreateRoom answered (if any).
    livekit_sid: str | None


@dataclass(frozen=True, slots=True)
class Create:
    """LiveKit first, then the row; the memory adopts it as a new creation."""

    livekit: CreateLiveKitRoom
    store: StoreRoom


@dataclass(frozen=True, slots=True)
class PushMetadata:
    """UpdateRoomMetadata of a live room; `previous` puts it back if the row is not saved."""

    metadata: str
    previous: str


@dataclass(frozen=True, slots=True)
class Update:
    """The metadata pushed first (if any), then the changes saved; the memory adopts
    `config` (the changes merged with the configuration)."""

    push: PushMetadata | None
    changes: RoomChanges
    config: Config
