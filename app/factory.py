"""The app factory: `create_app()` is what Hypercorn serves and what tests run."""

from __future__ import annotations

from collections.abc import Callable
from types import FunctionType
from typing import Any

from quart import Quart, Response
from quart.sessions import NullSession, SessionInterface
from quart.wrappers import BaseRequestWebsocket
from quart_schema import QuartSchema

from app.blueprints import (
    auth,
    docs,
    events,
    health,
    lobby,
    metrics,
    moderation,
    ops,
    presence,
    recordings,
    rooms,
    tokens,
    webhook_endpoints,
    webhooks,
)
from app.cluster.routing import install_room_routing
from app.http.access_log import install_access_log
from app.http.auth import install_caller_guard
from app.http.cors import install_cors
from app.http.database_budget import DATABASE_EXTENSION
from app.http.errors import register_error_handlers
from app.http.openapi import QariOpenAPIProvider
from app.http.rate_limits import install_rate_limits
from app.http.request_body import ApiRequest
from app.lifecycle import StartupError, install_lifecycle
from app.logs import configure_logging
from app.services import Services, build_services
from app.settings import Settings
from app.version import VERSION

# The largest body any route takes: a LiveKit webhook with room and participant
# metadata. Larger bodies get 413 before anything reads them.
MAX_BODY_BYTES = 256 * 1024

API_DESCRIPTION = """\
Rooms, join tokens and LiveKit webhooks for Qari's video conferences. Every
`/v1` route except health, sign-in and the webhook needs `Authorization: Bearer
<credential>`: an API key (Qari's services), or a wallet session from
`POST /v1/auth/siwe` (people, from the dApp; each route says what a wallet may
do). Errors are always `{"detail": ..., "code": ...}`.
"""


class NoCookieSessions(SessionInterface):
    """No cookie session: credentials travel in `Authorization`, never in cookies.

    Quart's default interface builds a signing serializer and looks for the
    cookie on every request when SECRET_KEY is set (about 3 % of a token
    request in py-spy); nothing here reads or writes `quart.session`, so every
    request gets an empty, read-only session and nothing is ever saved.
    """

    async def open_session(self, app: Quart, request: BaseRequestWebsocket) -> NullSession:
        return NullSession()


class QariApp(Quart):
    """Quart, except that a StartupError is not logged again with its traceback,
    and that what is known to be async is not asked again.

    The lifecycle has logged it in one line saying what to do; a traceback
    would bury that line (any other start-up error keeps its traceback).

    Quart passes every hook and view through `ensure_async` on every request,
    which asks `iscoroutinefunction` each time (a token request has eight
    hooks and a view). Those are plain functions, fixed once registered: an
    async one is remembered (a sync one still goes to a thread, as Quart does).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._known_async: set[Callable[..., Any]] = set()

    def ensure_async(self, func: Callable[..., Any]) -> Callable[..., Any]:
        if func in self._known_async:
            return func
        ensured = super().ensure_async(func)
        # Only module-level and nested `def`s: a bound method is a new object per
        # lookup, and the set must not grow with anything made per request.
        if ensured is func and type(func) is FunctionType and len(self._known_async) < 4096:
            self._known_async.add(func)
        return ensured

    def log_exception(self, exception_info: Any) -> None:
        if isinstance(exception_info[1], StartupError):
            return
        super().log_exception(exception_info)


def _skip_conversion_of_responses(app: Quart) -> None:
    """quart-schema wraps `make_response` to turn pydantic models and dataclasses
    returned by views into JSON; a view that returns a finished Response (the hot
    routes, app/http/validation.py) has nothing to convert, so it skips that."""
    converting = app.make_response

    async def make_response(result: Any) -> Any:
        if isinstance(result, Response):
            return result
        return await converting(result)

    app.make_response = make_response  # type: ignore[method-assign]


def create_app(settings: Settings | None = None, services: Services | None = None) -> Quart:
    """Build the app; settings are read here (once), never at import."""
    settings = settings or (services.settings if services else Settings())
    configure_logging(settings.secrets(), settings.log_level, settings.log_format)
    # After logging is set up: building services may log (the LiveKit gateway does).
    services = services or build_services(settings)

    app = QariApp("qari")
    app.request_class = ApiRequest
    # (Quart types its attribute as its own cookie interface: hence the ignore.)
    app.session_interface = NoCookieSessions()  # type: ignore[assignment]
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["SECRET_KEY"] = settings.app_secret_key.get_secret_value() or None
    app.extensions["qari"] = services
    services.metrics.identify_node(services.ownership.node_id)
    app.extensions[DATABASE_EXTENSION] = services.database
    QuartSchema(
        app,
        info={"title": "Qari backend", "version": VERSION, "description": API_DESCRIPTION},
        security_schemes={"api_key": {"type": "http", "scheme": "bearer"}},
        # (a wallet session is a bearer token too, so one scheme covers both)
        security=[{"api_key": []}],
        openapi_provider_class=QariOpenAPIProvider,
        # /docs (Swagger UI) and /redocs, with assets this app serves; no Scalar page,
        # whose assets would come from a CDN.
        scalar_ui_path=None,
    )
    _skip_conversion_of_responses(app)
    docs.configure_docs(app)
    for module in (
        health,
        auth,
        rooms,
        tokens,
        presence,
        moderation,
        recordings,
        lobby,
        webhooks,
        webhook_endpoints,
        events,
        ops,
        metrics,
        docs,
    ):
        app.register_blueprint(module.blueprint)
    # First of the before_request hooks, so the access log and metrics time
    # (and see) every request, a refused one included; its arrival stamp also
    # starts the request's database budget (app/http/database_budget.py).
    install_access_log(app, services.metrics)
    # CORS next: preflights are answered before anything asks for a credential.
    install_cors(app, settings.cors_allowed_origins)
    install_caller_guard(app, settings.api_keys, services.wallet_sessions)
    # After the guard: who the caller is decides who is spared and which wallet counts.
    install_rate_limits(
        app,
        services.rate_limiter,
        services.metrics,
        None if services.forwarder is None else services.forward_key,
    )
    # Last: a request is forwarded to its room's owner only once this node has
    # checked its caller and spent its budget (the owner checks the caller again).
    install_room_routing(
        app,
        services.ownership,
        services.forwarder,
        services.database,
        services.holders,
        has_actor=services.rooms.__contains__,
    )
    register_error_handlers(app)
    install_lifecycle(app, services)
    return app
