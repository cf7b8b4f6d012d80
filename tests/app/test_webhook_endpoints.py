"""/v1/webhook-endpoints (DESIGN.md section 7): every route's success and error cases.

Services manage endpoints; wallets get 403. URLs are checked at registration
(422 in the one error shape), event types against the known list. The test
route sends one `ping`, stored nowhere; the deliveries route pages through
attempts, newest first.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest

from models.outbox import OutboxAttempt, OutboxDelivery, OutboxEvent
from tests.conftest import Client, Running, app_running
from tests.events import attempts, emit, joined, register, started
from tests.support.clock import FakeClock
from tests.support.receiver import Receiver, eventually
from tests.support.settings import AUTH, make_settings
from tests.support.wallets import SIWE_DOMAIN, sign_in

ENDPOINTS = "/v1/webhook-endpoints"
MISSING = f"{ENDPOINTS}/ep_missing"


@pytest.fixture
async def app(database_url: str, clock: FakeClock) -> AsyncIterator[Running]:
    async with started(database_url, clock, siwe_domain=SIWE_DOMAIN) as running:
        yield running


@pytest.fixture
async def guarded(database_url: str, clock: FakeClock) -> AsyncIterator[Running]:
    """The app as deployed: no private addresses."""
    async with app_running(make_settings(database_url), clock) as running:
        yield running


async def call(client: Client, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    response = await getattr(client, method)(path, headers=kwargs.pop("headers", AUTH), **kwargs)
    body = await response.get_json() if response.status_code != 204 else None
    return response.status_code, body


def assert_not_found(status: int, body: Any) -> None:
    assert (status, body["code"]) == (404, "endpoint_not_found")
    assert set(body) == {"detail", "code"}


# -- create, list, get -------------------------------------------------------------------


async def test_a_new_endpoint_comes_with_its_secret_shown_once(
    app: Running, clock: FakeClock
) -> None:
    client = app.client()
    created = await register(
        client,
        "https://hooks.example.test/qari",
        events=["participant.joined", "room.created"],
        rooms=["room-a"],
        description="the dApp's backend",
    )
    assert created["id"].startswith("ep_")
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"), validate=True)) >= 24
    shown = {k: v for k, v in created.items() if k != "secret"}
    assert shown == {
        "id": created["id"],
        "url": "https://hooks.example.test/qari",
        "events": ["participant.joined", "room.created"],
        "rooms": ["room-a"],
        "description": "the dApp's backend",
        "enabled": True,
        "disabled_reason": None,
        "created_at": shown["created_at"],
    }
    status, got = await call(client, "get", f"{ENDPOINTS}/{created['id']}")
    assert (status, got) == (200, shown)
    clock.advance(1)
    other = await register(client, "https://other.example.test/")
    assert (other["events"], other["rooms"], other["description"]) == (None, None, None)
    assert other["secret"] != created["secret"]
    status, listed = await call(client, "get", ENDPOINTS)
    assert status == 200
    assert [item["id"] for item in listed["items"]] == [created["id"], other["id"]]
    assert all("secret" not in item for item in listed["items"])


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"url": "ftp://hooks.example.test/"}, ["body", "url"]),
        ({"url": "not a url"}, ["body", "url"]),
        ({"url": "https://h.example.test/", "events": ["room.exploded"]}, ["body", "events", "0"]),
        ({"url": "https://h.example.test/", "events": ["ping"]}, ["body", "events", "0"]),
        ({"url": "https://h.example.test/", "events": []}, ["body", "events"]),
        ({"url": "https://h.example.test/", "rooms": ["no such name!"]}, ["body", "rooms", "0"]),
        ({"url": "https://h.example.test/", "secret": "mine"}, ["body", "secret"]),
        ({"events": None}, ["body", "url"]),
    ],
)
async def test_a_bad_registration_is_422_naming_the_field(
    app: Running, body: dict[str, Any], loc: list[str]
) -> None:
    status, answer = await call(app.client(), "post", ENDPOINTS, json=body)
    assert (status, answer["code"]) == (422, "validation_error")
    assert [error["loc"] for error in answer["errors"]] == [loc]
    status, listed = await call(app.client(), "get", ENDPOINTS)
    assert listed["items"] == []


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://hooks.example.test/", "https"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://[::ffff:127.0.0.1]/hook", "IPv4-mapped"),
    ],
)
async def test_a_private_or_plain_http_url_is_refused_at_registration(
    guarded: Running, url: str, said: str
) -> None:
    status, answer = await call(guarded.client(), "post", ENDPOINTS, json={"url": url})
    assert (status, answer["code"]) == (422, "validation_error")
    (error,) = answer["errors"]
    assert error["loc"] == ["body", "url"]
    assert said in error["msg"]
    assert said in answer["detail"]


async def test_an_unknown_endpoint_is_404_on_every_route(app: Running) -> None:
    client = app.client()
    for method, path, kwargs in [
        ("get", MISSING, {}),
        ("patch", MISSING, {"json": {"description": "x"}}),
        ("delete", MISSING, {}),
        ("post", f"{MISSING}/rotate-secret", {}),
        ("post", f"{MISSING}/test", {}),
        ("get", f"{MISSING}/deliveries", {}),
    ]:
        assert_not_found(*await call(client, method, path, **kwargs))


async def test_endpoints_are_for_services_only(app: Running, clock: FakeClock) -> None:
    client = app.client()
    endpoint = await register(client, "https://hooks.example.test/")
    one = f"{ENDPOINTS}/{endpoint['id']}"
    wallet = await sign_in(client, clock.now())
    routes = [
        ("post", ENDPOINTS, {"json": {"url": "https://h.example.test/"}}),
        ("get", ENDPOINTS, {}),
        ("get", one, {}),
        ("patch", one, {"json": {"enabled": False}}),
        ("delete", one, {}),
        ("post", f"{one}/rotate-secret", {}),
        ("post", f"{one}/test", {}),
        ("get", f"{one}/deliveries", {}),
    ]
    for method, path, kwargs in routes:
        status, body = await call(client, method, path, headers=wallet.auth, **kwargs)
        assert (status, body["code"]) == (403, "forbidden"), path
        status, body = await call(client, method, path, headers={}, **kwargs)
        assert (status, body["code"]) == (401, "unauthorized"), path
    status, got = await call(client, "get", one)
    assert (status, got["enabled"]) == (200, True)


# -- change, delete, rotate ---------------------------------------------------------------


async def test_patch_changes_only_the_fields_sent(app: Running) -> None:
    client = app.client()
    endpoint = await register(client, "https://a.example.test/", events=["room.created"])
    path = f"{ENDPOINTS}/{endpoint['id']}"
    status, changed = await call(
        client,
        "patch",
        path,
        json={"url": "https://b.example.test/", "rooms": ["room-a"], "description": "b"},
    )
    assert status == 200
    assert (changed["url"], changed["events"], changed["rooms"], changed["description"]) == (
        "https://b.example.test/",
        ["room.created"],
        ["room-a"],
        "b",
    )
    status, changed = await call(client, "patch", path, json={"events": None, "description": None})
    assert (status, changed["events"], changed["rooms"], changed["description"]) == (
        200,
        None,
        ["room-a"],
        None,
    )
    assert (await call(client, "get", path))[1] == changed
    for body, loc in [
        ({"url": None}, ["body", "url"]),
        ({"enabled": None}, ["body", "enabled"]),
        ({"url": "gopher://b.example.test/"}, ["body", "url"]),
        ({"events": ["nope"]}, ["body", "events", "0"]),
        ({"secret": "whsec_x"}, ["body", "secret"]),
    ]:
        status, answer = await call(client, "patch", path, json=body)
        assert (status, answer["code"]) == (422, "validation_error"), body
        assert [e["loc"] for e in answer["errors"]] == [loc]


async def test_a_private_url_is_refused_by_patch_too(guarded: Running) -> None:
    client = guarded.client()
    endpoint = await register(client, "https://1.1.1.1/hook")
    status, answer = await call(
        client, "patch", f"{ENDPOINTS}/{endpoint['id']}", json={"url": "https://192.168.1.1/"}
    )
    assert (status, answer["errors"][0]["loc"]) == (422, ["body", "url"])


async def test_disabling_skips_pending_deliveries_and_enabling_clears_the_reason(
    database_url: str, clock: FakeClock
) -> None:
    # A retry far off: the event stays pending while the test looks.
    async with started(database_url, clock, outbound_retry_seconds="60") as app:
        client = app.client()
        receiver = Receiver()  # down: connections refused
        endpoint = await register(client, receiver.url)
        path = f"{ENDPOINTS}/{endpoint['id']}"
        await emit(app, joined("room-a", "ann"))
        await eventually(lambda: _has_attempt(client, endpoint["id"]))
        status, changed = await call(client, "patch", path, json={"enabled": False})
        assert (status, changed["enabled"]) == (200, False)
        assert changed["disabled_reason"]
        states = OutboxDelivery.filter(endpoint_id=endpoint["id"]).values_list("state", flat=True)
        assert await states == ["skipped"]
        status, changed = await call(client, "patch", path, json={"enabled": True})
        assert (status, changed["enabled"], changed["disabled_reason"]) == (200, True, None)
        assert await states == ["skipped"]


async def _has_attempt(client: Client, endpoint_id: str) -> bool:
    return bool((await attempts(client, endpoint_id))["items"])


async def test_delete_removes_the_endpoint_and_its_history(app: Running) -> None:
    client = app.client()
    async with Receiver() as receiver:
        endpoint = await register(client, receiver.url)
        await emit(app, joined("room-a", "ann"))
        await eventually(lambda: _has_attempt(client, endpoint["id"]))
    path = f"{ENDPOINTS}/{endpoint['id']}"
    assert await call(client, "delete", path) == (204, None)
    assert_not_found(*await call(client, "get", path))
    assert_not_found(*await call(client, "delete", path))
    assert await OutboxDelivery.all().count() == 0
    assert await OutboxAttempt.all().count() == 0


async def test_rotation_gives_a_new_secret(app: Running) -> None:
    client = app.client()
    endpoint = await register(client, "https://hooks.example.test/")
    status, rotated = await call(client, "post", f"{ENDPOINTS}/{endpoint['id']}/rotate-secret")
    assert status == 200
    assert set(rotated) == {"secret"}
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != endpoint["secret"]
    status, got = await call(client, "get", f"{ENDPOINTS}/{endpoint['id']}")
    assert "secret" not in got


# -- test (ping) ---------------------------------------------------------------------------


async def test_the_test_route_sends_one_signed_ping_and_stores_nothing(app: Running) -> None:
    client = app.client()
    async with Receiver() as receiver:
        endpoint = await register(client, receiver.url)
        status, answer = await call(client, "post", f"{ENDPOINTS}/{endpoint['id']}/test")
        assert (status, answer) == (200, {"status_code": 200, "error": None})
        (ping,) = receiver.received
        body = ping.verified(endpoint["secret"])
        assert (body["type"], body["data"]) == ("ping", {})
        receiver.script(500)
        status, answer = await call(client, "post", f"{ENDPOINTS}/{endpoint['id']}/test")
        assert (status, answer) == (200, {"status_code": 500, "error": None})
        assert len(receiver.received) == 2
        assert receiver.received[0].id != receiver.received[1].id
    # Not an event: nothing to number, deliver, retry or list.
    assert await OutboxEvent.all().count() == 0
    assert await OutboxDelivery.all().count() == 0
    assert (await attempts(client, endpoint["id"]))["items"] == []
    status, answer = await call(client, "post", f"{ENDPOINTS}/{endpoint['id']}/test")
    assert (status, answer["status_code"]) == (200, None)
    assert "connect" in answer["error"].lower()


# -- deliveries ----------------------------------------------------------------------------


async def test_deliveries_list_attempts_newest_first_in_pages(app: Running) -> None:
    client = app.client()
    async with Receiver(default=500) as receiver:
        receiver.script(200, when=lambda r: r.json["data"]["identity"] == "bob")
        endpoint = await register(client, receiver.url)
        await emit(app, joined("room-a", "ann"), joined("room-a", "bob"))
        await receiver.wait_until(lambda: len(receiver.delivered()) == 1)
    every = await eventually(lambda: _attempts_at_least(client, endpoint["id"], 4))
    assert [(i["attempt"], i["status_code"]) for i in every["items"]] == [
        (1, 200),
        (3, 500),
        (2, 500),
        (1, 500),
    ]
    ann, bob = (await OutboxEvent.all().order_by("seq").values_list("seq", flat=True))[:2]
    assert [i["event_id"] for i in every["items"]] == [f"evt_{bob}"] + [f"evt_{ann}"] * 3
    first = await attempts(client, endpoint["id"], limit=3)
    assert first["items"] == every["items"][:3]
    assert first["next_cursor"]
    rest = await attempts(client, endpoint["id"], limit=3, cursor=first["next_cursor"])
    assert rest == {"items": every["items"][3:], "next_cursor": None}
    path = f"{ENDPOINTS}/{endpoint['id']}/deliveries"
    for query in ({"limit": 0}, {"limit": 201}, {"cursor": "x"}, {"after": 1}):
        status, answer = await call(client, "get", path, query_string=query)
        assert (status, answer["code"]) == (422, "validation_error"), query


async def _attempts_at_least(client: Client, endpoint_id: str, count: int) -> Any:
    listed = await attempts(client, endpoint_id)
    return listed if len(listed["items"]) >= count else None


async def test_the_routes_are_documented(app: Running) -> None:
    response = await app.client().get("/openapi.json")
    paths = (await response.get_json())["paths"]
    one = "/v1/webhook-endpoints/{endpoint_id}"
    operations = {
        (method, path): operation["operationId"]
        for path, methods in paths.items()
        if path.startswith(ENDPOINTS)
        for method, operation in methods.items()
    }
    assert operations == {
        ("post", ENDPOINTS): "create_webhook_endpoint",
        ("get", ENDPOINTS): "list_webhook_endpoints",
        ("get", one): "get_webhook_endpoint",
        ("patch", one): "update_webhook_endpoint",
        ("delete", one): "delete_webhook_endpoint",
        ("post", f"{one}/rotate-secret"): "rotate_webhook_secret",
        ("post", f"{one}/test"): "test_webhook_endpoint",
        ("get", f"{one}/deliveries"): "list_webhook_deliveries",
    }
    assert "404" in paths[one]["get"]["responses"]
    assert "204" in paths[one]["delete"]["responses"]
