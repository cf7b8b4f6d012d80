"""The room's refusals: domain errors that know nothing of HTTP (app/http/errors.py maps them)."""

from __future__ import annotations

from models.access import Condition


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
    """The token request carried no verdict for the room's condition as it is now:
    check this one (at this version) first.

    `condition` is the room's current one (None: the room is public now).
    """

    def __init__(self, condition: Condition | None, version: int, delegation: bool = False) -> None:
        super().__init__("access condition to check")
        self.condition = condition
        self.version = version
        self.delegation = delegation


class NotRoomOwnerError(RoomError):
    """A wallet asked for what only the room's owner may have (the host role)."""


class NotRoomManagerError(RoomError):
    """A wallet asked to manage a room it does not own."""


class InvalidRoomConfigError(RoomError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class RoomUnavailableError(RoomError):
    """Another node serves the room, or did until moments ago and cannot be
    reached: retry after `retry_after` seconds (its lease lapses by then)."""

    def __init__(self, room: str, retry_after: int = 1) -> None:
        super().__init__(f"room {room!r} is served elsewhere or changing hands")
        self.retry_after = max(1, retry_after)


class RoomNotLiveError(RoomError):
    """A recording asked for in a room with no one in it."""


class RecordingActiveError(RoomError):
    """A recording asked for while one of the room's is starting or active."""


class RecordingNotFoundError(RoomError):
    """No recording of this room has that id."""


class TicketNotFoundError(RoomError):
    """No ticket of this room's lobby by that name (or not one the caller may see)."""


class TicketClosedError(RoomError):
    """A decision asked for on a lobby ticket already decided (denied, expired, or
    admitted when denying)."""


class TicketAccessChangedError(RoomError):
    """An admission asked for on a ticket whose knock was checked under an access
    condition the room no longer has: the ticket is denied, the knocker knocks again."""
