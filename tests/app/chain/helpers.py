"""Small steps the gating tests share: rooms, token requests, minting on the local chain."""

from __future__ import annotations

from typing import Any, Protocol

from tests.conftest import Client, Running
from tests.fakes.livekit_server import FakeLiveKit
from tests.support.applied import apply_pending
from tests.support.settings import AUTH
from tests.support.webhooks import event, participant, room_info, signed


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


class Seating(Protocol):
    """What `seat` needs of a running gated app (tests.app.chain.conftest.Gated)."""

    running: Running
    livekit: FakeLiveKit


async def seat(gated: Seating, room: str, identities: list[str]) -> None:
    """Each identity gets a token for `room` and joins it (LiveKit's webhooks applied)."""
    client = gated.running.client()
    info = room_info(room, f"RM_{room}")
    messages = [event("room_started", info)]
    for n, identity in enumerate(identities):
        status, body, _ = await ask_token(client, room, identity)
        assert status == 200, body
        gated.livekit.join(room, identity)
        messages.append(
            event("participant_joined", info, who=participant(identity, f"PA_{room}_{n}"))
        )
    for message in messages:
        payload, headers = signed(message)
        response = await client.post("/v1/livekit/webhook", data=payload, headers=headers)
        assert response.status_code == 200
    await apply_pending(gated.running.services.rooms, room)
