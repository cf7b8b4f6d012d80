"""The OpenAPI document: clean, unique operationIds, every response documented, our version."""

from __future__ import annotations

from collections import Counter
from importlib.metadata import version

from tests.conftest import Client
from tests.support.settings import AUTH

EXPECTED_OPERATIONS = {
    ("post", "/v1/rooms"): "create_room",
    ("get", "/v1/rooms"): "list_rooms",
    ("get", "/v1/rooms/{name}"): "get_room",
    ("patch", "/v1/rooms/{name}"): "update_room",
    ("delete", "/v1/rooms/{name}"): "delete_room",
    ("post", "/v1/rooms/{name}/token"): "issue_token",
    ("get", "/v1/rooms/{name}/participants"): "list_participants",
    ("get", "/v1/rooms/{name}/sessions"): "list_sessions",
    ("post", "/v1/livekit/webhook"): "receive_livekit_webhook",
    ("get", "/v1/health"): "get_health",
    ("get", "/v1/health/ready"): "get_readiness",
    ("get", "/metrics"): "get_metrics",
}


async def openapi(client: Client) -> dict[str, object]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, object] = await response.get_json()
    return document


async def test_operation_ids_are_clean_and_one_per_operation(client: Client) -> None:
    document = await openapi(client)
    paths = document["paths"]
    assert isinstance(paths, dict)
    ids = {
        (method, path): operation["operationId"]
        for path, operations in paths.items()
        for method, operation in operations.items()
    }
    for key, expected in EXPECTED_OPERATIONS.items():
        assert ids.get(key) == expected, key
    duplicated = [name for name, count in Counter(ids.values()).items() if count > 1]
    assert duplicated == []
    # The trailing-slash alias of create is served, not documented twice.
    assert "/v1/rooms/" not in paths
    assert all("_post_" not in name and not name.startswith("post_post") for name in ids.values())


async def test_responses_without_a_body_are_documented(client: Client) -> None:
    paths = (await openapi(client))["paths"]
    assert isinstance(paths, dict)
    assert "204" in paths["/v1/rooms/{name}"]["delete"]["responses"]
    metrics = paths["/metrics"]["get"]["responses"]["200"]
    assert "text/plain" in next(iter(metrics["content"]))


async def test_the_version_is_the_packages_in_openapi_and_health(client: Client) -> None:
    info = (await openapi(client))["info"]
    assert isinstance(info, dict)
    health = await (await client.get("/v1/health")).get_json()
    assert info["version"] == health["version"] == version("qari-backend")


async def test_the_trailing_slash_alias_still_creates(client: Client) -> None:
    response = await client.post("/v1/rooms/", json={"name": "slash-room"}, headers=AUTH)
    assert response.status_code == 201


async def test_every_operation_is_tagged_with_its_resource(client: Client) -> None:
    """`/docs` groups operations by tag: without one, everything is under "default"."""
    document = await openapi(client)
    paths = document["paths"]
    assert isinstance(paths, dict)
    tags = {
        operation["operationId"]: operation.get("tags")
        for operations in paths.values()
        for operation in operations.values()
    }
    untagged = [name for name, tagged in tags.items() if not tagged or len(tagged) != 1]
    assert untagged == []
    assert tags["create_room"] == tags["list_rooms"] == tags["delete_room"] == ["rooms"]
    assert tags["issue_token"] == ["tokens"]
    assert tags["list_participants"] == tags["list_sessions"] == ["participants"]
    assert tags["receive_livekit_webhook"] == ["livekit webhook"]
    assert tags["get_health"] == tags["get_readiness"] == ["health"]
    assert tags["get_metrics"] == ["metrics"]
    # Each tag used is listed once, described, in the order the docs show them.
    listed = document["tags"]
    assert isinstance(listed, list)
    assert sorted(entry["name"] for entry in listed) == sorted({t[0] for t in tags.values() if t})
    assert all(entry.get("description") for entry in listed)
    assert listed[0]["name"] == "rooms"
