"""What a stored webhook means to its room: the inbox row parsed into a checked event.

Everything about an event that can fail (its JSON, a timestamp out of any
calendar, a string a column cannot hold) fails here, as BadEventError, before
any rule runs: such an event costs an attempt of its own and never counts as
the database being away.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

from google.protobuf.json_format import Parse
from livekit.protocol.models import DisconnectReason, ParticipantInfo, TrackInfo, TrackType
from livekit.protocol.webhook import WebhookEvent

from actors.room.admission import GRANT_ATTRIBUTE
from actors.room.egress import egress_update
from actors.room.identity import canonical_identity
from models.recordings import EgressUpdate
from models.sessions import MAX_IDENTITY, MAX_KIND, MAX_NAME, MAX_SID, PublishedTrack
from models.webhook_inbox import PendingEvent

# Events Qari stores itself when it reconciles a room with LiveKit's
# ListParticipants (actors/room/reconcile.py): the LiveKit event after the
# prefix, decided by the same rules; a participant so found gone left for this
# reason, Qari's own (LiveKit's enum has no such value).
RECONCILED_PREFIX = "qari_reconciled:"
RECONCILED = "RECONCILED"


class BadEventError(ValueError):
    """A stored event that cannot be applied as it is."""


@dataclass(frozen=True, slots=True)
class RoomRef:
    """The LiveKit room instance an event is about."""

    sid: str
    # LiveKit's creation time; None when it did not say.
    created_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Who:
    """The participant an event is about."""

    sid: str
    identity: str
    name: str | None
    kind: str
    state: str
    joined_at: dt.datetime | None
    disconnect_reason: str
    # The `qari.grant` attribute its token carried ("" when none).
    grant_key: str = ""


@dataclass(frozen=True, slots=True)
class RoomEvent:
    id: int
    kind: str
    # LiveKit's timestamp, or when the event was received if it gave none.
    at: dt.datetime
    room: RoomRef
    who: Who | None
    # The track of a track event (None when it names none).
    track: PublishedTrack | None
    # Stored by a reconciliation with LiveKit, not delivered by it.
    reconciled: bool = False
    # What an egress_* event reports of its egress.
    egress: EgressUpdate | None = None


def timestamp(seconds: int) -> dt.datetime | None:
    """LiveKit's seconds as a UTC datetime; None for "not given" (0 or less)."""
    if seconds <= 0:
        return None
    try:
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise BadEventError(f"timestamp {seconds} is out of range") from None


def _text(value: str, limit: int, what: str) -> str:
    if len(value) > limit:
        raise BadEventError(f"{what} is longer than {limit} characters")
    if "\x00" in value:
        raise BadEventError(f"{what} contains NUL")
    return value


PARSED_KEPT = 4096


class ParsedEvents:
    """Events the webhook route has parsed already, by their exact payload text, so
    a round does not parse them again (protobuf's JSON parser was about 6% of the
    server's samples under load, py-spy). A bounded memo of a pure function: the
    same text always parses to the same event, so a miss only costs the parse.
    One per app, built in the composition root and handed to the route and the
    committer."""

    def __init__(self, kept: int = PARSED_KEPT) -> None:
        self._events: OrderedDict[str, WebhookEvent] = OrderedDict()
        self._kept = kept

    def __len__(self) -> int:
        return len(self._events)

    def remember(self, payload: str, event: WebhookEvent) -> None:
        """`event` is what `payload` parses to (the route verified and parsed it);
        neither may change afterwards."""
        self._events[payload] = event
        if len(self._events) > self._kept:
            self._events.popitem(last=False)

    def take(self, payload: str) -> WebhookEvent | None:
        return self._events.pop(payload, None)


def _event_of(payload: str, parsed: ParsedEvents | None) -> WebhookEvent:
    event = None if parsed is None else parsed.take(payload)
    if event is not None:
        return event
    try:
        return Parse(payload, WebhookEvent(), ignore_unknown_fields=True)
    except Exception as error:  # protobuf raises ParseError, and TypeError on odd JSON
        raise BadEventError(f"not a LiveKit event: {type(error).__name__}") from None


def parse(row: PendingEvent, parsed: ParsedEvents | None = None) -> RoomEvent:
    """The event a pending row holds; BadEventError if it cannot be applied.
    `parsed`: what the webhook route parsed already."""
    event = _event_of(row.payload, parsed)
    at = timestamp(event.created_at) or row.received_at
    room = RoomRef(_text(event.room.sid, MAX_SID, "room sid"), timestamp(event.room.creation_time))
    who = _who(event.participant) if event.HasField("participant") else None
    kind = row.event_type
    reconciled = kind.startswith(RECONCILED_PREFIX)
    if reconciled:
        kind = kind.removeprefix(RECONCILED_PREFIX)
        if who is not None and kind == "participant_left":
            who = replace(who, disconnect_reason=RECONCILED)
    return RoomEvent(
        id=row.id,
        kind=kind,
        at=at,
        room=room,
        who=who,
        track=_track(event.track) if event.track.sid else None,
        reconciled=reconciled,
        egress=egress_update(event.egress_info, row.room_name, at)
        if kind.startswith("egress_")
        else None,
    )


def _track(info: TrackInfo) -> PublishedTrack:
    return PublishedTrack(
        sid=_text(info.sid, MAX_SID, "track sid"),
        kind=_enum_name(TrackType, info.type, "kind").lower(),
        muted=bool(info.muted),
    )


def _who(info: ParticipantInfo) -> Who:
    return Who(
        sid=_text(info.sid, MAX_SID, "participant sid"),
        identity=canonical_identity(_text(info.identity, MAX_IDENTITY, "identity")),
        name=_text(info.name, MAX_NAME, "participant name") or None,
        kind=_enum_name(ParticipantInfo.Kind, info.kind, "kind").lower(),
        state=_enum_name(ParticipantInfo.State, info.state, "state").lower(),
        joined_at=timestamp(info.joined_at),
        disconnect_reason=_enum_name(DisconnectReason, info.disconnect_reason, "REASON"),
        grant_key=_text(info.attributes.get(GRANT_ATTRIBUTE, ""), MAX_SID, "grant key"),
    )


def _enum_name(enum: Any, value: int, unknown: str) -> str:
    try:
        return str(enum.Name(value))
    except ValueError:
        return f"{unknown}_{value}"[:MAX_KIND]  # a value this livekit-protocol does not know
