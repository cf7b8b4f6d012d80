"""A LiveKit join token's claims, built directly and signed once.

livekit-api's `AccessToken.to_jwt` rebuilds every claim on every call
(`dataclasses.asdict`, which deep-copies each field, then a protobuf-to-dict
conversion of the room configuration), and its `exp` comes from its own clock,
so the caller had to decode the token again to learn it. On the token route
that was most of the cost of minting. Here:

- what depends only on the room's configuration and the role (the `video`
  grant and `roomConfig`) is built once per (configuration, role) and reused;
- per request only `name`, `metadata`, `attributes`, `sub`, `iss`, `nbf` and
  `exp` are added, with `nbf`/`exp` from one reading of our clock, so the
  expiry is known without decoding anything;
- the claims are signed once, with HS256 as livekit-api signs them (PyJWT):
  the header's segment and the key's HMAC are prepared once per secret
  (`HS256Signer`), where PyJWT builds and checks both for every token.

The claims are AccessToken's for the same inputs, in the same key order, so
for the same second the token is byte for byte the one AccessToken mints;
tests/app/test_minting.py holds them to that for every role and optional field.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import jwt
from google.protobuf.json_format import MessageToDict
from livekit.protocol.room import RoomConfiguration

from actors.room.livekit import RoomConfig, TokenRequest
from app.livekit_secret import short_secret_accepted

# Rooms x roles whose fixed claims stay prepared. A miss only costs one
# protobuf conversion, so the bound is about memory (metadata can be kilobytes).
FIXED_CLAIMS_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class RoleGrants:
    room_admin: bool
    can_publish: bool


# Everyone subscribes and sends data; a viewer cannot publish media; a host administers.
ROLE_GRANTS: dict[str, RoleGrants] = {
    "host": RoleGrants(room_admin=True, can_publish=True),
    "speaker": RoleGrants(room_admin=False, can_publish=True),
    "viewer": RoleGrants(room_admin=False, can_publish=False),
}

# A claim value shared by every token of one (configuration, role): never mutated.
Fixed = tuple[dict[str, Any], dict[str, Any]]


@functools.lru_cache(maxsize=FIXED_CLAIMS_CACHE_SIZE)
def fixed_claims(room: RoomConfig, role: str) -> Fixed:
    """The `video` grant and `roomConfig` of a join token, as AccessToken writes them.

    AccessToken leaves out None and "" (not False), names fields in camelCase,
    and keeps VideoGrants' field order; a non-host's `room_admin` is None, so
    absent. `roomConfig` is protobuf's own JSON mapping (defaults left out), made
    by the same MessageToDict, once per configuration instead of per token.
    """
    grants = ROLE_GRANTS[role]
    video: dict[str, Any] = {}
    if grants.room_admin:
        video["roomAdmin"] = True
    video["roomJoin"] = True
    if room.name:
        video["room"] = room.name
    video["canPublish"] = grants.can_publish
    video["canSubscribe"] = True
    video["canPublishData"] = True
    room_config = MessageToDict(
        RoomConfiguration(
            name=room.name,
            empty_timeout=room.empty_timeout,
            departure_timeout=room.departure_timeout,
            max_participants=room.max_participants,
            metadata=room.metadata or "",
        )
    )
    return video, room_config


def join_claims(key: str, room: RoomConfig, request: TokenRequest, now: int) -> dict[str, Any]:
    """The claims of a join token issued at `now` (whole seconds since the epoch)."""
    if not request.identity or not room.name:
        # AccessToken refuses a room join without either; so do we.
        raise ValueError("identity and room must be set when joining a room")
    video, room_config = fixed_claims(room, request.role)
    # AccessToken's key order (Claims' fields, then the registered claims), so
    # the payload, and with it the token, is the same bytes.
    claims: dict[str, Any] = {}
    if request.name:
        claims["name"] = request.name
    if request.metadata:
        claims["metadata"] = request.metadata
    claims["video"] = video
    if request.attributes:
        claims["attributes"] = request.attributes
    claims["roomConfig"] = room_config
    claims["sub"] = request.identity
    claims["iss"] = key
    claims["nbf"] = now
    claims["exp"] = now + request.ttl_seconds
    return claims


def _segment(data: bytes) -> bytes:
    """Base64url without padding, as PyJWT encodes each segment."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")


class HS256Signer:
    """HS256 with one secret, the same bytes as PyJWT's `jwt.encode(claims, secret, "HS256")`.

    PyJWT, per token, builds and sorts the header, prepares the key (type
    checks, a PEM sniff) and checks its length. Here the header's segment is
    PyJWT's own (taken from a token it signed) and the key's HMAC is keyed
    once; each token copies it. The payload is encoded as PyJWT encodes it
    (compact separators, ASCII). The claims must already be JSON values with
    integer times, as `join_claims` makes them.
    """

    def __init__(self, secret: str) -> None:
        # A short secret is reported once, by the gateway; not here again.
        with short_secret_accepted(secret):
            reference = jwt.encode({}, secret, algorithm="HS256")
        self._header = reference.split(".", 1)[0].encode("ascii") + b"."
        self._mac = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)

    def sign(self, claims: dict[str, Any]) -> str:
        payload = json.dumps(claims, separators=(",", ":")).encode("utf-8")
        signing_input = self._header + _segment(payload)
        mac = self._mac.copy()
        mac.update(signing_input)
        return (signing_input + b"." + _segment(mac.digest())).decode("ascii")
