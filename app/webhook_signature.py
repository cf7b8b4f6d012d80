"""LiveKit's webhook signature, checked with the key's HMAC prepared once.

LiveKit signs each webhook with a JWT in `Authorization` (HS256, its API key
as `iss`, a `sha256` claim holding the base64 SHA-256 of the raw body).
livekit-api's WebhookReceiver checks it with PyJWT, which for every delivery
prepares the key, decodes the header and payload before the signature, and
builds livekit-api's Claims (every grant type) only to read `sha256`: about
5% of the server's samples under webhook load (py-spy). Here the HMAC is
computed from a copy of one keyed object, the signature is compared before
anything is decoded, and only the claims that decide are read.

For every token LiveKit signs, the same answer as WebhookReceiver with
livekit-api's TokenVerifier: an HS256 token whose signature holds, in
canonical base64url, with a JSON object for header and payload; `exp`
required and not past (60 s of leeway, as TokenVerifier allows); `nbf` and
`iat`, when present, not in the future; `iss` the API key; no `aud`; `sub`
and `jti` strings when present; and a `sha256` claim equal to the body's
digest. It also refuses a `crit` or `b64` header, which LiveKit never sends.
Claims it does not need (the grants) it does not read, where livekit-api
fails on a grant of the wrong shape: a difference only a holder of the
secret can make. tests/app/test_webhook_signature.py holds the two to the
same answers, token by token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

# TokenVerifier's default leeway (livekit-api's DEFAULT_LEEWAY).
LEEWAY_SECONDS = 60.0
ALGORITHM = "HS256"


class SignatureError(Exception):
    """The signature is missing, invalid, expired, or not over this body."""


def _segment(segment: bytes) -> bytes:
    """A base64url segment decoded, refused unless canonical (as PyJWT 2.15)."""
    stripped = segment.rstrip(b"=")
    padding = len(segment) - len(stripped)
    if padding > 2 or (padding and len(segment) % 4) or len(stripped) % 4 == 1:
        raise SignatureError("bad base64url")
    try:
        decoded = base64.urlsafe_b64decode(stripped + b"=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError):
        raise SignatureError("bad base64url") from None
    # Also refuses characters outside the alphabet, which the decoder skips.
    if base64.urlsafe_b64encode(decoded).rstrip(b"=") != stripped:
        raise SignatureError("bad base64url")
    return decoded


def _object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        raise SignatureError("not JSON") from None
    if not isinstance(value, dict):
        raise SignatureError("not a JSON object")
    return value


def _seconds(value: Any) -> int:
    try:
        return int(value)  # as PyJWT reads exp, nbf and iat
    except (ValueError, TypeError, OverflowError):
        raise SignatureError("a time claim is not an integer") from None


class WebhookSignature:
    """Checks LiveKit's webhook signatures for one API key and secret."""

    def __init__(self, api_key: str, api_secret: str, clock: Callable[[], float] = time.time):
        self._key = api_key
        # Without both, nothing is LiveKit's signature (an empty secret's HMAC is
        # anyone's); TokenVerifier refuses every token then too.
        self._usable = bool(api_key) and bool(api_secret)
        self._mac = hmac.new(api_secret.encode(), digestmod=hashlib.sha256)
        self._clock = clock

    def check(self, body: bytes, authorization: str) -> None:
        """Return if `authorization` is LiveKit's signature over `body`; else SignatureError."""
        if not self._usable:
            raise SignatureError("no API key and secret to check against")
        try:
            token = authorization.encode("ascii")
        except UnicodeEncodeError:
            raise SignatureError("not a JWT") from None
        signing_input, _, signature = token.rpartition(b".")
        header_segment, dot, payload_segment = signing_input.partition(b".")
        if not dot:
            raise SignatureError("not a JWT")
        mac = self._mac.copy()
        mac.update(signing_input)
        if not hmac.compare_digest(mac.digest(), _segment(signature)):
            raise SignatureError("signature does not verify")
        header = _object(_segment(header_segment))
        if header.get("alg") != ALGORITHM or "crit" in header or "b64" in header:
            raise SignatureError("not an HS256 token")
        if "kid" in header and not isinstance(header["kid"], str):
            raise SignatureError("bad kid")
        self._claims(_object(_segment(payload_segment)), body)

    def _claims(self, claims: dict[str, Any], body: bytes) -> None:
        now = self._clock()
        if claims.get("exp") is None:
            raise SignatureError("no exp")
        if "iat" in claims and _seconds(claims["iat"]) > now + LEEWAY_SECONDS:
            raise SignatureError("issued in the future")
        if "nbf" in claims and _seconds(claims["nbf"]) > now + LEEWAY_SECONDS:
            raise SignatureError("not valid yet")
        if _seconds(claims["exp"]) <= now - LEEWAY_SECONDS:
            raise SignatureError("expired")
        if claims.get("iss") != self._key:  # the key is a non-empty string
            raise SignatureError("another issuer")
        if claims.get("aud"):
            raise SignatureError("an audience")
        for name in ("sub", "jti"):
            if name in claims and not isinstance(claims[name], str):
                raise SignatureError(f"{name} is not a string")
        digest = claims.get("sha256")
        if not digest or not isinstance(digest, str):
            raise SignatureError("no sha256")
        try:
            # As WebhookReceiver decodes it (standard alphabet, lenient).
            expected = base64.b64decode(digest)
        except (binascii.Error, ValueError):
            raise SignatureError("sha256 is not base64") from None
        if not hmac.compare_digest(hashlib.sha256(body).digest(), expected):
            raise SignatureError("sha256 does not match the body")
