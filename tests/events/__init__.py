"""Events out: the sequencer, outbound webhook deliveries, the live feed.

Helpers the delivery and endpoint tests share: an app that may deliver to
loopback receivers, and events written through the real write API.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from models.outbox import Event, append
from tests.conftest import Client, Running, app_running
from tests.support.clock import FakeClock
from tests.support.settings import AUTH, make_settings

# Short retries, so a test sees a delivery retried and given up in a second.
RETRIES = "0.2,0.2"


@contextlib.asynccontextmanager
async def started(database_url: str, clock: FakeClock, **overrides: Any) -> AsyncIterator[Running]:
    """The app delivering to loopback receivers (OUTBOUND_ALLOW_PRIVATE), retrying soon."""
    values: dict[str, Any] = {
        "outbound_allow_private": True,
        "outbound_retry_seconds": RETRIES,
        "outbound_timeout_seconds": 2.0,
    }
    values.update(overrides)
    async with app_running(make_settings(database_url, **values), clock) as running:
        yield running


async def register(client: Client, url: str, **fields: Any) -> dict[str, Any]:
    """A new endpoint, through the route: its fields and its secret."""
    response = await client.post("/v1/webhook-endpoints", json={"url": url, **fields}, headers=AUTH)
    body: dict[str, Any] = await response.get_json()
    assert response.status_code == 201, body
    return body


async def emit(app: Running, *events: tuple[str, str, dict[str, Any]]) -> None:
    """Write (room, type, data) events in one transaction, as a change would, and say so."""
    services = app.services
    at = services.now()
    async with services.database.transaction() as conn:
        await append(
            conn, [Event(type_, room, {"room": room, **data}, at) for room, type_, data in events]
        )
    services.events.committed()


def joined(room: str, identity: str) -> tuple[str, str, dict[str, Any]]:
    return room, "participant.joined", {"identity": identity}


async def attempts(client: Client, endpoint_id: str, **query: Any) -> dict[str, Any]:
    """One page of the endpoint's attempts, through the deliveries route."""
    response = await client.get(
        f"/v1/webhook-endpoints/{endpoint_id}/deliveries", query_string=query, headers=AUTH
    )
    body: dict[str, Any] = await response.get_json()
    assert response.status_code == 200, body
    return body
