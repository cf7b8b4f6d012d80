"""Join tokens minted from claims built directly: the same claims livekit-api's
AccessToken makes for the same inputs, and a token the npm SDK's verifier accepts.

The reference is the gateway's former minting (AccessToken, built exactly as it
was), run at the same frozen instant as ours, so even `nbf`/`exp` must agree.
The npm check runs `node` against node_modules' `livekit-server-sdk`: skipped
locally when either is missing, a failure under CI=true (as the chain tests).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import shutil
import subprocess
import types
from pathlib import Path
from typing import Any

import jwt
import pytest
from livekit import api
from livekit.api import access_token
from livekit.protocol.room import RoomConfiguration

from app.livekit_claims import ROLE_GRANTS, HS256Signer, fixed_claims, join_claims
from app.livekit_gateway import LiveKitGateway, RoomConfig, TokenRequest
from tests.support.settings import LIVEKIT_KEY, LIVEKIT_SECRET, make_settings

ROOT = Path(__file__).resolve().parent.parent.parent
SDK = ROOT / "node_modules" / "livekit-server-sdk"
# A fractional second: both sides must truncate it the same way.
FROZEN = 1_767_268_800.75

ROOMS = [
    RoomConfig("standup", 600, 20, 10_000, None),
    # Every number at protobuf's default and empty metadata: left out of roomConfig.
    RoomConfig("bare", 0, 0, 0, ""),
    RoomConfig("salle-é", 60, 5, 2, '{"topic": "ünïcode", "n": 1}'),
]
NAMES = [None, "", "Alice", "Zoë 🎤"]
METADATA = [None, "", '{"wallet": "0xabc"}']
ATTRIBUTES: list[dict[str, str] | None] = [None, {}, {"team": "blue", "empty": ""}]
TTLS = [10, 600, 86_400]


def reference_token(room: RoomConfig, request: TokenRequest) -> str:
    """What the gateway minted before: livekit-api's AccessToken, built as it was."""
    role = ROLE_GRANTS[request.role]
    grants = api.VideoGrants(
        room_join=True,
        room=room.name,
        room_admin=role.room_admin or None,
        can_publish=role.can_publish,
        can_subscribe=True,
        can_publish_data=True,
    )
    token = (
        api.AccessToken(LIVEKIT_KEY, LIVEKIT_SECRET)
        .with_identity(request.identity)
        .with_grants(grants)
        .with_ttl(dt.timedelta(seconds=request.ttl_seconds))
        .with_room_config(
            RoomConfiguration(
                name=room.name,
                empty_timeout=room.empty_timeout,
                departure_timeout=room.departure_timeout,
                max_participants=room.max_participants,
                metadata=room.metadata or "",
            )
        )
    )
    if request.name:
        token.with_name(request.name)
    if request.metadata:
        token.with_metadata(request.metadata)
    if request.attributes:
        token.with_attributes(request.attributes)
    return token.to_jwt()


@pytest.fixture
def frozen_livekit(monkeypatch: pytest.MonkeyPatch) -> None:
    """AccessToken's clock (`datetime.datetime.now` in its module) stopped at FROZEN."""

    class Frozen(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Frozen:
            return cls.fromtimestamp(FROZEN, tz)

    shim = types.SimpleNamespace(datetime=Frozen, timezone=dt.timezone, timedelta=dt.timedelta)
    monkeypatch.setattr(access_token, "datetime", shim)


@pytest.fixture
def gateway() -> LiveKitGateway:
    return LiveKitGateway(make_settings("sqlite://:memory:"), clock=lambda: FROZEN)


def decode(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        token,
        LIVEKIT_SECRET,
        algorithms=["HS256"],
        issuer=LIVEKIT_KEY,
        options={"verify_exp": False, "verify_nbf": False},
    )
    return claims


def canonical(claims: dict[str, Any]) -> str:
    """Claims compared with their JSON types (in Python `1 == True`), key order aside."""
    return json.dumps(claims, sort_keys=True)


def requests_for(role: str) -> list[TokenRequest]:
    """Every combination of the optional fields, for one role."""
    return [
        TokenRequest(f"user-{i}", name, role, metadata, attributes, ttl)
        for i, (name, metadata, attributes, ttl) in enumerate(
            itertools.product(NAMES, METADATA, ATTRIBUTES, TTLS)
        )
    ]


@pytest.mark.usefixtures("frozen_livekit")
@pytest.mark.parametrize("room", ROOMS, ids=[r.name for r in ROOMS])
@pytest.mark.parametrize("role", sorted(ROLE_GRANTS))
def test_claims_are_access_tokens(gateway: LiveKitGateway, room: RoomConfig, role: str) -> None:
    for request in requests_for(role):
        ours, expires_at = gateway.mint_token(room, request)
        theirs = reference_token(room, request)
        claims = decode(ours)
        assert canonical(claims) == canonical(decode(theirs)), request
        assert claims["nbf"] == int(FROZEN)
        assert claims["exp"] == int(FROZEN) + request.ttl_seconds
        assert expires_at == dt.datetime.fromtimestamp(claims["exp"], tz=dt.UTC)
        # Stricter than the contract (key order is free): same order, same bytes.
        # After a livekit-api upgrade a failure here alone means only the order moved.
        assert ours == theirs, request


def test_claims_read_back_through_livekits_verifier(gateway: LiveKitGateway) -> None:
    """livekit-api's own TokenVerifier reads every field back (camelCase names right)."""
    room = ROOMS[2]
    request = TokenRequest("alice", "Alice", "host", "m", {"k": "v"}, 600)
    live = LiveKitGateway(make_settings("sqlite://:memory:"))  # wall clock: exp is checked
    token, _ = live.mint_token(room, request)
    claims = api.TokenVerifier(LIVEKIT_KEY, LIVEKIT_SECRET).verify(token)
    assert (claims.identity, claims.name, claims.metadata) == ("alice", "Alice", "m")
    assert claims.attributes == {"k": "v"}
    assert claims.video == api.VideoGrants(
        room_admin=True, room_join=True, room=room.name, can_publish=True
    )
    assert claims.room_config == RoomConfiguration(
        name=room.name,
        empty_timeout=60,
        departure_timeout=5,
        max_participants=2,
        metadata=room.metadata,
    )


def test_fixed_claims_are_prepared_once_per_configuration_and_role() -> None:
    room = RoomConfig("cached", 600, 20, 50, None)
    first = fixed_claims(room, "speaker")
    # An equal configuration (the actor makes a new RoomConfig per request) hits the cache.
    assert fixed_claims(RoomConfig("cached", 600, 20, 50, None), "speaker") is first
    assert fixed_claims(room, "viewer") is not first
    changed = fixed_claims(RoomConfig("cached", 600, 20, 51, None), "speaker")
    assert changed[1]["maxParticipants"] == 51
    assert first[1]["maxParticipants"] == 50


def test_minting_leaves_the_shared_claims_untouched(gateway: LiveKitGateway) -> None:
    room = ROOMS[0]
    video, room_config = (json.dumps(part) for part in fixed_claims(room, "host"))
    gateway.mint_token(room, TokenRequest("a", "A", "host", "m", {"k": "v"}, 60))
    assert [json.dumps(part) for part in fixed_claims(room, "host")] == [video, room_config]


@pytest.mark.usefixtures("frozen_livekit")
def test_a_join_without_identity_is_refused_as_access_token_refuses_it() -> None:
    request = TokenRequest("", None, "speaker", None, None, 60)
    with pytest.raises(ValueError, match="identity and room"):
        reference_token(ROOMS[0], request)
    with pytest.raises(ValueError, match="identity and room"):
        join_claims(LIVEKIT_KEY, ROOMS[0], request, int(FROZEN))


@pytest.mark.parametrize("secret", [LIVEKIT_SECRET, "secret", "sécret-ünïcode-0123456789-abcdef"])
def test_the_prepared_signer_signs_as_pyjwt_does(secret: str) -> None:
    """The same bytes as `jwt.encode(claims, secret, "HS256")`, for any claims a
    join token has (text beyond ASCII included), and a short dev secret."""
    signer = HS256Signer(secret)
    for claims in (
        {},
        {"sub": "a", "nbf": 1, "exp": 2},
        {"name": "Zoë 🎤", "video": {"roomJoin": True, "room": "salle-é"}, "attributes": {}},
        {"metadata": '{"k": "\\u0000 \\" /"}', "roomConfig": {"maxParticipants": 3}},
    ):
        with pytest.warns() if len(secret) < 32 else contextlib.nullcontext():
            expected = jwt.encode(claims, secret, algorithm="HS256")
        assert signer.sign(claims) == expected


# -- the npm SDK's verifier ------------------------------------------------------------

# Verifies each token (signature, issuer, exp/nbf, as LiveKit's Node SDK does) and
# parses its roomConfig with the protocol's strict JSON reader (unknown names fail).
NODE_VERIFY = """
const { TokenVerifier, RoomConfiguration } = require('livekit-server-sdk');
const [key, secret, tokens] = process.argv.slice(1);
const verifier = new TokenVerifier(key, secret);
Promise.all(JSON.parse(tokens).map(async (token) => {
  try {
    const claims = await verifier.verify(token);
    RoomConfiguration.fromJson(claims.roomConfig);
    return claims;
  } catch (error) {
    return { rejected: String(error) };
  }
})).then((out) => process.stdout.write(JSON.stringify(out)));
"""


def _node_unavailable(reason: str) -> None:
    message = f"the npm livekit-server-sdk verifier is unavailable: {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (under CI it must be; `make test` runs npm ci)")
    pytest.skip(message + " (run `make npm-install`)")


def node_verify(tokens: list[str]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        _node_unavailable("`node` is not installed")
    if not SDK.is_dir():
        _node_unavailable("node_modules/livekit-server-sdk is missing")
    done = subprocess.run(
        [str(node), "-e", NODE_VERIFY, LIVEKIT_KEY, LIVEKIT_SECRET, json.dumps(tokens)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    verified: list[dict[str, Any]] = json.loads(done.stdout)
    return verified


def test_the_npm_sdk_verifier_accepts_our_tokens() -> None:
    gateway = LiveKitGateway(make_settings("sqlite://:memory:"))  # wall clock: exp is checked
    tokens = [
        gateway.mint_token(room, request)[0]
        for room in ROOMS
        for role in sorted(ROLE_GRANTS)
        for request in (
            TokenRequest("plain", None, role, None, None, 600),
            TokenRequest("full", "Zoë 🎤", role, '{"w": "0xabc"}', {"k": "v", "e": ""}, 60),
        )
    ]
    forged = jwt.encode(decode(tokens[0]), "another-secret-0123456789abcdef-0123", "HS256")

    verified = node_verify([*tokens, forged])

    assert verified[:-1] == [decode(token) for token in tokens]
    assert "rejected" in verified[-1]
