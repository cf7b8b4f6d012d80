"""A loopback fake of LiveKit's RoomService (and Egress), speaking its real Twirp protocol.

Tests point the real ``livekit.api.LiveKitAPI`` client at ``FakeLiveKit.url`` so
the client's wire format, auth tokens and error decoding are exercised for real,
without a LiveKit server. The fake keeps rooms in memory, records every call and
can be told to fail or stall the next calls of a method.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import string
import time
import warnings
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from jwt.warnings import InsecureKeyLengthWarning
from livekit.api import TokenVerifier, VideoGrants
from livekit.protocol.egress import RoomCompositeEgressRequest, StopEgressRequest
from livekit.protocol.models import ParticipantInfo, ParticipantPermission, Room, TrackInfo
from livekit.protocol.room import (
    CreateRoomRequest,
    DeleteRoomRequest,
    DeleteRoomResponse,
    ListParticipantsRequest,
    ListParticipantsResponse,
    ListRoomsRequest,
    ListRoomsResponse,
    MuteRoomTrackRequest,
    MuteRoomTrackResponse,
    RemoveParticipantResponse,
    RoomParticipantIdentity,
    UpdateParticipantRequest,
    UpdateRoomMetadataRequest,
)

from tests.fakes.egress import FakeEgress, can_record

T = TypeVar("T")

__all__ = ["TWIRP_STATUS", "FakeLiveKit"]

_PREFIX = "/twirp/livekit."
_PROTOBUF = "application/protobuf"
_JSON = "application/json"
_SID_ALPHABET = string.ascii_letters + string.digits

# Twirp's error code -> HTTP status table (https://twitchtv.github.io/twirp/docs/spec_v7.html).
TWIRP_STATUS: dict[str, int] = {
    "canceled": 408,
    "unknown": 500,
    "invalid_argument": 400,
    "malformed": 400,
    "deadline_exceeded": 408,
    "not_found": 404,
    "bad_route": 404,
    "already_exists": 409,
    "permission_denied": 403,
    "unauthenticated": 401,
    "resource_exhausted": 429,
    "failed_precondition": 412,
    "aborted": 409,
    "out_of_range": 400,
    "unimplemented": 501,
    "internal": 500,
    "unavailable": 503,
    "dataloss": 500,
}

# A valid token lacking the method's grant. NB: livekit-server itself answers
# `unauthenticated` (401) here (its twirpAuthError); this fake deliberately uses the
# more specific code so tests can tell "bad token" from "token without the grant".
_GRANT_ERROR_CODE = "permission_denied"


class _TwirpError(Exception):
    """Raised inside a handler; turned into a Twirp JSON error response."""

    def __init__(self, code: str, msg: str, status: int | None = None) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status if status is not None else TWIRP_STATUS.get(code, 500)


@dataclass(frozen=True)
class _Failure:
    code: str
    msg: str
    status: int


@dataclass(frozen=True)
class _Method:
    """How one RoomService method is parsed, authorized and served."""

    request_type: type[Message]
    authorized: Callable[[VideoGrants, Any], bool]
    handle: Callable[[Any], Message]
    service: str = "RoomService"


class FakeLiveKit:
    """In-memory LiveKit RoomService on 127.0.0.1, driven by the real Twirp client."""

    def __init__(self, api_key: str = "devkey", api_secret: str = "secret") -> None:  # noqa: S107 (dev creds)
        self.api_key = api_key
        self.api_secret = api_secret
        self.rooms: dict[str, Room] = {}
        # room name -> identity -> who is connected there (tests put them in with `join`).
        self.participants: defaultdict[str, dict[str, ParticipantInfo]] = defaultdict(dict)
        self.calls: list[tuple[str, Message]] = []
        # ListParticipants for a room it does not have: not_found, or (True) an
        # empty list, as some LiveKit versions answer.
        self.lists_missing_rooms_empty = False
        self._verifier = TokenVerifier(api_key, api_secret)
        # None: a call served normally before the failures behind it (`skip`).
        self._failures: defaultdict[str, deque[_Failure | None]] = defaultdict(deque)
        self._hangs: defaultdict[str, deque[float]] = defaultdict(deque)
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._url: str | None = None
        # Egress: `egress.advance(...)` moves one and returns its webhook.
        self.egress = FakeEgress(self.rooms, _TwirpError)
        self._methods: dict[str, _Method] = {
            "CreateRoom": _Method(CreateRoomRequest, _can_create, self._create_room),
            "ListRooms": _Method(ListRoomsRequest, _can_list, self._list_rooms),
            "DeleteRoom": _Method(DeleteRoomRequest, _can_create, self._delete_room),
            "UpdateRoomMetadata": _Method(
                UpdateRoomMetadataRequest, _can_admin_room, self._update_room_metadata
            ),
            "ListParticipants": _Method(
                ListParticipantsRequest, _can_admin_room, self._list_participants
            ),
            "RemoveParticipant": _Method(
                RoomParticipantIdentity, _can_admin_room, self._remove_participant
            ),
            "UpdateParticipant": _Method(
                UpdateParticipantRequest, _can_admin_room, self._update_participant
            ),
            "MutePublishedTrack": _Method(
                MuteRoomTrackRequest, _can_admin_room, self._mute_published_track
            ),
            "StartRoomCompositeEgress": _Method(
                RoomCompositeEgressRequest, can_record, self.egress.start_room_composite, "Egress"
            ),
            "StopEgress": _Method(StopEgressRequest, can_record, self.egress.stop, "Egress"),
        }

    # -- lifecycle -----------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``; only valid between start() and stop()."""
        if self._url is None:
            raise RuntimeError("FakeLiveKit is not started")
        return self._url

    async def start(self) -> None:
        """Listen on an OS-assigned loopback port (pre-bound, so the port is known)."""
        if self._runner is not None:
            raise RuntimeError("FakeLiveKit is already started")
        self._closing.clear()
        self._loop = asyncio.get_running_loop()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # A short shutdown_timeout: stop() must never wait on a stalled handler.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            await web.SockSite(runner, sock).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner = runner
        self._url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Release any hung handlers, then shut the server down. Idempotent."""
        runner, self._runner, self._url = self._runner, None, None
        self._closing.set()
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeLiveKit:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- test controls -------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        code: str,
        msg: str = "injected failure",
        status: int | None = None,
        times: int = 1,
        skip: int = 0,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (after ``skip`` served normally)
        answer a Twirp error.

        The call is still authenticated, parsed and recorded first; the state is
        left untouched. ``status`` defaults to Twirp's status for ``code``.
        """
        self._check_method(method)
        if status is None:
            if code not in TWIRP_STATUS:
                raise ValueError(f"unknown Twirp code {code!r}; pass status explicitly")
            status = TWIRP_STATUS[code]
        if times < 1:
            raise ValueError("times must be >= 1")
        self._failures[method].extend(None for _ in range(skip))
        self._failures[method].extend(_Failure(code, msg, status) for _ in range(times))

    def hang_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` wait ``seconds`` before answering.

        After the wait the call is served normally (state changes still apply, as
        with a slow real server). stop() cuts the wait short; such calls get
        ``unavailable`` and change nothing.
        """
        self._check_method(method)
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        if times < 1:
            raise ValueError("times must be >= 1")
        self._hangs[method].extend(seconds for _ in range(times))

    def join(
        self,
        room: str,
        identity: str,
        *,
        tracks: list[TrackInfo] | None = None,
        sid: str | None = None,
    ) -> ParticipantInfo:
        """Put `identity` in `room` as if it had connected (the room is created if new);
        `sid`: the one its webhooks name (else a new one)."""
        if room not in self.rooms:
            self._create_room(CreateRoomRequest(name=room))
        participant = ParticipantInfo(
            sid=sid or "PA_" + "".join(secrets.choice(_SID_ALPHABET) for _ in range(12)),
            identity=identity,
            state=ParticipantInfo.State.ACTIVE,
            permission=ParticipantPermission(
                can_subscribe=True, can_publish=True, can_publish_data=True
            ),
            tracks=tracks or [],
        )
        self.participants[room][identity] = participant
        return participant

    def leave(self, room: str, identity: str) -> None:
        """Take `identity` out of `room`, as LiveKit does before it tells of the leave."""
        self.participants[room].pop(identity, None)

    def join_from_thread(
        self, room: str, identity: str, *, sid: str, timeout: float = 5.0
    ) -> ParticipantInfo:
        """`join`, from a thread other than the fake's own (a fake served by a
        background loop)."""
        return self.from_thread(lambda: self.join(room, identity, sid=sid), timeout)

    def from_thread(self, change: Callable[[], T], timeout: float = 5.0) -> T:
        """`change()` done on the fake's loop, from another thread, so no request
        the fake is serving reads half of it."""

        async def on_loop() -> T:
            return change()

        if self._loop is None:
            raise RuntimeError("FakeLiveKit is not started")
        return asyncio.run_coroutine_threadsafe(on_loop(), self._loop).result(timeout)

    def calls_to(self, method: str) -> list[Message]:
        """The parsed requests received for ``method``, in arrival order."""
        return [request for name, request in self.calls if name == method]

    @staticmethod
    def unused_url() -> str:
        """A loopback URL where (almost certainly) nothing listens: connection refused."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def _check_method(self, method: str) -> None:
        """Catch typos early: controls for an unserved method would never fire."""
        if method not in self._methods:
            raise ValueError(f"unknown RoomService method {method!r}; know {sorted(self._methods)}")

    # -- Twirp plumbing ------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        """Route, decode, authenticate and serve one request, as a Twirp server does."""
        as_json = request.content_type == _JSON
        try:
            return await self._serve(request, as_json)
        except _TwirpError as err:
            return web.json_response({"code": err.code, "msg": err.msg}, status=err.status)

    async def _serve(self, request: web.Request, as_json: bool) -> web.StreamResponse:
        path = request.path
        service, _, name = path.removeprefix(_PREFIX).partition("/")
        method = self._methods.get(name) if path.startswith(_PREFIX) else None
        if method is None or method.service != service:
            raise _TwirpError("bad_route", f"no handler for path {path!r}")
        if request.method != "POST":
            raise _TwirpError(
                "bad_route", f"unsupported method {request.method} (only POST is allowed)"
            )
        if request.content_type not in (_PROTOBUF, _JSON):
            raise _TwirpError("bad_route", f"unexpected Content-Type: {request.content_type!r}")

        grants = self._authenticate(request.headers.get("Authorization"))
        body = await request.read()
        message = _decode(method.request_type, body, as_json)
        self.calls.append((name, message))

        if self._hangs[name]:
            await self._hang(self._hangs[name].popleft())
        if self._failures[name]:
            failure = self._failures[name].popleft()
            if failure is not None:
                raise _TwirpError(failure.code, failure.msg, failure.status)
        if not method.authorized(grants, message):
            raise _TwirpError(_GRANT_ERROR_CODE, f"token lacks the grant for {name}")

        reply = method.handle(message)
        if as_json:
            text = json_format.MessageToJson(
                reply,
                preserving_proto_field_name=True,
                always_print_fields_with_no_presence=True,
            )
            return web.Response(text=text, content_type=_JSON)
        return web.Response(body=reply.SerializeToString(), content_type=_PROTOBUF)

    def _authenticate(self, header: str | None) -> VideoGrants:
        """Verify ``Bearer <jwt>`` with the fake's key/secret, as LiveKit's middleware does."""
        if not header or not header.startswith("Bearer "):
            raise _TwirpError("unauthenticated", "missing or non-bearer authorization")
        try:
            # PyJWT warns on short HMAC secrets (LiveKit's dev "secret"); under
            # `filterwarnings = error` that warning would masquerade as a bad token.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", InsecureKeyLengthWarning)
                claims = self._verifier.verify(header[len("Bearer ") :])
        except Exception as exc:  # any verification failure is "unauthenticated"
            raise _TwirpError("unauthenticated", f"invalid token: {exc}") from exc
        return claims.video or VideoGrants()

    async def _hang(self, seconds: float) -> None:
        """Stall like a slow server, but give way at once when stop() is called."""
        try:
            async with asyncio.timeout(seconds):
                await self._closing.wait()
        except TimeoutError:
            return
        raise _TwirpError("unavailable", "server shutting down")

    # -- RoomService semantics -----------------------------------------------------

    def _create_room(self, req: CreateRoomRequest) -> Room:
        """Idempotent by name, as in LiveKit: an existing room is returned unchanged."""
        if not req.name:
            raise _TwirpError("invalid_argument", "room name is required")
        existing = self.rooms.get(req.name)
        if existing is not None:
            return existing
        now_ms = time.time_ns() // 1_000_000
        room = Room(
            sid="RM_" + "".join(secrets.choice(_SID_ALPHABET) for _ in range(12)),
            name=req.name,
            empty_timeout=req.empty_timeout,
            departure_timeout=req.departure_timeout,
            max_participants=req.max_participants,
            metadata=req.metadata,
            creation_time=now_ms // 1000,
            creation_time_ms=now_ms,
        )
        self.rooms[req.name] = room
        return room

    def _list_rooms(self, req: ListRoomsRequest) -> ListRoomsResponse:
        wanted = set(req.names)
        return ListRoomsResponse(
            rooms=[room for name, room in self.rooms.items() if not wanted or name in wanted]
        )

    def _delete_room(self, req: DeleteRoomRequest) -> DeleteRoomResponse:
        if self.rooms.pop(req.room, None) is None:
            raise _TwirpError("not_found", "requested room does not exist")
        self.participants.pop(req.room, None)  # everyone is disconnected
        return DeleteRoomResponse()

    def _update_room_metadata(self, req: UpdateRoomMetadataRequest) -> Room:
        room = self._room(req.room)
        room.metadata = req.metadata
        return room

    def _list_participants(self, req: ListParticipantsRequest) -> ListParticipantsResponse:
        if self.lists_missing_rooms_empty and req.room not in self.rooms:
            return ListParticipantsResponse()
        self._room(req.room)
        return ListParticipantsResponse(participants=list(self.participants[req.room].values()))

    def _remove_participant(self, req: RoomParticipantIdentity) -> RemoveParticipantResponse:
        self._participant(req.room, req.identity)
        del self.participants[req.room][req.identity]
        return RemoveParticipantResponse()

    def _update_participant(self, req: UpdateParticipantRequest) -> ParticipantInfo:
        """As LiveKit: only the fields set change; a permission replaces the old one whole."""
        participant = self._participant(req.room, req.identity)
        if req.name:
            participant.name = req.name
        if req.metadata:
            participant.metadata = req.metadata
        for key, value in req.attributes.items():
            if value:
                participant.attributes[key] = value
            else:
                participant.attributes.pop(key, None)  # an empty value deletes the key
        if req.HasField("permission"):
            participant.permission.CopyFrom(req.permission)
            if not req.permission.can_publish:
                # LiveKit unpublishes the tracks of a participant that may no longer publish.
                del participant.tracks[:]
        return participant

    def _mute_published_track(self, req: MuteRoomTrackRequest) -> MuteRoomTrackResponse:
        participant = self._participant(req.room, req.identity)
        for track in participant.tracks:
            if track.sid == req.track_sid:
                track.muted = req.muted
                return MuteRoomTrackResponse(track=track)
        raise _TwirpError("not_found", "track not found")

    def _participant(self, room: str, identity: str) -> ParticipantInfo:
        self._room(room)
        participant = self.participants[room].get(identity)
        if participant is None:
            raise _TwirpError("not_found", "participant not found")
        return participant

    def _room(self, name: str) -> Room:
        room = self.rooms.get(name)
        if room is None:
            raise _TwirpError("not_found", "requested room does not exist")
        return room


def _decode(request_type: type[Message], body: bytes, as_json: bool) -> Message:
    """Parse a request body; anything unparsable is Twirp ``malformed``."""
    message = request_type()
    try:
        if as_json:
            # Twirp discards unknown JSON fields rather than rejecting them.
            json_format.Parse(body.decode("utf-8"), message, ignore_unknown_fields=True)
        else:
            message.ParseFromString(body)
    except (DecodeError, json_format.ParseError, UnicodeDecodeError) as exc:
        kind = "json" if as_json else "protobuf"
        raise _TwirpError("malformed", f"the {kind} request could not be decoded: {exc}") from exc
    return message


def _can_create(grants: VideoGrants, _req: Any) -> bool:
    return bool(grants.room_create)


def _can_list(grants: VideoGrants, _req: Any) -> bool:
    return bool(grants.room_list)


def _can_admin_room(grants: VideoGrants, req: Any) -> bool:
    return bool(grants.room_admin) and grants.room == req.room
