"""The token bench's second baseline: a bare Quart app, in its own process, minting as we do.

No auth, no schema validation, no actor, no database, no middleware of ours:
one route that reads the JSON body and mints the same join token the real
route mints (the same `LiveKitGateway.mint_token`, for the room configuration
the bench creates through the real API), answered with the same fields.
Served the same way (`python -m bench.harness serve bench.bare_app:create_bare_app`,
hypercorn.toml), so the ratio is what our route costs on top of our minting.
The headline baseline is the shared one (bench/baselines.py), which mints with
livekit-api: against this one, the cost of our minting would not show.
"""

from __future__ import annotations

from typing import Any

from quart import Quart, request

from app.livekit_gateway import LiveKitGateway, RoomConfig, TokenRequest
from app.settings import Settings

# The room the token bench creates through the real API (`POST /v1/rooms`).
BARE_ROOM = RoomConfig(
    name="bench-tokens",
    empty_timeout=600,
    departure_timeout=20,
    max_participants=10_000,
    metadata=None,
)
BARE_PATH = "/token"


def create_bare_app() -> Quart:
    settings = Settings()
    gateway = LiveKitGateway(settings)
    app = Quart("bare")

    @app.get("/v1/health/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ok"}  # what the harness polls before a run

    @app.post(BARE_PATH)
    async def bare_token() -> dict[str, Any]:
        data = await request.get_json(force=True)
        token_request = TokenRequest(
            identity=data["identity"],
            name=data.get("name"),
            role=data.get("role", "speaker"),
            metadata=data.get("metadata"),
            attributes=data.get("attributes"),
            ttl_seconds=int(data.get("ttl_seconds", 600)),
        )
        token, expires_at = gateway.mint_token(BARE_ROOM, token_request)
        return {
            "token": token,
            "url": settings.livekit_client_url,
            "identity": token_request.identity,
            "room": BARE_ROOM.name,
            "expires_at": expires_at.isoformat(),
        }

    return app
