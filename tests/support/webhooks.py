"""Webhooks built and signed exactly as LiveKit does.

LiveKit serialises a livekit-protocol WebhookEvent with protojson (camelCase,
int64 as strings) and sends it with `Authorization: <jwt>` (no Bearer), the
JWT signed with the API secret and carrying `sha256` = base64(SHA-256(body)).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import itertools
import uuid

from google.protobuf.json_format import MessageToJson
from livekit import api
from livekit.protocol.models import (
    DisconnectReason,
    ParticipantInfo,
    Room,
    TrackInfo,
    TrackType,
)
from livekit.protocol.webhook import WebhookEvent

from tests.support.settings import LIVEKIT_KEY, LIVEKIT_SECRET

_created = itertools.count(1_800_000_000)


def sign(body: bytes, key: str = LIVEKIT_KEY, secret: str = LIVEKIT_SECRET) -> str:
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    return (
        api.AccessToken(key, secret).with_sha256(digest).with_ttl(dt.timedelta(minutes=5)).to_jwt()
    )


def serialise(event: WebhookEvent) -> bytes:
    return MessageToJson(event, indent=None).encode()


def signed(event: WebhookEvent) -> tuple[bytes, dict[str, str]]:
    """Body and headers of one delivery."""
    body = serialise(event)
    return body, {"Authorization": sign(body), "Content-Type": "application/webhook+json"}


def room_info(name: str, sid: str, created: int | None = None) -> Room:
    return Room(name=name, sid=sid, creation_time=created or 0)


def participant(
    identity: str,
    sid: str,
    *,
    joined_at: int = 0,
    name: str = "",
    reason: int = DisconnectReason.CLIENT_INITIATED,
    kind: int = ParticipantInfo.Kind.STANDARD,
    attributes: dict[str, str] | None = None,
) -> ParticipantInfo:
    """A participant as LiveKit reports it; `attributes` are its token's (LiveKit
    copies a token's attributes onto the participant it admits)."""
    return ParticipantInfo(
        identity=identity,
        sid=sid,
        name=name or identity.title(),
        joined_at=joined_at,
        state=ParticipantInfo.State.ACTIVE,
        disconnect_reason=reason,
        kind=kind,  # type: ignore[arg-type]
        attributes=attributes or {},
    )


def event(
    kind: str,
    room: Room,
    *,
    who: ParticipantInfo | None = None,
    track: TrackInfo | None = None,
    created_at: int | None = None,
    event_id: str | None = None,
) -> WebhookEvent:
    """One WebhookEvent; created_at increases by default, as LiveKit's clock does."""
    message = WebhookEvent(
        event=kind,
        room=room,
        id=event_id or f"EV_{uuid.uuid4().hex[:12]}",
        created_at=created_at if created_at is not None else next(_created),
    )
    if who is not None:
        message.participant.CopyFrom(who)
    if track is not None:
        message.track.CopyFrom(track)
    return message


def audio_track(sid: str) -> TrackInfo:
    return TrackInfo(sid=sid, type=TrackType.AUDIO, name="mic")
