"""API-key authentication: secure by default for every `/v1` route.

A route opts out with `@public` (health, the webhook, which LiveKit signs).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import TypeVar

from quart import Quart, current_app, request

from app.errors import APIError

F = TypeVar("F", bound=Callable[..., object])

_PUBLIC_ATTR = "qari_public"
# Everything under these needs a key unless its view is public: the API, and
# the metrics (outside /v1 because Prometheus expects `/metrics`).
GUARDED_PREFIXES = ("/v1", "/metrics")


def public(view: F) -> F:
    """Mark a view as reachable without an API key."""
    setattr(view, _PUBLIC_ATTR, True)
    return view


def _key_matches(presented: str, keys: tuple[str, ...]) -> bool:
    presented_bytes = presented.encode()
    # Compare against every key so timing does not reveal which one matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented_bytes, key.encode())
    return matched


def install_api_key_guard(app: Quart, keys: tuple[str, ...]) -> None:
    """Every `/v1` and `/metrics` request needs `Authorization: Bearer <key>` unless public."""

    @app.before_request
    async def require_api_key() -> None:
        if not request.path.startswith(GUARDED_PREFIXES):
            return
        view = current_app.view_functions.get(request.endpoint or "")
        if view is None or getattr(view, _PUBLIC_ATTR, False):
            return
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented or not _key_matches(presented, keys):
            raise APIError(
                401,
                "unauthorized",
                "A valid API key is required: Authorization: Bearer <key>.",
                headers={"WWW-Authenticate": "Bearer"},
            )
