"""Rate limits (DESIGN.md section 12): sign-in per client address; room creation
and token requests per wallet and per client address; services spared; the
client address from X-Forwarded-For only through a trusted proxy.

Each request names its peer (the ASGI scope's `client`, what Hypercorn fills
in). The windows are long (minutes, hours), so no test depends on timing, except
one that waits the second `Retry-After` says and is then let in.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from quart.wrappers import Response

from app.http.rate_limits import UNKNOWN_PEER, client_address
from app.settings import Settings, load_settings
from app.settings_checks import RateLimit, parse_networks, parse_rate_limit
from app.settings_errors import SettingsError
from tests.conftest import Client, Running, app_running
from tests.support.clock import FakeClock
from tests.support.settings import AUTH, GENEROUS_RATE_LIMIT, make_settings
from tests.support.wallets import SIWE_DOMAIN, Wallet, new_account, sign_text, siwe_text
from tests.test_startup import lines_of, run_app

PEER_A = "203.0.113.10"
PEER_B = "203.0.113.20"
PEER_C = "203.0.113.30"
# Where wallets sign in from, so the sign-in budget of the peers above stays untouched.
SIGN_IN_PEER = "198.51.100.200"
PROXY = "10.1.2.3"


def limited_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "siwe_domain": SIWE_DOMAIN,
        "rate_limit_signin": "3/minute",
        "rate_limit_rooms": "2/hour",
        "rate_limit_tokens": "2/minute",
    }
    values.update(overrides)
    return make_settings(database_url, **values)


@pytest.fixture
async def app(database_url: str, clock: FakeClock) -> AsyncIterator[Running]:
    async with app_running(limited_settings(database_url), clock) as instance:
        yield instance


async def call(
    client: Client,
    path: str,
    peer: str,
    *,
    headers: dict[str, str] | None = None,
    json: object = None,
    forwarded_for: str | None = None,
) -> Response:
    """POST `path` as if from `peer` (with X-Forwarded-For if given)."""
    sent = dict(headers or {})
    if forwarded_for is not None:
        sent["X-Forwarded-For"] = forwarded_for
    response: Response = await client.open(
        path,
        method="POST",
        headers=sent,
        json=json,
        scope_base={"client": (peer, 50_000)},
    )
    return response


async def sign_in_at(client: Client, now: dt.datetime, peer: str = SIGN_IN_PEER) -> Wallet:
    account = new_account()
    issued = await call(client, "/v1/auth/nonce", peer)
    assert issued.status_code == 200, await issued.get_data(as_text=True)
    text = siwe_text(account.address, (await issued.get_json())["nonce"], now)
    response = await call(
        client, "/v1/auth/siwe", peer, json={"message": text, "signature": sign_text(account, text)}
    )
    body = await response.get_json()
    assert response.status_code == 200, body
    return Wallet(address=body["address"], token=body["token"])


async def assert_rate_limited(response: Response, whose: str | None = None) -> int:
    """The one error shape, code `rate_limited`, an integer Retry-After; returns it."""
    assert response.status_code == 429, await response.get_data(as_text=True)
    body = await response.get_json()
    assert set(body) == {"detail", "code"}
    assert body["code"] == "rate_limited"
    if whose is not None:
        assert f"from {whose}:" in body["detail"], body["detail"]
    retry_after = response.headers["Retry-After"]
    assert re.fullmatch(r"[0-9]+", retry_after), retry_after
    return int(retry_after)


# -- sign-in -------------------------------------------------------------------------


async def test_nonce_and_siwe_share_one_budget_per_address(app: Running, clock: FakeClock) -> None:
    client = app.client()
    # Three from A: two nonces and a sign-in (which spends a third).
    account = new_account()
    nonce = (await (await call(client, "/v1/auth/nonce", PEER_A)).get_json())["nonce"]
    assert (await call(client, "/v1/auth/nonce", PEER_A)).status_code == 200
    text = siwe_text(account.address, nonce, clock.now())
    signed = {"message": text, "signature": sign_text(account, text)}
    assert (await call(client, "/v1/auth/siwe", PEER_A, json=signed)).status_code == 200
    # The fourth, of either kind, is refused.
    retry_after = await assert_rate_limited(
        await call(client, "/v1/auth/nonce", PEER_A), "this address"
    )
    assert 1 <= retry_after <= 60
    await assert_rate_limited(await call(client, "/v1/auth/siwe", PEER_A, json=signed))
    # Another address has its own budget.
    assert (await call(client, "/v1/auth/nonce", PEER_B)).status_code == 200
    # Counted in the metrics, by budget only.
    metrics = app.services.metrics.render().decode()
    assert 'qari_rate_limited_total{budget="signin"} 2.0' in metrics
    assert 'qari_rate_limited_total{budget="rooms"} 0.0' in metrics


async def test_after_retry_after_the_client_is_let_in(database_url: str, clock: FakeClock) -> None:
    # The one test that waits: a one-second window, so the wait is Retry-After (1 s).
    settings = limited_settings(database_url, rate_limit_signin="1/second")
    async with app_running(settings, clock) as app:
        client = app.client()
        assert (await call(client, "/v1/auth/nonce", PEER_A)).status_code == 200
        retry_after = await assert_rate_limited(await call(client, "/v1/auth/nonce", PEER_A))
        assert retry_after == 1
        await asyncio.sleep(retry_after)
        assert (await call(client, "/v1/auth/nonce", PEER_A)).status_code == 200


async def test_429_is_documented_on_the_limited_routes(app: Running) -> None:
    document = await (await app.client().get("/openapi.json")).get_json()
    for path in ("/v1/auth/nonce", "/v1/auth/siwe", "/v1/rooms", "/v1/rooms/{name}/token"):
        responses = document["paths"][path]["post"]["responses"]
        assert "429" in responses, path
    assert "429" not in document["paths"]["/v1/rooms"]["get"]["responses"]


# -- services --------------------------------------------------------------------------


async def test_services_are_not_limited_and_do_not_count(app: Running, clock: FakeClock) -> None:
    client = app.client()
    assert (
        await call(client, "/v1/rooms", PEER_B, headers=AUTH, json={"name": "lobby"})
    ).status_code == 201
    for i in range(5):
        assert (await call(client, "/v1/auth/nonce", PEER_A, headers=AUTH)).status_code == 200
        created = await call(client, "/v1/rooms", PEER_A, headers=AUTH, json={"name": f"svc-{i}"})
        assert created.status_code == 201
        token = await call(
            client, "/v1/rooms/lobby/token", PEER_A, headers=AUTH, json={"identity": f"guest-{i}"}
        )
        assert token.status_code == 200
    # A wrong key on a public route is no service: it counts like anyone.
    wrong = {"Authorization": "Bearer not-the-key"}
    for _ in range(3):
        assert (await call(client, "/v1/auth/nonce", PEER_C, headers=wrong)).status_code == 200
    await assert_rate_limited(await call(client, "/v1/auth/nonce", PEER_C, headers=wrong))
    # None of the service's requests from A counted: A's budgets are whole.
    for _ in range(3):
        assert (await call(client, "/v1/auth/nonce", PEER_A)).status_code == 200
    await assert_rate_limited(await call(client, "/v1/auth/nonce", PEER_A))
    wallet = await sign_in_at(client, clock.now())
    for i in range(2):
        assert (
            await call(client, "/v1/rooms", PEER_A, headers=wallet.auth, json={"name": f"w-{i}"})
        ).status_code == 201
        assert (
            await call(client, "/v1/rooms/lobby/token", PEER_A, headers=wallet.auth, json={})
        ).status_code == 200


# -- rooms and tokens: per wallet and per address --------------------------------------


@pytest.mark.parametrize("budget", ["rooms", "tokens"])
async def test_rooms_and_tokens_are_limited_per_wallet_and_per_address(
    app: Running, clock: FakeClock, budget: str
) -> None:
    client = app.client()
    created = await call(client, "/v1/rooms", SIGN_IN_PEER, headers=AUTH, json={"name": "lobby"})
    assert created.status_code == 201
    names = iter(range(100))

    async def spend(wallet: Wallet, peer: str) -> Response:
        if budget == "rooms":
            body = {"name": f"room-{next(names)}"}
            return await call(client, "/v1/rooms", peer, headers=wallet.auth, json=body)
        return await call(client, "/v1/rooms/lobby/token", peer, headers=wallet.auth, json={})

    ok = 201 if budget == "rooms" else 200
    alice = await sign_in_at(client, clock.now())
    bob = await sign_in_at(client, clock.now(), peer=PEER_C)
    # Requests refused before the caller is known (no credential) count for nobody.
    for _ in range(3):
        refused = await call(client, "/v1/rooms", PEER_A, json={"name": "anonymous"})
        assert refused.status_code == 401
    # The limit is 2: Alice spends both her own and A's budget.
    assert (await spend(alice, PEER_A)).status_code == ok
    assert (await spend(alice, PEER_A)).status_code == ok
    await assert_rate_limited(await spend(alice, PEER_A), "this address and this wallet")
    # From a fresh address Alice is still refused (her wallet's budget) ...
    await assert_rate_limited(await spend(alice, PEER_B), "this wallet")
    # ... and Bob, from A, is refused too (A's budget).
    await assert_rate_limited(await spend(bob, PEER_A), "this address")
    # Refusals count nothing: B has its whole budget for Bob.
    assert (await spend(bob, PEER_B)).status_code == ok
    assert (await spend(bob, PEER_B)).status_code == ok
    await assert_rate_limited(await spend(bob, PEER_C), "this wallet")
    # The other budget is untouched by this one.
    other = await (
        call(client, "/v1/rooms/lobby/token", PEER_A, headers=alice.auth, json={})
        if budget == "rooms"
        else call(client, "/v1/rooms", PEER_A, headers=alice.auth, json={"name": "other"})
    )
    assert other.status_code in (200, 201)


# -- the client address ------------------------------------------------------------------


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(
    database_url: str, clock: FakeClock
) -> None:
    async with app_running(limited_settings(database_url), clock) as app:
        client = app.client()
        for i in range(3):
            hop = f"198.51.100.{i}"
            assert (
                await call(client, "/v1/auth/nonce", PROXY, forwarded_for=hop)
            ).status_code == 200
        # Every one was counted as the peer, whatever it claimed.
        await assert_rate_limited(
            await call(client, "/v1/auth/nonce", PROXY, forwarded_for="198.51.100.99")
        )


async def test_forwarded_for_is_honoured_last_hop_from_a_trusted_peer(
    database_url: str, clock: FakeClock
) -> None:
    settings = limited_settings(database_url, trusted_proxies="10.0.0.0/8, 2001:db8:ff::1")
    async with app_running(settings, clock) as app:
        client = app.client()
        client_one = "198.51.100.1"
        # The client may write anything to the left of what the proxy adds.
        for spoofed in ("1.1.1.1", "2.2.2.2", "garbage"):
            response = await call(
                client, "/v1/auth/nonce", PROXY, forwarded_for=f"{spoofed}, {client_one}"
            )
            assert response.status_code == 200
        await assert_rate_limited(
            await call(client, "/v1/auth/nonce", PROXY, forwarded_for=client_one)
        )
        # Through a chain of trusted proxies (and over two headers) it is still that client.
        await assert_rate_limited(
            await call(
                client, "/v1/auth/nonce", PROXY, forwarded_for=f"9.9.9.9, {client_one}, 10.9.9.9"
            )
        )
        # Another client behind the same proxy has its own budget, and so has the proxy.
        other = await call(client, "/v1/auth/nonce", PROXY, forwarded_for="198.51.100.2")
        assert other.status_code == 200
        assert (await call(client, "/v1/auth/nonce", PROXY)).status_code == 200
        # A trusted IPv6 proxy, its client's address in brackets with a port.
        via_v6 = await call(
            client, "/v1/auth/nonce", "2001:db8:ff::1", forwarded_for=f"[::ffff:{client_one}]:443"
        )
        await assert_rate_limited(via_v6)


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        ("203.0.113.1", [], "203.0.113.1"),
        (None, [], UNKNOWN_PEER),
        ("not-an-ip", [], UNKNOWN_PEER),
        # Untrusted peer: its header is not read.
        ("203.0.113.1", ["198.51.100.1"], "203.0.113.1"),
        # Trusted peer: the last hop, across headers and trusted hops.
        ("10.0.0.1", ["198.51.100.9, 198.51.100.1"], "198.51.100.1"),
        ("10.0.0.1", ["198.51.100.9", "198.51.100.1, 10.0.0.2"], "198.51.100.1"),
        ("10.0.0.1", ["198.51.100.1:8443"], "198.51.100.1"),
        ("10.0.0.1", ["[2001:db8:1:2::7]:443"], "2001:db8:1:2::/64"),
        # A hop that is not an address: the proxy that wrote it is the client.
        ("10.0.0.1", ["198.51.100.1, unknown"], "10.0.0.1"),
        ("10.0.0.1", [" , "], "10.0.0.1"),
        # An IPv6 host is counted by its /64; a v4-mapped peer as IPv4.
        ("2001:db8:1:2:aaaa::1", [], "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.1", [], "203.0.113.1"),
    ],
)
def test_client_address(peer: str | None, forwarded_for: list[str], expected: str) -> None:
    trusted = parse_networks("10.0.0.0/8")
    assert client_address(peer, forwarded_for, trusted) == expected


# -- settings ------------------------------------------------------------------------------


def test_limits_default_to_the_design() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert parse_rate_limit(settings.rate_limit_signin) == RateLimit(20, "minute")
    assert parse_rate_limit(settings.rate_limit_rooms) == RateLimit(10, "hour")
    assert parse_rate_limit(settings.rate_limit_tokens) == RateLimit(120, "minute")
    assert parse_networks(settings.trusted_proxies) == ()
    assert parse_rate_limit(" 5 / Day ") == RateLimit(5, "day")
    assert parse_rate_limit(GENEROUS_RATE_LIMIT) == RateLimit(1_000_000, "second")


@pytest.mark.parametrize(
    "value", ["20/fortnight", "20/min", "0/minute", "-1/hour", "20 per minute", "", "x/day"]
)
def test_a_malformed_limit_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="N/second, N/minute, N/hour or N/day"):
        Settings(_env_file=None, rate_limit_rooms=value)  # type: ignore[call-arg]


def test_a_wrong_limit_or_proxy_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no developer's .env
    monkeypatch.setenv("RATE_LIMIT_TOKENS", "120/fortnight")
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    lines = sorted(raised.value.lines)
    assert len(lines) == 2, lines
    assert lines[0].startswith("RATE_LIMIT_TOKENS='120/fortnight' is not valid: write N/second")
    assert lines[1].startswith("TRUSTED_PROXIES=")
    assert "'proxy.internal' is not an IP address or CIDR network" in lines[1]


def test_a_wrong_limit_stops_start_up(tmp_path: Path) -> None:
    result = run_app(tmp_path, RATE_LIMIT_SIGNIN="lots")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = lines_of(result)
    assert len(lines) == 1, lines
    assert "RATE_LIMIT_SIGNIN" in lines[0]
