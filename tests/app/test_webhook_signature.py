"""Our webhook signature check against livekit-api's WebhookReceiver, token by token.

Each row is a token (LiveKit's own, or one crafted to break one rule) and the
body it comes with; both checks must give the row's answer. Times sit at least
30 s from any boundary, so the real clock both read cannot tip a row.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from livekit import api

from app.webhook_signature import SignatureError, WebhookSignature
from tests.support.settings import LIVEKIT_KEY, LIVEKIT_SECRET
from tests.support.webhooks import sign

BODY = b'{"event":"room_started","id":"EV_1","room":{"name":"r","sid":"RM_1"}}'
HEADER = {"alg": "HS256", "typ": "JWT"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _digest(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def craft(
    claims: dict[str, Any],
    *,
    header: dict[str, Any] | None = None,
    secret: str = LIVEKIT_SECRET,
    raw_header: bytes | None = None,
    raw_claims: bytes | None = None,
    pad: str = "",
) -> str:
    """A JWT signed with HMAC-SHA256 over exactly what is given (nothing checked)."""
    head = _b64(raw_header if raw_header is not None else json.dumps(header or HEADER).encode())
    body = _b64(raw_claims if raw_claims is not None else json.dumps(claims).encode())
    if pad == "canonical":  # '=' up to a multiple of 4, which PyJWT accepts
        head += "=" * (-len(head) % 4)
    elif pad == "extra":  # one '=' too many
        head += "=" * (-len(head) % 4) + "="
    signing_input = f"{head}.{body}".encode()
    mac = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(mac)}"


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": LIVEKIT_KEY,
        "nbf": now,
        "exp": now + 600,
        "sub": "",
        "sha256": _digest(BODY),
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP = object()


@dataclass(frozen=True)
class Row:
    name: str
    token: Callable[[], str]
    accepted: bool
    body: bytes = BODY


ROWS = [
    Row("as LiveKit signs it", lambda: sign(BODY), True),
    Row("crafted, every rule kept", lambda: craft(claims()), True),
    Row("another body", lambda: sign(b'{"event":"room_finished"}'), False),
    Row("signed with another secret", lambda: craft(claims(), secret="not-the-secret"), False),
    Row("expired long ago", lambda: craft(claims(exp=int(time.time()) - 120)), False),
    Row("expired within the leeway", lambda: craft(claims(exp=int(time.time()) - 30)), True),
    Row("no exp", lambda: craft(claims(exp=_DROP)), False),
    Row("exp null", lambda: craft(claims(exp=None)), False),
    Row("exp not a number", lambda: craft(claims(exp="soon")), False),
    Row("exp a numeric string", lambda: craft(claims(exp=str(int(time.time()) + 600))), True),
    Row("nbf in the future", lambda: craft(claims(nbf=int(time.time()) + 120)), False),
    Row("nbf within the leeway", lambda: craft(claims(nbf=int(time.time()) + 30)), True),
    Row("nbf not a number", lambda: craft(claims(nbf=[1])), False),
    Row("iat in the future", lambda: craft(claims(iat=int(time.time()) + 120)), False),
    Row("iat in the past", lambda: craft(claims(iat=int(time.time()) - 120)), True),
    Row("another issuer", lambda: craft(claims(iss="someone-else")), False),
    Row("no issuer", lambda: craft(claims(iss=_DROP)), False),
    Row("issuer not a string", lambda: craft(claims(iss=7)), False),
    Row("an audience", lambda: craft(claims(aud="livekit")), False),
    Row("an empty audience", lambda: craft(claims(aud="")), True),
    Row("sub not a string", lambda: craft(claims(sub=5)), False),
    Row("jti not a string", lambda: craft(claims(jti=5)), False),
    Row("jti a string", lambda: craft(claims(jti="j1")), True),
    Row("no sha256", lambda: craft(claims(sha256=_DROP)), False),
    Row("empty sha256", lambda: craft(claims(sha256="")), False),
    Row("sha256 of another body", lambda: craft(claims(sha256=_digest(b"{}"))), False),
    Row("sha256 not base64", lambda: craft(claims(sha256="!!notbase64")), False),
    Row("sha256 not a string", lambda: craft(claims(sha256=12)), False),
    Row("alg HS512", lambda: craft(claims(), header={"alg": "HS512", "typ": "JWT"}), False),
    Row("alg none", lambda: craft(claims(), header={"alg": "none"}), False),
    Row("no alg", lambda: craft(claims(), header={"typ": "JWT"}), False),
    Row("kid a string", lambda: craft(claims(), header={**HEADER, "kid": "k"}), True),
    Row("kid not a string", lambda: craft(claims(), header={**HEADER, "kid": 1}), False),
    Row("header not an object", lambda: craft(claims(), raw_header=b"[1]"), False),
    Row("header not JSON", lambda: craft(claims(), raw_header=b"{alg"), False),
    Row("claims not an object", lambda: craft({}, raw_claims=b'"x"'), False),
    Row("claims not JSON", lambda: craft({}, raw_claims=b"{exp"), False),
    Row("header padded", lambda: craft(claims(), header={"alg": "HS256"}, pad="canonical"), True),
    Row("header padded wrongly", lambda: craft(claims(), pad="extra"), False),
    Row("tampered claims", lambda: _swap_claims(craft(claims()), claims(sub="x")), False),
    Row("two segments", lambda: craft(claims()).rsplit(".", 1)[0], False),
    Row("one segment", lambda: "abc", False),
    Row("empty", lambda: "", False),
    Row("not ASCII", lambda: craft(claims()) + "é", False),
    Row("junk in the signature", lambda: craft(claims())[:-2] + "!!", False),
]


def _swap_claims(token: str, new: dict[str, Any]) -> str:
    head, _, signature = token.split(".")
    return f"{head}.{_b64(json.dumps(new).encode())}.{signature}"


def _theirs(body: bytes, token: str) -> bool:
    receiver = api.WebhookReceiver(api.TokenVerifier(LIVEKIT_KEY, LIVEKIT_SECRET))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the dev secret is short
            receiver.receive(body.decode(), token)
    except Exception:
        return False
    return True


def _ours(body: bytes, token: str) -> bool:
    try:
        WebhookSignature(LIVEKIT_KEY, LIVEKIT_SECRET).check(body, token)
    except SignatureError:
        return False
    return True


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_our_check_answers_as_livekit_api_does(row: Row) -> None:
    token = row.token()
    assert _theirs(row.body, token) is row.accepted
    assert _ours(row.body, token) is row.accepted


def test_the_clock_decides_expiry_with_livekit_api_s_leeway() -> None:
    token = craft(claims(exp=1_000_000, nbf=_DROP))
    at = [0.0]
    check = WebhookSignature(LIVEKIT_KEY, LIVEKIT_SECRET, clock=lambda: at[0])
    for now, accepted in ((1_000_000 + 59, True), (1_000_000 + 60, False), (999_000, True)):
        at[0] = now
        if accepted:
            check.check(BODY, token)
        else:
            with pytest.raises(SignatureError):
                check.check(BODY, token)


@pytest.mark.parametrize(("key", "secret"), [("", ""), (LIVEKIT_KEY, ""), ("", LIVEKIT_SECRET)])
def test_without_a_key_and_a_secret_nothing_is_livekit_s_signature(key: str, secret: str) -> None:
    # A token signed with the empty secret, as a forger would sign it.
    token = craft(claims(iss=key), secret=secret)
    with pytest.raises(ValueError, match="must be set"):
        api.TokenVerifier(key, secret).verify(token)
    with pytest.raises(SignatureError):
        WebhookSignature(key, secret).check(BODY, token)
