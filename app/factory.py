"""The app factory: `create_app()` is what Hypercorn serves and what tests run."""

from __future__ import annotations

from quart import Quart
from quart_schema import QuartSchema

from app.auth import install_api_key_guard
from app.blueprints import health, moderation, ops, presence, rooms, tokens, webhooks
from app.errors import register_domain_errors, register_error_handlers
from app.lifecycle import install_lifecycle
from app.logs import configure_logging
from app.openapi import QariOpenAPIProvider
from app.services import Services, build_services
from app.settings import Settings

# The largest body any route takes: a LiveKit webhook with room and participant
# metadata. Larger bodies get 413 before anything reads them.
MAX_BODY_BYTES = 256 * 1024

API_DESCRIPTION = """\
Rooms, join tokens and LiveKit webhooks for Qari's video conferences. Every
`/v1` route except health and the webhook needs `Authorization: Bearer <API key>`.
Errors are always `{"detail": ..., "code": ...}`.
"""


def create_app(settings: Settings | None = None, services: Services | None = None) -> Quart:
    """Build the app; settings are read here (once), never at import."""
    settings = settings or (services.settings if services else Settings())
    services = services or build_services(settings)
    configure_logging(settings.secrets())

    app = Quart("qari")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["SECRET_KEY"] = settings.app_secret_key.get_secret_value() or None
    app.extensions["qari"] = services
    QuartSchema(
        app,
        info={"title": "Qari backend", "version": "1.0.0", "description": API_DESCRIPTION},
        security_schemes={"api_key": {"type": "http", "scheme": "bearer"}},
        security=[{"api_key": []}],
        openapi_provider_class=QariOpenAPIProvider,
    )
    for module in (health, rooms, tokens, presence, moderation, webhooks, ops):
        app.register_blueprint(module.blueprint)
    install_api_key_guard(app, settings.api_keys)
    register_error_handlers(app)
    register_domain_errors(app)
    install_lifecycle(app, services)
    return app
