"""Everything that talks LiveKit: join tokens, webhook verification, the RoomService.

Library exceptions are caught here, where they are raised, and turned into the
few outcomes the rest of the service cares about.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
from google.protobuf.json_format import Parse, ParseError
from livekit import api
from livekit.api.egress_service import EgressService
from livekit.api.room_service import RoomService
from livekit.protocol.models import ParticipantInfo, ParticipantPermission, Room
from livekit.protocol.webhook import WebhookEvent

from actors.room.egress import egress_update
from actors.room.livekit import RecordingRequest
from actors.room.protocol import (
    LiveKitNotConfiguredError,
    LiveKitRefusedError,
    LiveKitUnreachableError,
    RoomConfig,
    TokenRequest,
)
from app.livekit_claims import ROLE_GRANTS, HS256Signer, join_claims
from app.livekit_secret import (
    MIN_SECRET_BYTES,
    QuietEgressService,
    QuietRoomService,
    is_short,
)
from app.settings import Settings
from app.webhook_signature import SignatureError, WebhookSignature
from models.recordings import EgressUpdate

# The room actor's LiveKit port (its types live with the actor); re-exported here.
__all__ = [
    "LiveKitGateway",
    "LiveKitNotConfiguredError",
    "LiveKitRefusedError",
    "LiveKitUnreachableError",
    "RoomConfig",
    "TokenRequest",
    "WebhookPayloadError",
    "WebhookSignatureError",
]

log = logging.getLogger(__name__)


class WebhookSignatureError(Exception):
    """The webhook's signature is missing, invalid, expired, or not over this body."""


class WebhookPayloadError(Exception):
    """The webhook is signed but is not a LiveKit event."""


class LiveKitGateway:
    """Token minting and webhook verification (always), RoomService calls (when configured).

    Implements the room actor's LiveKit port (actors/room/protocol.py).
    """

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        # Wall-clock seconds for `nbf`/`exp`: LiveKit checks them against its own
        # wall clock, so never a monotonic or test-frozen one unless a test injects it.
        self._clock = clock
        self._key = settings.livekit_api_key
        self._secret = settings.livekit_api_secret.get_secret_value()
        self._signer = HS256Signer(self._secret)
        self.url = settings.livekit_url
        self._timeout = settings.livekit_timeout_seconds
        self._signature = WebhookSignature(self._key, self._secret)
        self._session: aiohttp.ClientSession | None = None
        self._rooms: RoomService | None = None
        self._egress: EgressService | None = None
        # Where egress files go (None: LiveKit's own storage settings). Holds the
        # bucket's credentials: only ever put in a request to LiveKit.
        self._s3 = _s3_upload(settings)
        if is_short(self._secret):
            # The dev default (`secret`, as `livekit-server --dev` uses) is short;
            # say so once here instead of PyJWT warning on every token.
            log.warning(
                "LIVEKIT_API_SECRET is shorter than %d bytes: fine for a dev server,"
                " not for production",
                MIN_SECRET_BYTES,
            )

    @property
    def configured(self) -> bool:
        """Whether there is a LiveKit to call: `LIVEKIT_URL` is set."""
        return bool(self.url)

    async def open(self) -> None:
        """Create the RoomService client; it needs a running loop, so not at import."""
        if self.configured:
            # livekit-api ignores its session timeout on RoomService calls, so
            # every call below is bounded with asyncio.timeout instead.
            self._session = aiohttp.ClientSession()
            self._rooms = QuietRoomService(
                self._session, self.url, self._key, self._secret, failover=False
            )
            self._egress = QuietEgressService(
                self._session, self.url, self._key, self._secret, failover=False
            )

    async def close(self) -> None:
        self._rooms = None
        self._egress = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- tokens ----------------------------------------------------------------

    def mint_token(self, room: RoomConfig, request: TokenRequest) -> tuple[str, dt.datetime]:
        """A join token for one room, its grants by role, the room's configuration inside.

        The claims are built directly (app/livekit_claims.py), the same as
        livekit-api's AccessToken would make them, and signed once with a key
        prepared once; `exp` is ours, so nothing is decoded back.
        """
        return self.sign_claims(self.token_claims(room, request))

    def token_claims(self, room: RoomConfig, request: TokenRequest) -> dict[str, Any]:
        return join_claims(self._key, room, request, int(self._clock()))

    def sign_claims(self, claims: dict[str, Any]) -> tuple[str, dt.datetime]:
        if claims.get("iss") != self._key:
            # Minted under another API key: LiveKit would refuse its issuer.
            claims = {**claims, "iss": self._key}
        return self._signer.sign(claims), dt.datetime.fromtimestamp(claims["exp"], tz=dt.UTC)

    # -- webhooks --------------------------------------------------------------

    def verify_webhook(self, body: bytes, authorization: str | None) -> WebhookEvent:
        """Check LiveKit's signature over the exact raw body, then parse the event."""
        if not authorization:
            raise WebhookSignatureError("missing Authorization")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            # LiveKit signs UTF-8 JSON; other bytes cannot carry its signature.
            raise WebhookSignatureError("body is not UTF-8") from None
        try:
            self._signature.check(body, authorization)
        except SignatureError as error:
            raise WebhookSignatureError(str(error)) from None
        try:
            return Parse(text, WebhookEvent(), ignore_unknown_fields=True)
        except (ParseError, TypeError, ValueError, RecursionError):
            # protobuf raises ParseError, and TypeError on odd JSON.
            raise WebhookPayloadError("not a LiveKit webhook event") from None

    # -- RoomService -----------------------------------------------------------

    async def create_room(self, room: RoomConfig) -> str | None:
        """CreateRoom; the sid, or None when not mirroring."""
        if self._rooms is None:
            return None
        request = api.CreateRoomRequest(
            name=room.name,
            empty_timeout=room.empty_timeout,
            departure_timeout=room.departure_timeout,
            max_participants=room.max_participants,
            metadata=room.metadata or "",
        )
        async with _translate_errors(), asyncio.timeout(self._timeout):
            created = await self._rooms.create_room(request)
        return created.sid or None

    async def update_room_metadata(self, name: str, metadata: str) -> None:
        if self._rooms is None:
            return
        request = api.UpdateRoomMetadataRequest(room=name, metadata=metadata)
        async with _translate_errors(), asyncio.timeout(self._timeout):
            await self._rooms.update_room_metadata(request)

    async def delete_room(self, name: str) -> None:
        if self._rooms is None:
            return
        async with _translate_errors(), asyncio.timeout(self._timeout):
            await self._rooms.delete_room(api.DeleteRoomRequest(room=name))

    # Moderation and admission need LiveKit: unlike mirroring, there is no
    # "fine without it", so with LIVEKIT_URL empty these raise instead of
    # returning quietly.

    async def remove_participant(self, room: str, identity: str) -> None:
        """RemoveParticipant: disconnect `identity` from `room` now."""
        client = self._required()
        request = api.RoomParticipantIdentity(room=room, identity=identity)
        async with _translate_errors(), asyncio.timeout(self._timeout):
            await client.remove_participant(request)

    async def update_participant(
        self,
        room: str,
        identity: str,
        *,
        role: str | None = None,
        name: str | None = None,
        metadata: str | None = None,
        attributes: dict[str, str] | None = None,
    ) -> None:
        """UpdateParticipant; a role becomes its permissions, applied by LiveKit at once."""
        client = self._required()
        request = api.UpdateParticipantRequest(room=room, identity=identity)
        if role is not None:
            request.permission.CopyFrom(participant_permission(role))
        if name is not None:
            request.name = name
        if metadata is not None:
            request.metadata = metadata
        if attributes:
            request.attributes.update(attributes)
        async with _translate_errors(), asyncio.timeout(self._timeout):
            await client.update_participant(request)

    async def mute_published_track(
        self, room: str, identity: str, track_sid: str, *, muted: bool
    ) -> None:
        """MutePublishedTrack for one track of `identity`."""
        client = self._required()
        request = api.MuteRoomTrackRequest(
            room=room, identity=identity, track_sid=track_sid, muted=muted
        )
        async with _translate_errors(), asyncio.timeout(self._timeout):
            await client.mute_published_track(request)

    # Reconciliation (actors/room/reconciler.py): who LiveKit has in a room, and
    # which instance of it.

    async def list_participants(self, room: str) -> list[ParticipantInfo]:
        """ListParticipants: everyone connected to `room` now (not_found: no such room)."""
        client = self._required()
        async with _translate_errors(), asyncio.timeout(self._timeout):
            listed = await client.list_participants(api.ListParticipantsRequest(room=room))
        return list(listed.participants)

    async def list_rooms(self, names: list[str]) -> list[Room]:
        """ListRooms for these names: the rooms LiveKit has of them."""
        client = self._required()
        async with _translate_errors(), asyncio.timeout(self._timeout):
            listed = await client.list_rooms(api.ListRoomsRequest(names=names))
        return list(listed.rooms)

    # -- Egress (recordings) ------------------------------------------------------

    async def start_room_composite_egress(self, request: RecordingRequest) -> EgressUpdate:
        """StartRoomCompositeEgress to one file (MP4, or OGG when audio only), in the
        RECORDING_S3_* bucket when one is set; what LiveKit answered of the egress."""
        if self._egress is None:
            raise LiveKitNotConfiguredError
        output = api.EncodedFileOutput(
            file_type=api.EncodedFileType.OGG if request.audio_only else api.EncodedFileType.MP4,
            filepath=request.filepath,
        )
        if self._s3 is not None:
            output.s3.CopyFrom(self._s3)
        start = api.RoomCompositeEgressRequest(
            room_name=request.room,
            layout=request.layout,
            audio_only=request.audio_only,
            file_outputs=[output],
        )
        async with _translate_errors(), asyncio.timeout(self._timeout):
            info = await self._egress.start_room_composite_egress(start)
        return egress_update(info, request.room, dt.datetime.fromtimestamp(self._clock(), dt.UTC))

    async def stop_egress(self, egress_id: str) -> None:
        if self._egress is None:
            raise LiveKitNotConfiguredError
        async with _translate_errors(), asyncio.timeout(self._timeout):
            await self._egress.stop_egress(api.StopEgressRequest(egress_id=egress_id))

    def _required(self) -> RoomService:
        if self._rooms is None:
            raise LiveKitNotConfiguredError
        return self._rooms


def _s3_upload(settings: Settings) -> api.S3Upload | None:
    """The RECORDING_S3_* bucket as an egress upload; None when no bucket is set."""
    if not settings.recording_s3_bucket:
        return None
    return api.S3Upload(
        bucket=settings.recording_s3_bucket,
        region=settings.recording_s3_region,
        endpoint=settings.recording_s3_endpoint,
        access_key=settings.recording_s3_access_key.get_secret_value(),
        secret=settings.recording_s3_secret.get_secret_value(),
        # An endpoint of its own (MinIO and the like) addresses buckets by path.
        force_path_style=bool(settings.recording_s3_endpoint),
    )


def participant_permission(role: str) -> ParticipantPermission:
    """The permissions LiveKit enforces for a role: the same grants as its token."""
    grants = ROLE_GRANTS[role]
    return ParticipantPermission(
        can_subscribe=True,
        can_publish=grants.can_publish,
        can_publish_data=True,
    )


@contextlib.asynccontextmanager
async def _translate_errors() -> AsyncIterator[None]:
    """Turn the client's exceptions into LiveKitUnreachableError / LiveKitRefusedError."""
    try:
        yield
    except api.TwirpError as error:
        # Any answer, 5xx included, is LiveKit saying no: never claim success for it.
        raise LiveKitRefusedError(error.code, error.status) from None
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        raise LiveKitUnreachableError(type(error).__name__) from None
