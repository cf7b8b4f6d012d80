"""The HTTP session for webhook deliveries: it opens no connection into the private network.

A URL checked at registration proves little at delivery: its name may
resolve elsewhere by then (DNS rebinding), a redirect may point anywhere.
So, unless `allow_private`, the session checks every connection it opens,
whatever led to it, in two places:
- its resolver drops the addresses `refusal` forbids (and fails when none is
  left), so a connection is only attempted to allowed ones;
- its socket factory checks the address each socket is about to connect to,
  which also covers literal IPs (aiohttp does not resolve those) and any
  path around the resolver.
Plain http is refused on every hop too. Every refusal comes out of a
request as aiohttp.ClientConnectorError (a ClientError, never retried by
aiohttp) whose `os_error` is a ForbiddenConnectionError saying why.

Connections are bounded (in all and per host) so a slow endpoint holds a few
of them, not all; each request is bounded by `timeout_seconds` in all (DNS,
connect, send, answer). Needs aiohttp >= 3.12 (socket_factory, middlewares).
"""

from __future__ import annotations

import errno
import socket

import aiohttp
from aiohappyeyeballs import AddrInfoType
from aiohttp.abc import AbstractResolver, ResolveResult

from app.outbound.addresses import address_error, literal_address

# Defaults for DESIGN section 7: OUTBOUND_TIMEOUT_SECONDS is 5.
TIMEOUT_SECONDS = 5.0
# Enough for many endpoints at once; per host as many as a healthy endpoint's
# attempts in flight (app/events/delivery.py caps a slow one far lower).
CONNECTIONS = 256
CONNECTIONS_PER_HOST = 64
USER_AGENT = "Qari-Webhooks"


class ForbiddenConnectionError(ConnectionError):
    """A connection the session would not open: its address or scheme is not allowed."""

    def __init__(self, message: str) -> None:
        # With an errno, aiohttp's ClientConnectorError shows `message` as its strerror.
        super().__init__(errno.EACCES, message)


def _refusal(host: str, via: str | None = None) -> str | None:
    address = literal_address(host)
    if address is None:
        # Not an address we can judge, so not one we connect to.
        return f"{host!r} is not an IP address"
    return address_error(address, via)


class GuardedResolver(AbstractResolver):
    """Resolves with `inner`, keeping only the addresses Qari may connect to."""

    def __init__(self, inner: AbstractResolver) -> None:
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        allowed: list[ResolveResult] = []
        refused: list[str] = []
        for result in await self._inner.resolve(host, port, family):
            message = _refusal(result["host"], host)
            if message is None:
                allowed.append(result)
            else:
                refused.append(message)
        if not allowed:
            # Why, with the first refused address (all were, or none came back).
            raise ForbiddenConnectionError(refused[0] if refused else f"{host} resolves to nothing")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def guarded_socket(addr_info: AddrInfoType) -> socket.socket:
    """A socket for `addr_info`, if its address is allowed: the last check before connect()."""
    family, type_, proto, _, sockaddr = addr_info
    message = _refusal(str(sockaddr[0]))
    if message is not None:
        raise ForbiddenConnectionError(message)
    return socket.socket(family=family, type=type_, proto=proto)


async def _https_only(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    # Middlewares run on every hop, redirects included.
    if request.url.scheme != "https":
        refused = ForbiddenConnectionError(
            f"plain {request.url.scheme} to {request.url.host} (https only, "
            "unless OUTBOUND_ALLOW_PRIVATE=true)"
        )
        # As the connector would say it (an OSError raised here would come out
        # as a bare ClientOSError, which aiohttp may retry, without our type).
        raise aiohttp.ClientConnectorError(request.connection_key, refused)
    return await handler(request)


def create_session(
    allow_private: bool,
    *,
    timeout_seconds: float = TIMEOUT_SECONDS,
    limit: int = CONNECTIONS,
    limit_per_host: int = CONNECTIONS_PER_HOST,
    resolver: AbstractResolver | None = None,
) -> aiohttp.ClientSession:
    """The session for webhook deliveries; call inside the running loop, close it when done.

    `resolver` replaces the system's (getaddrinfo in a thread), e.g. a fake
    one in tests; its closing stays the caller's. Deliveries should pass
    `allow_redirects=False`: a webhook is answered, not forwarded (a redirect
    followed would still be checked, but a receiver should fix its URL).
    """
    inner = resolver if resolver is not None else aiohttp.ThreadedResolver()
    if allow_private:
        connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit_per_host, resolver=inner)
        middlewares: tuple[aiohttp.ClientMiddlewareType, ...] = ()
    else:
        connector = aiohttp.TCPConnector(
            limit=limit,
            limit_per_host=limit_per_host,
            resolver=GuardedResolver(inner),
            socket_factory=guarded_socket,
        )
        middlewares = (_https_only,)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout_seconds),
        middlewares=middlewares,
        # No cookies: receivers are services, not browsers, and one must not
        # see what another set. No proxy from the environment: a proxy would
        # connect on our behalf to addresses the guard never saw.
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
    )
