"""Who is calling: a service (an API key) or a wallet (a SIWE session), secure by default.

Every `/v1` view carries one mark saying who may call it:
- `@public`: anyone, no credential (health, the webhook LiveKit signs, sign-in);
- `@service_only`: API keys only; a wallet gets 403 `forbidden`;
- `@wallet_allowed`: API keys and wallet sessions; the view decides the rest
  (ownership, identity) with `current_caller()`.
A `/v1` view without a mark is treated as service-only (the policy test
insists that every route has one anyway). Outside `/v1`, marks are enforced
too (`/metrics` is service-only), and unmarked views (`/openapi.json`,
`/docs`, static files) are public.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from quart import Quart, g, request

from app.http.errors import APIError
from app.wallet.sessions import WalletIdentity, WalletSessions, looks_like_session_token

F = TypeVar("F", bound=Callable[..., object])

_ACCESS_ATTR = "qari_access"
# An unmarked route under these needs a service key: the API, and the metrics
# (outside /v1 because Prometheus expects `/metrics`). Elsewhere (docs) it is public.
GUARDED_PREFIXES = ("/v1", "/metrics")


class Access(StrEnum):
    """Who may call a route."""

    PUBLIC = "public"
    SERVICE_ONLY = "service_only"
    WALLET_ALLOWED = "wallet_allowed"


def _mark(access: Access) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        setattr(view, _ACCESS_ATTR, access)
        return view

    return decorate


public = _mark(Access.PUBLIC)
service_only = _mark(Access.SERVICE_ONLY)
wallet_allowed = _mark(Access.WALLET_ALLOWED)


def access_of(view: Callable[..., object]) -> Access | None:
    """The explicit mark of a view, if it has one."""
    found: Access | None = getattr(view, _ACCESS_ATTR, None)
    return found


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller of this request. `wallet` is None for a service."""

    wallet: WalletIdentity | None
    # The bearer token of a wallet session (to end it); never logged.
    session_token: str | None = None

    @property
    def is_service(self) -> bool:
        return self.wallet is None

    @property
    def address(self) -> str | None:
        return None if self.wallet is None else self.wallet.address


SERVICE = Caller(wallet=None)


def current_caller() -> Caller:
    """The caller the guard authenticated (views marked service-only or wallet-allowed)."""
    caller: Caller = g.qari_caller
    return caller


def _key_matches(presented: str, keys: tuple[str, ...]) -> bool:
    presented_bytes = presented.encode()
    # Compare against every key so timing does not reveal which one matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented_bytes, key.encode())
    return matched


def _unauthorized() -> APIError:
    return APIError(
        401,
        "unauthorized",
        "A valid credential is required: Authorization: Bearer <API key or wallet session>.",
        headers={"WWW-Authenticate": "Bearer"},
    )


def forbidden(detail: str) -> APIError:
    return APIError(403, "forbidden", detail)


def install_caller_guard(app: Quart, keys: tuple[str, ...], sessions: WalletSessions) -> None:
    """Every `/v1` and `/metrics` request is authenticated as its view's mark requires."""

    views = app.view_functions

    @app.before_request
    async def authenticate() -> None:
        # Every request passes here: the request is looked up once, not per use.
        asked = request._get_current_object()  # type: ignore[attr-defined]
        view = views.get(asked.endpoint or "")
        if view is None:
            return  # 404 / 405 follow
        access = access_of(view)
        if access is None:
            guarded = asked.path.startswith(GUARDED_PREFIXES)
            access = Access.SERVICE_ONLY if guarded else Access.PUBLIC
        scheme, _, presented = asked.headers.get("Authorization", "").partition(" ")
        presented = presented.strip()
        is_bearer = scheme.lower() == "bearer" and bool(presented)
        if access is Access.PUBLIC:
            # Nothing is asked for, but a service's key is still recognised, so
            # the rate limits spare services on public routes too (sign-in).
            if is_bearer and _key_matches(presented, keys):
                g.qari_caller = SERVICE
            return
        if not is_bearer:
            raise _unauthorized()
        if _key_matches(presented, keys):
            g.qari_caller = SERVICE
            return
        identity = (
            await sessions.resolve(presented) if looks_like_session_token(presented) else None
        )
        if identity is None:
            raise _unauthorized()
        if access is Access.SERVICE_ONLY:
            raise forbidden("This route is for Qari's services, not wallet sessions.")
        g.qari_caller = Caller(wallet=identity, session_token=presented)
