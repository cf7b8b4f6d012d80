"""Sign-In with Ethereum for ordinary accounts: each check, nonces, sessions, logout."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest

from app.settings import Settings
from models import SiweNonce, WalletSession
from tests.conftest import Client, Running, app_running
from tests.support.clock import FakeClock
from tests.support.settings import AUTH, make_settings
from tests.support.wallets import (
    SIWE_DOMAIN,
    get_nonce,
    new_account,
    sign_in,
    sign_text,
    siwe_text,
)

MINUTE = dt.timedelta(minutes=1)


def wallet_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "siwe_domain": SIWE_DOMAIN,
        "siwe_chain_ids": "1,10",
        "wallet_session_seconds": 3600,
    }
    values.update(overrides)
    return make_settings(database_url, **values)


@pytest.fixture
async def app(database_url: str, clock: FakeClock) -> AsyncIterator[Running]:
    async with app_running(wallet_settings(database_url), clock) as instance:
        yield instance


async def post_siwe(client: Client, text: str, signature: str) -> tuple[int, dict]:
    response = await client.post("/v1/auth/siwe", json={"message": text, "signature": signature})
    return response.status_code, await response.get_json()


async def test_a_signed_message_starts_a_wallet_session(app: Running, clock: FakeClock) -> None:
    client = app.client()
    account = new_account()
    text = siwe_text(account.address, await get_nonce(client), clock.now())
    status, body = await post_siwe(client, text, sign_text(account, text))
    assert status == 200, body
    assert body["address"] == account.address
    assert body["chain_id"] == 1
    assert dt.datetime.fromisoformat(body["expires_at"]) == clock.now() + dt.timedelta(hours=1)
    session = await client.get(
        "/v1/auth/session", headers={"Authorization": f"Bearer {body['token']}"}
    )
    assert session.status_code == 200
    assert await session.get_json() == {
        "kind": "wallet",
        "address": account.address,
        "chain_id": 1,
        "expires_at": body["expires_at"],
    }
    # Stored hashed: the token itself is nowhere in the table.
    rows = await WalletSession.all().values("token_hash", "address")
    assert rows == [{"token_hash": rows[0]["token_hash"], "address": account.address}]
    assert body["token"] not in rows[0]["token_hash"]


async def test_a_service_key_is_a_service_session(app: Running) -> None:
    response = await app.client().get("/v1/auth/session", headers=AUTH)
    assert await response.get_json() == {
        "kind": "service",
        "address": None,
        "chain_id": None,
        "expires_at": None,
    }


async def test_nonces_are_long_alphanumeric_and_distinct(app: Running, clock: FakeClock) -> None:
    client = app.client()
    response = await client.post("/v1/auth/nonce")
    body = await response.get_json()
    assert len(body["nonce"]) >= 16
    assert body["nonce"].isalnum()
    assert dt.datetime.fromisoformat(body["expires_at"]) == clock.now() + 10 * MINUTE
    assert len({await get_nonce(client) for _ in range(20)}) == 20


async def test_the_session_ends_with_the_message_expiration_when_sooner(
    app: Running, clock: FakeClock
) -> None:
    client = app.client()
    account = new_account()
    soon = clock.now() + 5 * MINUTE
    text = siwe_text(account.address, await get_nonce(client), clock.now(), expiration_time=soon)
    status, body = await post_siwe(client, text, sign_text(account, text))
    assert status == 200
    assert dt.datetime.fromisoformat(body["expires_at"]) == soon
    headers = {"Authorization": f"Bearer {body['token']}"}
    assert (await client.get("/v1/auth/session", headers=headers)).status_code == 200
    clock.advance(5 * 60)
    assert (await client.get("/v1/auth/session", headers=headers)).status_code == 401


async def test_a_session_expires_after_wallet_session_seconds(
    app: Running, clock: FakeClock
) -> None:
    client = app.client()
    wallet = await sign_in(client, clock.now())
    clock.advance(3599)
    assert (await client.get("/v1/auth/session", headers=wallet.auth)).status_code == 200
    clock.advance(1)
    response = await client.get("/v1/auth/session", headers=wallet.auth)
    assert response.status_code == 401
    assert (await response.get_json())["code"] == "unauthorized"


# -- every refusal, one fault at a time -----------------------------------------


REFUSALS = {
    "wrong domain": ({"domain": "evil.test", "uri": "https://evil.test/"}, "siwe_wrong_domain"),
    "uri on another host": ({"uri": "https://evil.test/login"}, "siwe_wrong_domain"),
    "uri not http(s)": ({"uri": "ftp://qari.test/login"}, "siwe_wrong_domain"),
    "chain not accepted": ({"chain_id": 137}, "siwe_wrong_chain"),
    "expiration passed": ({"expiration_time": -1}, "siwe_expired"),
    "not before not come": ({"not_before": +1}, "siwe_expired"),
    "issued too long ago": ({"issued_at": -11}, "siwe_expired"),
    "issued in the future": ({"issued_at": +2}, "siwe_expired"),
}


@pytest.mark.parametrize("fault", list(REFUSALS))
async def test_each_faulty_message_is_refused_with_its_code(
    app: Running, clock: FakeClock, fault: str
) -> None:
    client = app.client()
    account = new_account()
    changes, code = REFUSALS[fault]
    fields: dict[str, object] = dict(changes)
    now = clock.now()
    for name in ("expiration_time", "not_before", "issued_at"):
        if name in fields:
            fields[name] = now + int(str(fields[name])) * MINUTE
    issued_at = fields.pop("issued_at", now)
    assert isinstance(issued_at, dt.datetime)
    text = siwe_text(account.address, await get_nonce(client), issued_at, **fields)  # type: ignore[arg-type]
    status, body = await post_siwe(client, text, sign_text(account, text))
    assert (status, body["code"]) == (401, code), body
    assert await WalletSession.all().count() == 0


async def test_a_nonce_we_never_issued_is_refused(app: Running, clock: FakeClock) -> None:
    account = new_account()
    text = siwe_text(account.address, "NotOurNonce0123456789", clock.now())
    status, body = await post_siwe(app.client(), text, sign_text(account, text))
    assert (status, body["code"]) == (401, "siwe_invalid_nonce")


async def test_an_expired_nonce_is_refused(app: Running, clock: FakeClock) -> None:
    client = app.client()
    account = new_account()
    nonce = await get_nonce(client)
    clock.advance(10 * 60)
    text = siwe_text(account.address, nonce, clock.now())
    status, body = await post_siwe(client, text, sign_text(account, text))
    assert (status, body["code"]) == (401, "siwe_invalid_nonce")


async def test_a_signature_by_another_key_is_refused(app: Running, clock: FakeClock) -> None:
    client = app.client()
    account, other = new_account(), new_account()
    text = siwe_text(account.address, await get_nonce(client), clock.now())
    status, body = await post_siwe(client, text, sign_text(other, text))
    assert (status, body["code"]) == (401, "siwe_bad_signature")
    garbage = "0x" + "00" * 65
    text = siwe_text(account.address, await get_nonce(client), clock.now())
    status, body = await post_siwe(client, text, garbage)
    assert (status, body["code"]) == (401, "siwe_bad_signature")


async def test_the_signature_covers_the_exact_text(app: Running, clock: FakeClock) -> None:
    client = app.client()
    account = new_account()
    signed = siwe_text(account.address, "x" * 20, clock.now(), statement="I agree to pay 1 ETH.")
    nonce = await get_nonce(client)
    sent = siwe_text(account.address, nonce, clock.now(), statement="Sign in to Qari.")
    status, body = await post_siwe(client, sent, sign_text(account, signed))
    assert (status, body["code"]) == (401, "siwe_bad_signature")


@pytest.mark.parametrize(
    "text",
    [
        "hello",
        "qari.test wants you to sign in with your Ethereum account:\n",
    ],
)
async def test_text_that_is_not_eip_4361_is_422(app: Running, text: str) -> None:
    status, body = await post_siwe(app.client(), text, "0x" + "11" * 65)
    assert (status, body["code"]) == (422, "validation_error")


async def test_extra_text_around_a_message_is_422(app: Running, clock: FakeClock) -> None:
    client = app.client()
    account = new_account()
    text = siwe_text(account.address, await get_nonce(client), clock.now()) + "\nExtra: yes"
    status, body = await post_siwe(client, text, sign_text(account, text))
    assert (status, body["code"]) == (422, "validation_error")


async def test_an_address_that_is_not_eip55_is_422(app: Running, clock: FakeClock) -> None:
    client = app.client()
    account = new_account()
    text = siwe_text(account.address.lower(), await get_nonce(client), clock.now())
    status, body = await post_siwe(client, text, sign_text(account, text))
    assert (status, body["code"]) == (422, "validation_error")


async def test_a_signature_that_is_not_hex_is_422(app: Running, clock: FakeClock) -> None:
    client = app.client()
    account = new_account()
    text = siwe_text(account.address, await get_nonce(client), clock.now())
    status, body = await post_siwe(client, text, "0xnothex")
    assert (status, body["code"]) == (422, "validation_error")


# -- nonces are single use -------------------------------------------------------


async def test_a_nonce_cannot_be_reused_after_a_success(app: Running, clock: FakeClock) -> None:
    client = app.client()
    account = new_account()
    text = siwe_text(account.address, await get_nonce(client), clock.now())
    signature = sign_text(account, text)
    assert (await post_siwe(client, text, signature))[0] == 200
    status, body = await post_siwe(client, text, signature)
    assert (status, body["code"]) == (401, "siwe_invalid_nonce")


async def test_a_nonce_is_spent_by_a_failed_attempt(app: Running, clock: FakeClock) -> None:
    client = app.client()
    account = new_account()
    text = siwe_text(account.address, await get_nonce(client), clock.now())
    status, body = await post_siwe(client, text, sign_text(new_account(), text))
    assert body["code"] == "siwe_bad_signature"
    status, body = await post_siwe(client, text, sign_text(account, text))
    assert (status, body["code"]) == (401, "siwe_invalid_nonce")


async def test_concurrent_logins_with_one_nonce_let_exactly_one_in(
    app: Running, clock: FakeClock
) -> None:
    client = app.client()
    account = new_account()
    text = siwe_text(account.address, await get_nonce(client), clock.now())
    signature = sign_text(account, text)
    results = await asyncio.gather(*(post_siwe(client, text, signature) for _ in range(12)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [401] * 11
    assert {body["code"] for status, body in results if status == 401} == {"siwe_invalid_nonce"}
    assert await WalletSession.all().count() == 1


async def test_expired_nonces_are_purged(app: Running, clock: FakeClock) -> None:
    client = app.client()
    old = await get_nonce(client)
    clock.advance(11 * 60)
    fresh = await get_nonce(client)
    assert set(await SiweNonce.all().values_list("nonce", flat=True)) == {fresh}
    assert old != fresh


# -- logout -------------------------------------------------------------------------


async def test_logout_stops_the_token_at_once(app: Running, clock: FakeClock) -> None:
    client = app.client()
    wallet = await sign_in(client, clock.now())
    other = await sign_in(client, clock.now())
    assert (await client.get("/v1/auth/session", headers=wallet.auth)).status_code == 200
    response = await client.delete("/v1/auth/session", headers=wallet.auth)
    assert response.status_code == 204
    for _ in range(2):
        response = await client.get("/v1/auth/session", headers=wallet.auth)
        assert response.status_code == 401
    assert await WalletSession.all().count() == 1
    # Another session of the same kind goes on.
    assert (await client.get("/v1/auth/session", headers=other.auth)).status_code == 200


async def test_a_service_key_cannot_log_out(app: Running) -> None:
    response = await app.client().delete("/v1/auth/session", headers=AUTH)
    assert response.status_code == 403
    assert (await response.get_json())["code"] == "forbidden"


async def test_a_known_session_is_served_without_the_database(
    app: Running, clock: FakeClock
) -> None:
    """Steady state: a wallet's request costs no query (the database may even be gone)."""
    from app.database import close_database

    client = app.client()
    wallet = await sign_in(client, clock.now())
    await close_database()
    app.services.database_open = False
    response = await client.get("/v1/auth/session", headers=wallet.auth)
    assert response.status_code == 200
    assert (await response.get_json())["address"] == wallet.address


async def test_a_restart_keeps_wallet_sessions(database_url: str, clock: FakeClock) -> None:
    settings = wallet_settings(database_url)
    async with app_running(settings, clock) as first:
        wallet = await sign_in(first.client(), clock.now())
    async with app_running(settings, clock) as second:
        response = await second.client().get("/v1/auth/session", headers=wallet.auth)
        assert response.status_code == 200


# -- the grammar and the signature's one form ------------------------------------------


@pytest.mark.parametrize(
    "statement",
    ["Sign in\r to Qari.", 'Say "hello".', "Tab\there", "Ünïcode"],
)
async def test_a_statement_outside_eip_4361s_grammar_is_422(
    app: Running, clock: FakeClock, statement: str
) -> None:
    client = app.client()
    account = new_account()
    text = siwe_text(account.address, await get_nonce(client), clock.now(), statement=statement)
    status, body = await post_siwe(client, text, sign_text(account, text))
    assert (status, body["code"]) == (422, "validation_error")


async def test_a_cr_anywhere_in_the_message_is_422(app: Running, clock: FakeClock) -> None:
    client = app.client()
    account = new_account()
    text = siwe_text(account.address, await get_nonce(client), clock.now()).replace("\n", "\r\n")
    status, body = await post_siwe(client, text, sign_text(account, text))
    assert (status, body["code"]) == (422, "validation_error")


SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


async def test_the_high_s_twin_of_a_good_signature_is_refused(
    app: Running, clock: FakeClock
) -> None:
    client = app.client()
    account = new_account()
    text = siwe_text(account.address, await get_nonce(client), clock.now())
    good = bytes.fromhex(sign_text(account, text)[2:])
    # (r, n - s) with the other parity recovers the same key: the malleable twin (EIP-2).
    s = int.from_bytes(good[32:64], "big")
    twin = good[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - good[64]])
    status, body = await post_siwe(client, text, "0x" + twin.hex())
    assert (status, body["code"]) == (401, "siwe_bad_signature")


async def test_v_as_the_bare_recovery_id_is_read_as_27_or_28(
    app: Running, clock: FakeClock
) -> None:
    client = app.client()
    account = new_account()
    text = siwe_text(account.address, await get_nonce(client), clock.now())
    good = bytes.fromhex(sign_text(account, text)[2:])
    bare = good[:64] + bytes([good[64] - 27])
    status, body = await post_siwe(client, text, "0x" + bare.hex())
    assert (status, body["address"]) == (200, account.address)


async def test_any_other_v_is_refused(app: Running, clock: FakeClock) -> None:
    client = app.client()
    account = new_account()
    text = siwe_text(account.address, await get_nonce(client), clock.now())
    good = bytes.fromhex(sign_text(account, text)[2:])
    status, body = await post_siwe(client, text, "0x" + (good[:64] + bytes([good[64] + 8])).hex())
    assert (status, body["code"]) == (401, "siwe_bad_signature")
