"""Standard Webhooks signatures (https://www.standardwebhooks.com), as DESIGN section 7 says.

A receiver verifies with any Standard Webhooks library: HMAC-SHA256 over
`{webhook-id}.{webhook-timestamp}.{body}`, keyed by the base64-decoded secret
after `whsec_`, sent as `v1,<base64>`. During a rotation both the new and the
old secret sign, space-separated, so a receiver holding either one verifies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from secrets import token_bytes

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
# The spec asks for 24 to 64 bytes; 32 is SHA-256's own size, and more adds no strength.
SECRET_BYTES = 32
_MIN_SECRET_BYTES = 24

WEBHOOK_ID = "webhook-id"
WEBHOOK_TIMESTAMP = "webhook-timestamp"
WEBHOOK_SIGNATURE = "webhook-signature"


class InvalidSecretError(ValueError):
    """A secret that is not `whsec_` + base64 of at least 24 bytes."""


def new_secret() -> str:
    """A fresh endpoint secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key a secret stands for (its bytes after `whsec_`)."""
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSecretError(f"a webhook secret starts with {SECRET_PREFIX!r}")
    try:
        # validate=True: a typo must fail here, not silently sign with other bytes.
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error as error:
        raise InvalidSecretError(f"a webhook secret is base64 after the prefix: {error}") from None
    if len(key) < _MIN_SECRET_BYTES:
        raise InvalidSecretError(f"a webhook secret has at least {_MIN_SECRET_BYTES} bytes")
    return key


def _signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def sign(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: one `v1,` entry per secret, space-separated.

    `body` is the exact bytes sent: the signature covers them, not a re-encoding.
    `timestamp` is Unix seconds of this attempt (receivers refuse ones more
    than 5 minutes off, so a retry is signed again, never replayed).
    """
    if not secrets:
        raise InvalidSecretError("at least one secret signs")
    if not msg_id or any(c.isspace() for c in msg_id):
        # It goes in a header and in the signed text: it must survive both intact.
        raise ValueError("a webhook id is non-empty, without whitespace")
    return " ".join(_signature(secret_key(s), msg_id, timestamp, body) for s in secrets)


def headers(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Every header of one delivery attempt of `body` (a JSON document)."""
    return {
        "Content-Type": "application/json",
        WEBHOOK_ID: msg_id,
        WEBHOOK_TIMESTAMP: str(timestamp),
        WEBHOOK_SIGNATURE: sign(secrets, msg_id, timestamp, body),
    }
