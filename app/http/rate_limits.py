"""Rate limits (DESIGN.md section 12): what a client may ask for without an API key.

- Sign-in (`POST /v1/auth/nonce` and `POST /v1/auth/siwe`, one budget) per
  client address: nonces are kept 10 minutes and a contract-wallet check costs
  chain reads, and neither needs a credential.
- Room creation and token requests per wallet and per client address: wallets
  are free, so `WALLET_MAX_ROOMS` alone does not bound what one client creates.
- Service callers (an API key) are not limited and do not count.

Over a limit: 429 `rate_limited` with `Retry-After`, and nothing is counted, so
a client that keeps knocking is not pushed further back. The buckets are fixed
windows kept in this process by the `limits` library (per node, as the design
allows): one counter per key, whatever the limit, so memory and the library's
expiry sweep stay small when many addresses call.

Routes are chosen by endpoint name, so the blueprints carry nothing for this;
the lobby's knock will spend the token budget when it exists.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from types import MappingProxyType
from typing import TYPE_CHECKING

from limits import (
    RateLimitItem,
    RateLimitItemPerDay,
    RateLimitItemPerHour,
    RateLimitItemPerMinute,
    RateLimitItemPerSecond,
)
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from quart import Quart, g, request

from app.cluster.forwarding import verified_forward
from app.http.errors import APIError, documents_errors
from app.settings_checks import RateLimit, parse_networks, parse_rate_limit

if TYPE_CHECKING:
    from app.http.auth import Caller
    from app.metrics import Metrics
    from app.settings import Settings

Network = IPv4Network | IPv6Network


class Budget(StrEnum):
    """What a request spends."""

    SIGNIN = "signin"
    ROOMS = "rooms"
    TOKENS = "tokens"


# The routes that are limited, by endpoint (blueprint.function), and their budget.
LIMITED_ENDPOINTS: Mapping[str, Budget] = MappingProxyType(
    {
        "auth.post_nonce": Budget.SIGNIN,
        "auth.post_siwe": Budget.SIGNIN,
        "rooms.create_room": Budget.ROOMS,
        "tokens.issue_token": Budget.TOKENS,
    }
)
# Budgets counted per wallet as well as per client address (sign-in has no wallet yet).
PER_WALLET = frozenset({Budget.ROOMS, Budget.TOKENS})

_WHAT = {
    Budget.SIGNIN: "sign-in requests",
    Budget.ROOMS: "room creations",
    Budget.TOKENS: "token requests",
}
_ITEM_OF_UNIT: dict[str, type[RateLimitItem]] = {
    "second": RateLimitItemPerSecond,
    "minute": RateLimitItemPerMinute,
    "hour": RateLimitItemPerHour,
    "day": RateLimitItemPerDay,
}
# The key of a request whose peer is not an IP address (a Unix socket): they share one.
UNKNOWN_PEER = "unknown"
# An IPv6 host is usually given a whole /64, so it is counted as one client.
IPV6_CLIENT_PREFIX = 64


def _parse_ip(text: str) -> IPv4Address | IPv6Address | None:
    """An address as a peer or a proxy writes it (`1.2.3.4`, `1.2.3.4:80`, `[::1]:80`, `::1`)."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        found = ip_address(text)
    except ValueError:
        return None
    if isinstance(found, IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def _client_key(address: IPv4Address | IPv6Address) -> str:
    if isinstance(address, IPv6Address):
        return str(ip_network(f"{address}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(address)


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted_proxies: Sequence[Network]
) -> str:
    """Who a request is counted as: its peer's address, or, when the peer is a
    trusted proxy, the last X-Forwarded-For hop (the address the proxy saw).

    Hops are taken from the right while the address in hand is a trusted proxy,
    so a chain of trusted proxies is crossed; what a client wrote to the left
    of them is never believed. A hop that is not an address ends the walk at
    the proxy that wrote it (its clients then share its budget).
    """
    current = _parse_ip(peer) if peer else None
    if current is None:
        return UNKNOWN_PEER
    if trusted_proxies:
        hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
        while hops and any(current in network for network in trusted_proxies):
            hop = _parse_ip(hops.pop())
            if hop is None:
                break
            current = hop
    return _client_key(current)


class RateLimiter:
    """The budgets of one app: fixed windows in this process's memory (`limits`).

    The window of a key starts at its first counted request and lasts the
    limit's unit; `limits`' memory storage keeps its own clock (`time.time`),
    which is also what `Retry-After` is computed with.
    """

    def __init__(
        self, limits: Mapping[Budget, RateLimit], trusted_proxies: Sequence[Network] = ()
    ) -> None:
        self.limits = dict(limits)
        self.trusted_proxies = tuple(trusted_proxies)
        self._items = {
            budget: _ITEM_OF_UNIT[limit.unit](limit.amount) for budget, limit in limits.items()
        }
        self._windows = FixedWindowRateLimiter(MemoryStorage())

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        return cls(
            {
                Budget.SIGNIN: parse_rate_limit(settings.rate_limit_signin),
                Budget.ROOMS: parse_rate_limit(settings.rate_limit_rooms),
                Budget.TOKENS: parse_rate_limit(settings.rate_limit_tokens),
            },
            parse_networks(settings.trusted_proxies),
        )

    def client_of(self, peer: str | None, forwarded_for: Iterable[str]) -> str:
        return client_address(peer, forwarded_for, self.trusted_proxies)

    def spend(self, budget: Budget, client: str, wallet: str | None = None) -> None:
        """Count one request against the client's budget (and the wallet's).

        Raises a 429 APIError, counting nothing, when either is spent. No await
        between the test and the hit: on the event loop the two are one step.
        """
        item = self._items[budget]
        keys = [("address", client)]
        if wallet is not None and budget in PER_WALLET:
            keys.append(("wallet", wallet))
        spent = [(per, key) for per, key in keys if not self._windows.test(item, budget, per, key)]
        if spent:
            raise self._refusal(budget, item, spent)
        for per, key in keys:
            self._windows.hit(item, budget, per, key)

    def _refusal(
        self, budget: Budget, item: RateLimitItem, spent: list[tuple[str, str]]
    ) -> APIError:
        now = time.time()
        resets = [
            self._windows.get_window_stats(item, budget, per, key).reset_time for per, key in spent
        ]
        retry_after = max(1, math.ceil(max(resets) - now))
        limit = self.limits[budget]
        whose = " and ".join(
            "this wallet" if per == "wallet" else "this address" for per, _ in spent
        )
        return APIError(
            429,
            "rate_limited",
            f"Too many {_WHAT[budget]} from {whose}: at most {limit.amount} per {limit.unit};"
            f" retry in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


def install_rate_limits(
    app: Quart, limiter: RateLimiter, metrics: Metrics, forward_key: bytes | None = None
) -> None:
    """Spend budgets on the limited routes. Install after the caller guard (app/http/auth.py):
    the caller it establishes decides who is spared and which wallet counts.

    A request another node of the cluster forwarded (signed with `forward_key`,
    app/cluster/forwarding.py) spent its budget at the node it reached first."""
    missing = sorted(set(LIMITED_ENDPOINTS) - set(app.view_functions))
    if missing:
        # A renamed view would otherwise silently lose its limit.
        raise RuntimeError(f"rate-limited endpoints not found in the app: {missing}")
    for endpoint in LIMITED_ENDPOINTS:
        # The OpenAPI document lists the 429 this hook adds to these routes' answers.
        documents_errors(429)(app.view_functions[endpoint])
    for budget in Budget:
        metrics.rate_limited.labels(budget.value)  # every series shown from the start, at 0

    @app.before_request
    async def limit_rate() -> None:
        budget = LIMITED_ENDPOINTS.get(request.endpoint or "")
        if budget is None:
            return
        caller: Caller | None = g.get("qari_caller")
        if caller is not None and caller.is_service:
            return
        if forward_key is not None and await verified_forward(forward_key, request):
            return
        peer = request.scope.get("client")
        client = limiter.client_of(
            peer[0] if peer else None, request.headers.getlist("X-Forwarded-For")
        )
        try:
            limiter.spend(budget, client, caller.address if caller is not None else None)
        except APIError:
            metrics.observe_rate_limited(budget.value)
            raise
