"""The app's frame: health, errors in one shape, who may call what, OpenAPI."""

from __future__ import annotations

import asyncio
import re
from importlib.metadata import version

from app.http.auth import Access, access_of
from tests.conftest import Client, Running, app_running
from tests.support.clock import FakeClock
from tests.support.settings import API_KEY, AUTH, make_settings
from tests.support.wallets import SIWE_DOMAIN, sign_in


def assert_error_shape(body: dict[str, object], code: str) -> None:
    assert body["code"] == code
    assert isinstance(body["detail"], str)
    assert body["detail"]


async def test_health_is_public_and_names_the_installed_version(client: Client) -> None:
    response = await client.get("/v1/health")
    assert response.status_code == 200
    assert await response.get_json() == {"status": "ok", "version": version("qari-backend")}


async def test_ready_names_the_database(client: Client) -> None:
    response = await client.get("/v1/health/ready")
    assert response.status_code == 200
    assert await response.get_json() == {"status": "ok", "checks": {"database": "ok"}}


async def test_ready_is_503_when_the_database_is_gone(running: Running) -> None:
    from app.database import close_database

    await close_database()
    running.services.database_open = False
    response = await running.client().get("/v1/health/ready")
    assert response.status_code == 503
    assert await response.get_json() == {
        "status": "unavailable",
        "checks": {"database": "unavailable"},
    }


async def test_welcome_points_at_docs(client: Client) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert (await response.get_json())["docs"] == "/docs"


async def test_unknown_route_is_404_in_the_one_shape(client: Client) -> None:
    response = await client.get("/v1/nothing-here", headers=AUTH)
    assert response.status_code == 404
    assert_error_shape(await response.get_json(), "not_found")


async def test_wrong_method_is_405_in_the_one_shape(client: Client) -> None:
    response = await client.put("/v1/health")
    assert response.status_code == 405
    assert_error_shape(await response.get_json(), "method_not_allowed")


async def test_validation_error_names_the_fields(client: Client) -> None:
    response = await client.post(
        "/v1/rooms", json={"name": "x", "max_participants": 0}, headers=AUTH
    )
    assert response.status_code == 422
    body = await response.get_json()
    assert_error_shape(body, "validation_error")
    assert {tuple(e["loc"]) for e in body["errors"]} >= {
        ("body", "name"),
        ("body", "max_participants"),
    }


async def test_body_that_is_not_json_is_a_clean_error(client: Client) -> None:
    response = await client.post(
        "/v1/rooms", data=b"{not json", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422)
    body = await response.get_json()
    assert set(body) >= {"detail", "code"}


WALLET = Access.WALLET_ALLOWED
# Who may call each route (DESIGN.md section 3). A route missing here fails the
# policy test: every route states its access explicitly.
ROUTE_ACCESS: dict[tuple[str, str], Access] = {
    ("GET", "/"): Access.PUBLIC,
    ("GET", "/v1/health"): Access.PUBLIC,
    ("GET", "/v1/health/ready"): Access.PUBLIC,
    ("POST", "/v1/livekit/webhook"): Access.PUBLIC,
    ("POST", "/v1/auth/nonce"): Access.PUBLIC,
    ("POST", "/v1/auth/siwe"): Access.PUBLIC,
    ("GET", "/v1/auth/session"): Access.WALLET_ALLOWED,
    ("DELETE", "/v1/auth/session"): Access.WALLET_ALLOWED,
    ("POST", "/v1/rooms"): Access.WALLET_ALLOWED,
    ("POST", "/v1/rooms/"): Access.WALLET_ALLOWED,
    ("GET", "/v1/rooms"): Access.WALLET_ALLOWED,
    ("GET", "/v1/rooms/<string:name>"): Access.WALLET_ALLOWED,
    ("PATCH", "/v1/rooms/<string:name>"): Access.WALLET_ALLOWED,
    ("DELETE", "/v1/rooms/<string:name>"): Access.WALLET_ALLOWED,
    ("POST", "/v1/rooms/<string:name>/token"): Access.WALLET_ALLOWED,
    ("GET", "/v1/rooms/<string:name>/participants"): Access.WALLET_ALLOWED,
    ("GET", "/v1/rooms/<string:name>/sessions"): Access.WALLET_ALLOWED,
    ("GET", "/v1/rooms/<string:name>/sessions/<string:sid>/participants"): WALLET,
    ("POST", "/v1/rooms/<string:name>/participants/<string:identity>/remove"): WALLET,
    ("POST", "/v1/rooms/<string:name>/participants/<string:identity>/mute"): WALLET,
    ("PATCH", "/v1/rooms/<string:name>/participants/<string:identity>"): WALLET,
    ("GET", "/v1/rooms/<string:name>/bans"): WALLET,
    ("DELETE", "/v1/rooms/<string:name>/bans/<string:identity>"): WALLET,
    ("POST", "/v1/rooms/<string:name>/end"): WALLET,
    ("POST", "/v1/rooms/<string:name>/recordings"): WALLET,
    ("POST", "/v1/rooms/<string:name>/recordings/<string:recording_id>/stop"): WALLET,
    ("GET", "/v1/rooms/<string:name>/recordings"): WALLET,
    # The lobby: the knocker polls its ticket; the actor checks the managers.
    ("GET", "/v1/rooms/<string:name>/lobby/<string:ticket>"): WALLET,
    ("GET", "/v1/rooms/<string:name>/lobby"): WALLET,
    ("POST", "/v1/rooms/<string:name>/lobby/<string:ticket>/admit"): WALLET,
    ("POST", "/v1/rooms/<string:name>/lobby/<string:ticket>/deny"): WALLET,
    ("POST", "/v1/rooms/<string:name>/lobby/admit-all"): WALLET,
    ("GET", "/v1/events"): WALLET,
    ("POST", "/v1/webhook-endpoints"): Access.SERVICE_ONLY,
    ("GET", "/v1/webhook-endpoints"): Access.SERVICE_ONLY,
    ("GET", "/v1/webhook-endpoints/<string:endpoint_id>"): Access.SERVICE_ONLY,
    ("PATCH", "/v1/webhook-endpoints/<string:endpoint_id>"): Access.SERVICE_ONLY,
    ("DELETE", "/v1/webhook-endpoints/<string:endpoint_id>"): Access.SERVICE_ONLY,
    ("POST", "/v1/webhook-endpoints/<string:endpoint_id>/rotate-secret"): Access.SERVICE_ONLY,
    ("POST", "/v1/webhook-endpoints/<string:endpoint_id>/test"): Access.SERVICE_ONLY,
    ("GET", "/v1/webhook-endpoints/<string:endpoint_id>/deliveries"): Access.SERVICE_ONLY,
    ("GET", "/v1/ops/actors"): Access.SERVICE_ONLY,
    ("GET", "/v1/ops/cluster"): Access.SERVICE_ONLY,
    ("GET", "/v1/ops/webhooks"): Access.SERVICE_ONLY,
    ("GET", "/v1/ops/admission"): Access.SERVICE_ONLY,
    ("GET", "/metrics"): Access.SERVICE_ONLY,
    ("GET", "/docs/assets/<string:name>"): Access.PUBLIC,
}
# Served by libraries (quart-schema, Quart), public by design.
LIBRARY_ENDPOINTS = {"static", "openapi", "swagger_ui", "redoc_ui", "scalar_ui"}


def routes(running: Running) -> list[tuple[str, str, Access]]:
    found = []
    for rule in running.app.url_map.iter_rules():
        if rule.endpoint in LIBRARY_ENDPOINTS:
            continue
        view = running.app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            mark = access_of(view)
            assert mark is not None, f"{method} {rule.rule} has no access mark"
            found.append((method, rule.rule, mark))
    return found


async def test_every_route_carries_the_mark_the_permissions_table_gives_it(
    running: Running,
) -> None:
    """Policy: walk the url map; each route's explicit mark is the one in the table."""
    found = {(method, path): mark for method, path, mark in routes(running)}
    assert found == ROUTE_ACCESS


async def test_every_guarded_route_refuses_callers_without_a_credential(running: Running) -> None:
    """Policy, enforced: each non-public route answers 401 to no key, a wrong key, no Bearer."""
    client = running.client()
    checked = 0
    for method, rule, mark in routes(running):
        if mark is Access.PUBLIC:
            continue
        path = re.sub(r"<[^>]+>", "some-room", rule)
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": API_KEY}):
            response = await client.open(path, method=method, headers=headers, json={})
            assert response.status_code == 401, (method, path, headers)
            assert_error_shape(await response.get_json(), "unauthorized")
            checked += 1
    assert checked >= 12 * 3


async def test_wallets_pass_the_guard_only_where_the_table_allows(
    database_url: str, clock: FakeClock
) -> None:
    """Policy, enforced for wallets: service-only routes are 403 `forbidden` for a session."""
    settings = make_settings(database_url, siwe_domain=SIWE_DOMAIN)
    async with app_running(settings, clock) as running:
        client = running.client()
        checked = 0
        for method, rule, mark in routes(running):
            if mark is Access.PUBLIC:
                continue
            # A fresh session each time: one of these routes is logout.
            wallet = await sign_in(client, clock.now())
            path = re.sub(r"<[^>]+>", "some-room", rule)
            if path == "/v1/events":
                # A stream that never ends: its answer is its status and first line.
                status = await _feed_status(client, wallet.auth)
                assert status == 200, (method, path)
                checked += 1
                continue
            response = await client.open(path, method=method, headers=wallet.auth, json={})
            body = await response.get_json() if response.status_code != 204 else {}
            if mark is Access.SERVICE_ONLY:
                assert (response.status_code, body["code"]) == (403, "forbidden"), (method, path)
            else:
                assert response.status_code != 401, (method, path)
                assert body.get("code") != "forbidden", (method, path)
            checked += 1
        assert checked >= 12


async def _feed_status(client: Client, headers: dict[str, str]) -> int:
    async with client.request("/v1/events", method="GET", headers=headers) as connection:
        await connection.send_complete()
        await asyncio.wait_for(connection.receive(), 5)  # the opening comment
        status = connection.status_code
        await connection.disconnect()
    return int(status)


async def test_unhandled_error_is_500_without_its_text(running: Running) -> None:
    secret_text = "SELECT password FROM secrets"

    @running.app.get("/v1/test-crash")
    async def crash() -> str:
        raise RuntimeError(secret_text)

    response = await running.client().get("/v1/test-crash", headers=AUTH)
    assert response.status_code == 500
    body = await response.get_json()
    assert_error_shape(body, "internal_error")
    assert secret_text not in (await response.get_data(as_text=True))


async def test_openapi_describes_every_route(client: Client) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    assert spec["info"]["title"] == "Qari backend"
    assert spec["info"]["version"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), (method, path)
            assert operation.get("description"), (method, path)
    docs = await client.get("/docs")
    assert docs.status_code == 200


async def test_oversized_body_is_413_before_parsing(client: Client) -> None:
    big = b'{"name": "big-room", "metadata": "' + b"x" * (300 * 1024) + b'"}'
    response = await client.post(
        "/v1/rooms", data=big, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    body = await response.get_json()
    assert_error_shape(body, "payload_too_large")
    assert (await client.get("/v1/rooms/big-room", headers=AUTH)).status_code == 404


async def test_oversized_webhook_is_413_and_not_stored(client: Client) -> None:
    from models import WebhookInbox
    from tests.support.webhooks import sign

    big = (
        b'{"event": "room_started", "id": "EV_big", "room": {"metadata": "'
        + b"x" * (300 * 1024)
        + b'"}}'
    )
    response = await client.post(
        "/v1/livekit/webhook",
        data=big,
        headers={"Authorization": sign(big), "Content-Type": "application/webhook+json"},
    )
    assert response.status_code == 413
    assert_error_shape(await response.get_json(), "payload_too_large")
    assert await WebhookInbox.all().count() == 0


async def test_ops_report_counts_live_actors(client: Client) -> None:
    await client.post("/v1/rooms", json={"name": "ops-room"}, headers=AUTH)
    response = await client.get("/v1/ops/actors", headers=AUTH)
    assert response.status_code == 200
    report = await response.get_json()
    assert report["actors_alive"] == 1
    assert report["activations"] == 1
    assert report["restarts"] == 0
