"""What the room actor needs from LiveKit: a Protocol, implemented in app/livekit_gateway.py.

So actors/ never imports app/: the actor names what it calls, and the
composition root (app/services.py) hands it the gateway.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from livekit.protocol.models import ParticipantInfo, Room

from models.recordings import EgressUpdate


@dataclass(frozen=True, slots=True)
class RoomConfig:
    """The part of a room's configuration LiveKit applies when a join creates it."""

    name: str
    empty_timeout: int
    departure_timeout: int
    max_participants: int
    metadata: str | None


@dataclass(frozen=True, slots=True)
class TokenRequest:
    identity: str
    name: str | None
    role: str
    metadata: str | None
    attributes: dict[str, str] | None
    ttl_seconds: int


@dataclass(frozen=True, slots=True)
class RecordingRequest:
    """A room composite egress to one file (the gateway adds where it is stored)."""

    room: str
    # `{room}/{session}/{time}.{ext}`: the file's name in the bucket.
    filepath: str
    audio_only: bool
    layout: str


class LiveKitUnreachableError(Exception):
    """LiveKit could not be reached (connection refused, timeout)."""


class LiveKitRefusedError(Exception):
    """LiveKit answered with an error."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(f"LiveKit refused the call: {code} ({status})")
        self.code = code
        self.status = status

    @property
    def gone(self) -> bool:
        """LiveKit's `not_found`: the room or participant the call names is not
        there (never was, or already left or ended). For a removal, a deletion or
        ending a meeting that is what was asked for, so callers take it as done."""
        return self.code == "not_found"


class LiveKitNotConfiguredError(LiveKitUnreachableError):
    """`LIVEKIT_URL` is empty: there is no LiveKit to call."""

    def __init__(self) -> None:
        super().__init__("LIVEKIT_URL is not set")


class LiveKit(Protocol):
    """Token minting (always) and RoomService calls, which raise LiveKitUnreachableError
    or LiveKitRefusedError and nothing else."""

    @property
    def configured(self) -> bool:
        """Whether there is a LiveKit to call (`LIVEKIT_URL` is set). Without one,
        rooms are not mirrored and moderation and removals raise
        LiveKitNotConfiguredError; tokens are minted all the same."""
        ...

    def mint_token(self, room: RoomConfig, request: TokenRequest) -> tuple[str, dt.datetime]:
        """A join token and its expiry."""
        ...

    def token_claims(self, room: RoomConfig, request: TokenRequest) -> dict[str, Any]:
        """The claims a join token minted now carries (JSON values; not secret)."""
        ...

    def sign_claims(self, claims: dict[str, Any]) -> tuple[str, dt.datetime]:
        """The token of `claims` (as `token_claims` made them) and its expiry: the same
        claims signed with the same key give the same bytes (HS256 is deterministic),
        so a token whose claims were stored is the same token again after a restart."""
        ...

    async def create_room(self, room: RoomConfig) -> str | None: ...

    async def update_room_metadata(self, name: str, metadata: str) -> None: ...

    async def delete_room(self, name: str) -> None: ...

    async def remove_participant(self, room: str, identity: str) -> None: ...

    async def update_participant(
        self,
        room: str,
        identity: str,
        *,
        role: str | None = None,
        name: str | None = None,
        metadata: str | None = None,
        attributes: dict[str, str] | None = None,
    ) -> None: ...

    async def mute_published_track(
        self, room: str, identity: str, track_sid: str, *, muted: bool
    ) -> None: ...

    async def list_participants(self, room: str) -> list[ParticipantInfo]: ...

    async def list_rooms(self, names: list[str]) -> list[Room]: ...

    # Egress (recordings).

    async def start_room_composite_egress(self, request: RecordingRequest) -> EgressUpdate: ...

    async def stop_egress(self, egress_id: str) -> None: ...
