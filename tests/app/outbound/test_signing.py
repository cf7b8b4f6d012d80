"""Our webhook signatures verify with PyPI's `standardwebhooks`, not with code of ours (issue 25).

A receiver uses a Standard Webhooks library: if it accepts what we send, and
refuses a tampered body, another secret or an old timestamp, so will theirs.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.outbound.signing import InvalidSecretError, headers, new_secret, sign

BODY = json.dumps(
    {"type": "participant.joined", "timestamp": "2025-01-01T00:00:00Z", "data": {"room": "a"}}
).encode()


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert new_secret() != secret


def test_one_secret_verifies() -> None:
    secret = new_secret()
    sent = headers([secret], "evt_1", int(time.time()), BODY)
    assert sent["Content-Type"] == "application/json"
    assert sent["webhook-id"] == "evt_1"
    assert sent["webhook-signature"].startswith("v1,")
    assert " " not in sent["webhook-signature"]
    assert Webhook(secret).verify(BODY, sent) == json.loads(BODY)


def test_during_a_rotation_each_secret_alone_verifies() -> None:
    new, old = new_secret(), new_secret()
    sent = headers([new, old], "evt_2", int(time.time()), BODY)
    assert len(sent["webhook-signature"].split(" ")) == 2
    assert all(entry.startswith("v1,") for entry in sent["webhook-signature"].split(" "))
    # A receiver still holding the old secret and one already given the new one.
    Webhook(old).verify(BODY, sent)
    Webhook(new).verify(BODY, sent)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, sent)


def test_a_tampered_body_fails() -> None:
    secret = new_secret()
    sent = headers([secret], "evt_3", int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b'"a"', b'"b"'), sent)


def test_another_id_fails() -> None:
    secret = new_secret()
    sent = headers([secret], "evt_4", int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, {**sent, "webhook-id": "evt_5"})


def test_a_wrong_secret_fails() -> None:
    sent = headers([new_secret()], "evt_6", int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, sent)


def test_an_old_timestamp_fails() -> None:
    # Receivers allow 5 minutes: a retry is signed afresh, never replayed.
    secret = new_secret()
    sent = headers([secret], "evt_7", int(time.time()) - 600, BODY)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(BODY, sent)


def test_the_exact_bytes_are_signed() -> None:
    # Non-ASCII JSON as sent (ensure_ascii=False): signed byte for byte, not re-encoded.
    body = json.dumps({"data": {"name": "Zoë ☃"}}, ensure_ascii=False).encode()
    secret = new_secret()
    sent = headers([secret], "evt_8", int(time.time()), body)
    assert Webhook(secret).verify(body, sent)["data"]["name"] == "Zoë ☃"


def test_the_signature_is_the_reference_one() -> None:
    # The same bytes as the library's own signer, for one secret and for two.
    first, second = new_secret(), new_secret()
    stamp = int(time.time())
    expected = [
        Webhook(secret).sign("evt_9", datetime.fromtimestamp(stamp, tz=UTC), BODY)
        for secret in (first, second)
    ]
    assert sign([first], "evt_9", stamp, BODY) == expected[0]
    assert sign([first, second], "evt_9", stamp, BODY) == " ".join(expected)


@pytest.mark.parametrize(
    "secret",
    [
        "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0",  # no prefix
        "whsec_not base64!",
        "whsec_" + base64.b64encode(b"x" * 16).decode(),  # fewer than 24 bytes
    ],
)
def test_a_malformed_secret_is_refused(secret: str) -> None:
    with pytest.raises(InvalidSecretError):
        sign([secret], "evt_10", int(time.time()), BODY)


def test_no_secret_or_a_bad_id_is_refused() -> None:
    with pytest.raises(InvalidSecretError):
        sign([], "evt_11", int(time.time()), BODY)
    with pytest.raises(ValueError, match="webhook id"):
        sign([new_secret()], "evt 12", int(time.time()), BODY)
