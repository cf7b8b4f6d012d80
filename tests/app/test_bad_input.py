"""Bad input is a 4xx in the one error shape, never a 5xx, and nothing is stored.

Each case runs on SQLite and on PostgreSQL (the `running` fixture).
"""

from __future__ import annotations

import json

import pytest
from tortoise import connections

from app.factory import MAX_BODY_BYTES
from models import Room, RoomSession, WebhookInbox
from tests.conftest import Client, Running, app_running
from tests.support.clock import FakeClock
from tests.support.postgres import truncate_tables, unreachable
from tests.support.settings import AUTH, make_settings
from tests.support.webhooks import sign

ROOM = "bad-input"
JSON = {**AUTH, "Content-Type": "application/json"}
DEEP = "[" * 100_000 + "]" * 100_000


async def make_room(client: Client, name: str = ROOM) -> None:
    response = await client.post("/v1/rooms", json={"name": name}, headers=AUTH)
    assert response.status_code == 201


async def stored_rooms() -> list[str]:
    return sorted(room.name for room in await Room.all())


def tokens_issued(running: Running) -> float:
    value = running.services.metrics.registry.get_sample_value("qari_tokens_issued_total")
    return value or 0.0


def assert_error(body: dict[str, object], code: str) -> None:
    assert body["code"] == code
    assert isinstance(body["detail"], str)
    assert body["detail"]


# Raw bodies that are not usable JSON, for every route that takes one.
MALFORMED = {
    "truncated": b'{"name": "abc"',
    "not json": b"name=abc",
    "trailing comma": b'{"name": "abc",}',
    "not utf-8": b'{"name": "\xff\xfe"}',
    "nested 100k deep": DEEP.encode(),
    "nested object 20k deep": ('{"a":' * 20_000 + "1" + "}" * 20_000).encode(),
}
BODY_ROUTES = [
    ("POST", "/v1/rooms"),
    ("PATCH", f"/v1/rooms/{ROOM}"),
    ("POST", f"/v1/rooms/{ROOM}/token"),
]


@pytest.mark.parametrize("kind", list(MALFORMED))
async def test_a_body_that_is_not_json_is_422_validation_error_and_stores_nothing(
    running: Running, kind: str
) -> None:
    client = running.client()
    await make_room(client)
    for method, path in BODY_ROUTES:
        response = await client.open(path, method=method, data=MALFORMED[kind], headers=JSON)
        assert response.status_code == 422, (method, path, response.status_code)
        assert_error(await response.get_json(), "validation_error")
    assert await stored_rooms() == [ROOM]
    room = await Room.get(name=ROOM)
    assert room.metadata is None  # the PATCH changed nothing


# Every route that reads a JSON body, with a body it accepts.
JSON_ROUTES = [
    ("POST", "/v1/rooms", {"name": "json-room"}),
    ("PATCH", f"/v1/rooms/{ROOM}", {"max_participants": 3}),
    ("POST", f"/v1/rooms/{ROOM}/token", {"identity": "ann"}),
    ("POST", f"/v1/rooms/{ROOM}/participants/ann/remove", {"ban": True}),
    ("POST", f"/v1/rooms/{ROOM}/participants/ann/mute", {"muted": True}),
    ("PATCH", f"/v1/rooms/{ROOM}/participants/ann", {"name": "Ann"}),
    ("POST", "/v1/auth/siwe", {"message": "m", "signature": "0x00"}),
]


@pytest.mark.parametrize(("method", "path", "body"), JSON_ROUTES)
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_a_body_sent_without_the_json_content_type_is_422_saying_it_must_be_json(
    running: Running,
    method: str,
    path: str,
    body: dict[str, object],
    content_type: str | None,
) -> None:
    """Quart reads such a body as no JSON at all: say why, not "not a valid dictionary"."""
    client = running.client()
    await make_room(client)
    headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}
    response = await client.open(path, method=method, data=json.dumps(body), headers=headers)
    assert response.status_code == 422
    payload = await response.get_json()
    assert_error(payload, "validation_error")
    assert "must be JSON" in payload["detail"]
    assert "application/json" in payload["detail"]
    assert payload["errors"] == [
        {"loc": ["body"], "msg": payload["detail"], "type": "content_type"}
    ]
    assert await stored_rooms() == [ROOM]
    assert tokens_issued(running) == 0


# One failure of each kind, on each route that finds it: the app's own checks,
# pydantic's through quart-schema and through the hot routes' own parse,
# the gating checks, the query strings. (loc, type) each.
ONE_SHAPE = [
    ("POST", "/v1/rooms", {}, ["body", "name"], "missing"),
    ("POST", f"/v1/rooms/{ROOM}/token", {}, ["body", "identity"], "missing"),
    ("POST", "/v1/auth/siwe", {"message": "m"}, ["body", "signature"], "missing"),
    ("POST", "/v1/rooms", {"name": "x"}, ["body", "name"], "string_pattern_mismatch"),
    (
        "POST",
        f"/v1/rooms/{ROOM}/token",
        {"identity": "a", "ttl_seconds": "x"},
        ["body", "ttl_seconds"],
        "int_parsing",
    ),
    (
        "PATCH",
        f"/v1/rooms/{ROOM}",
        {"max_participants": "x"},
        ["body", "max_participants"],
        "int_parsing",
    ),
    (
        "POST",
        f"/v1/rooms/{ROOM}/participants/ann/mute",
        {"muted": "x"},
        ["body", "muted"],
        "bool_parsing",
    ),
    (
        "POST",
        "/v1/rooms",
        {"name": "gated-room", "access_type": "token"},
        ["body", "token_address"],
        "value_error",
    ),
    (
        "POST",
        "/v1/rooms",
        {"name": "nul-room", "metadata": "\u0000"},
        ["body", "metadata"],
        "string_nul",
    ),
    ("POST", "/v1/rooms", [], ["body"], "model_type"),
    ("GET", "/v1/rooms?limit=x", None, ["query", "limit"], "int_parsing"),
    ("GET", f"/v1/rooms/{ROOM}/sessions?limit=0", None, ["query", "limit"], "greater_than_equal"),
]


@pytest.mark.parametrize(("method", "path", "body", "loc", "kind"), ONE_SHAPE)
async def test_validation_errors_have_one_shape_on_every_route(
    running: Running,
    method: str,
    path: str,
    body: object,
    loc: list[str],
    kind: str,
) -> None:
    """`loc` starts with the part of the request (as the earlier FastAPI service's
    did); pydantic's wording; one failure per place (no union members' echoes)."""
    client = running.client()
    await make_room(client)
    if body is None:
        response = await client.open(path, method=method, headers=AUTH)
    else:
        response = await client.open(path, method=method, json=body, headers=AUTH)
    assert response.status_code == 422
    payload = await response.get_json()
    assert_error(payload, "validation_error")
    [error] = payload["errors"]
    assert set(error) == {"loc", "msg", "type"}
    assert (error["loc"], error["type"]) == (loc, kind)
    if kind == "missing":
        assert error["msg"] == "Field required"
    # `detail` names the field (its path in the body or query) and says what is wrong.
    field = ".".join(loc[1:])
    expected = f"Invalid request: {field}: {error['msg']}" if field else error["msg"]
    assert payload["detail"] == expected


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        # PATCH cannot rename: `name` is not a field of the change.
        ("PATCH", f"/v1/rooms/{ROOM}", {"name": "renamed"}),
        # A misspelt field must not fall back to the default.
        ("POST", "/v1/rooms", {"name": "other-room", "max_participant": 5}),
        ("POST", f"/v1/rooms/{ROOM}/token", {"identity": "ann", "ttl": 60}),
    ],
)
async def test_an_unknown_body_field_is_422_and_changes_nothing(
    running: Running, method: str, path: str, body: dict[str, object]
) -> None:
    client = running.client()
    await make_room(client)
    response = await client.open(path, method=method, json=body, headers=AUTH)
    assert response.status_code == 422
    payload = await response.get_json()
    assert_error(payload, "validation_error")
    assert any(error["type"] == "extra_forbidden" for error in payload["errors"])
    assert await stored_rooms() == [ROOM]
    assert tokens_issued(running) == 0


NUL_BODIES = [
    ("POST", "/v1/rooms", {"name": "nul-room", "metadata": "a\u0000b"}, "metadata"),
    ("PATCH", f"/v1/rooms/{ROOM}", {"metadata": "\u0000"}, "metadata"),
    ("POST", f"/v1/rooms/{ROOM}/token", {"identity": "a\u0000b"}, "identity"),
    ("POST", f"/v1/rooms/{ROOM}/token", {"identity": "ann", "name": "A\u0000"}, "name"),
    ("POST", f"/v1/rooms/{ROOM}/token", {"identity": "ann", "metadata": "\u0000"}, "metadata"),
    (
        "POST",
        f"/v1/rooms/{ROOM}/token",
        {"identity": "ann", "attributes": {"k\u0000": "v"}},
        "attributes",
    ),
    (
        "POST",
        f"/v1/rooms/{ROOM}/token",
        {"identity": "ann", "attributes": {"k": "v\u0000"}},
        "attributes.k",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), NUL_BODIES)
async def test_nul_in_any_text_is_422_naming_the_field_and_nothing_is_stored_or_minted(
    running: Running, method: str, path: str, body: dict[str, object], field: str
) -> None:
    client = running.client()
    await make_room(client)
    response = await client.open(path, method=method, json=body, headers=AUTH)
    assert response.status_code == 422
    payload = await response.get_json()
    assert_error(payload, "validation_error")
    assert field in payload["detail"]
    assert await stored_rooms() == [ROOM]
    assert (await Room.get(name=ROOM)).metadata is None
    assert tokens_issued(running) == 0


async def test_a_body_over_the_limit_is_413_naming_the_limit(running: Running) -> None:
    client = running.client()
    await make_room(client)
    big = json.dumps({"name": "big-room", "metadata": "x" * MAX_BODY_BYTES}).encode()
    for method, path in [*BODY_ROUTES, ("POST", "/v1/livekit/webhook")]:
        response = await client.open(path, method=method, data=big, headers=JSON)
        assert response.status_code == 413, (method, path)
        payload = await response.get_json()
        assert_error(payload, "payload_too_large")
        assert str(MAX_BODY_BYTES) in payload["detail"]
    assert await stored_rooms() == [ROOM]
    assert await WebhookInbox.all().count() == 0


async def test_a_deeply_nested_webhook_body_is_a_4xx_and_stores_nothing(client: Client) -> None:
    body = DEEP.encode()  # signed, so it gets as far as parsing
    response = await client.post(
        "/v1/livekit/webhook", data=body, headers={"Authorization": sign(body)}
    )
    assert 400 <= response.status_code < 500
    assert await WebhookInbox.all().count() == 0
    assert await RoomSession.all().count() == 0


# -- errors that are not the client's -------------------------------------------


async def test_only_the_unique_room_name_is_409_room_exists(running: Running) -> None:
    """Another constraint failing is the schema's fault: 500, not a conflict."""
    client = running.client()
    await make_room(client)
    assert (await client.post("/v1/rooms", json={"name": ROOM}, headers=AUTH)).status_code == 409
    conn = connections.get("default")
    # A constraint the models do not have, as a half-applied foreign schema would leave.
    await conn.execute_script(
        'CREATE UNIQUE INDEX "rooms_one_per_size" ON "rooms" ("max_participants")'
    )
    try:
        response = await client.post("/v1/rooms", json={"name": "second-room"}, headers=AUTH)
        assert response.status_code == 500
        assert_error(await response.get_json(), "internal_error")
    finally:
        await conn.execute_script('DROP INDEX "rooms_one_per_size"')
    assert await stored_rooms() == [ROOM]


async def test_a_create_while_the_database_is_down_is_503_database_unavailable(
    postgres_url: str, clock: FakeClock
) -> None:
    await truncate_tables(postgres_url)
    async with app_running(make_settings(postgres_url), clock) as running:
        client = running.client()
        async with unreachable(postgres_url):
            response = await client.post("/v1/rooms", json={"name": "while-down"}, headers=AUTH)
            assert response.status_code == 503
            assert response.headers["Retry-After"]
            assert_error(await response.get_json(), "database_unavailable")
            # The room's actor was not restarted in a loop over it.
            assert running.services.rooms.total_restarts == 0
        # Once the database is back, the same request succeeds.
        response = await client.post("/v1/rooms", json={"name": "while-down"}, headers=AUTH)
        assert response.status_code == 201
