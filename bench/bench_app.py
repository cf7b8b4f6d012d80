"""The real app plus a bare baseline route, for the webhook benchmark only.

`create_bench_app()` builds the app exactly as production does
(`create_app(Settings())`), then adds `POST /bench/webhook-verify`: verifies
the webhook signature with the same `LiveKitGateway.verify_webhook` and
answers 200, storing nothing.

This route exists only in this factory, which only the benchmarks serve
(`python -m bench.harness serve bench.bench_app:create_bench_app`). It carries
all our middleware, so it is the webhook rows' second baseline; their headline
one is the shared bare verifying app in its own process (bench/baselines.py).
"""

from __future__ import annotations

from quart import Quart, Response, request

from app.blueprints.webhooks import ACK_BODY
from app.factory import create_app
from app.livekit_gateway import WebhookPayloadError, WebhookSignatureError
from app.services import Services
from app.settings import Settings


def create_bench_app() -> Quart:
    app = create_app(Settings())
    services: Services = app.extensions["qari"]
    gateway = services.gateway

    @app.post("/bench/webhook-verify")
    async def webhook_verify() -> tuple[dict[str, str], int] | Response:
        body = await request.get_data(cache=False, as_text=False, parse_form_data=False)
        try:
            gateway.verify_webhook(body, request.headers.get("Authorization"))
        except (WebhookSignatureError, WebhookPayloadError):
            return {"detail": "Invalid webhook.", "code": "unauthorized"}, 401
        # The real route's answer, made the same way (a ready Response).
        return Response(ACK_BODY, status=200, content_type="application/json")

    return app
