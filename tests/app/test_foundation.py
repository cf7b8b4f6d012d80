"""The app's frame: health, errors in one shape, API keys everywhere, OpenAPI."""

from __future__ import annotations

import re
from importlib.metadata import version

from tests.conftest import Client, Running
from tests.support.settings import API_KEY, AUTH

PUBLIC_ROUTES = {"/v1/health", "/v1/health/ready", "/v1/livekit/webhook"}


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
    assert {tuple(e["loc"]) for e in body["errors"]} >= {("name",), ("max_participants",)}


async def test_body_that_is_not_json_is_a_clean_error(client: Client) -> None:
    response = await client.post(
        "/v1/rooms", data=b"{not json", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422)
    body = await response.get_json()
    assert set(body) >= {"detail", "code"}


async def test_every_v1_route_needs_a_key(running: Running) -> None:
    """Policy: walk the url map; every /v1 route but the public ones answers 401 without a key."""
    client = running.client()
    checked = 0
    for rule in running.app.url_map.iter_rules():
        if not rule.rule.startswith("/v1") or rule.rule in PUBLIC_ROUTES:
            continue
        path = re.sub(r"<[^>]+>", "some-room", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": API_KEY}):
                response = await client.open(path, method=method, headers=headers, json={})
                assert response.status_code == 401, (method, path, headers)
                assert_error_shape(await response.get_json(), "unauthorized")
                checked += 1
    assert checked >= 8 * 3


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
