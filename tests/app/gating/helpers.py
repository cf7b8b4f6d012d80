"""Small steps the gating tests share: rooms, token requests, minting on the local chain."""

from __future__ import annotations

from typing import Any

from tests.conftest import Client
from tests.support.settings import AUTH


async def make_room(client: Client, name: str, **fields: object) -> dict[str, Any]:
    response = await client.post("/v1/rooms", json={"name": name, **fields}, headers=AUTH)
    assert response.status_code == 201, await response.get_data(as_text=True)
    body: dict[str, Any] = await response.get_json()
    return body


async def ask_token(client: Client, room: str, identity: str) -> tuple[int, dict[str, Any], str]:
    """Status, body and Retry-After of a token request."""
    response = await client.post(
        f"/v1/rooms/{room}/token", json={"identity": identity}, headers=AUTH
    )
    body: dict[str, Any] = await response.get_json()
    return response.status_code, body, response.headers.get("Retry-After", "")
