"""The real app plus two bare baseline routes, for the benchmarks only.

`create_bench_app()` builds the app exactly as production does
(`create_app(Settings())`), then adds:

- `POST /bench/bare-token`: mints a join token with the same
  `LiveKitGateway.mint_token`, for a fixed room configuration (the one the
  token bench creates through the API), with no actor and no database;
- `POST /bench/webhook-verify`: verifies the webhook signature with the same
  `LiveKitGateway.verify_webhook` and answers 200, storing nothing.

These routes exist only in this factory, which only the benchmarks serve
(`python -m bench.harness serve bench.bench_app:create_bench_app`).
"""

from __future__ import annotations

from typing import Any

from quart import Quart, request

from app.factory import create_app
from app.livekit_gateway import (
    RoomConfig,
    TokenRequest,
    WebhookPayloadError,
    WebhookSignatureError,
)
from app.services import Services
from app.settings import Settings

# The configuration of the room the token bench creates through the API
# (`POST /v1/rooms` with these values), so both routes mint the same token.
BARE_ROOM = RoomConfig(
    name="bench-tokens",
    empty_timeout=600,
    departure_timeout=20,
    max_participants=10_000,
    metadata=None,
)


def create_bench_app() -> Quart:
    app = create_app(Settings())
    services: Services = app.extensions["qari"]
    gateway = services.gateway
    url = services.settings.livekit_url

    @app.post("/bench/bare-token")
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
            "url": url,
            "identity": token_request.identity,
            "room": BARE_ROOM.name,
            "expires_at": expires_at.isoformat(),
        }

    @app.post("/bench/webhook-verify")
    async def webhook_verify() -> tuple[dict[str, str], int]:
        body = await request.get_data(cache=False, as_text=False, parse_form_data=False)
        try:
            gateway.verify_webhook(body, request.headers.get("Authorization"))
        except (WebhookSignatureError, WebhookPayloadError):
            return {"detail": "Invalid webhook.", "code": "unauthorized"}, 401
        return {"status": "ok"}, 200

    return app
