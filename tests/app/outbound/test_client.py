"""The delivery session opens no connection to a forbidden address, whatever DNS says (issue 25).

A real request to a loopback receiver goes through only with allow_private;
without it the guard refuses before connect(), so nothing reaches the
receiver: not a request, not even a connection. A fake resolver plays DNS
answering differently at delivery than at registration (rebinding).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from standardwebhooks.webhooks import Webhook

from app.outbound.client import (
    ForbiddenConnectionError,
    GuardedResolver,
    create_session,
    guarded_socket,
)
from app.outbound.signing import headers, new_secret


class FakeResolver(AbstractResolver):
    """DNS as a table: a name's answer may change between registration and delivery."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in self.answers:
            raise OSError(f"{host} unknown")
        return [
            ResolveResult(
                hostname=host,
                host=a,
                port=port,
                family=socket.AF_INET6 if ":" in a else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for a in self.answers[host]
        ]

    async def close(self) -> None:
        pass


async def test_the_resolver_keeps_only_allowed_addresses() -> None:
    guarded = GuardedResolver(
        FakeResolver({"mixed.example": ["10.0.0.7", "1.1.1.1"], "inside.example": ["10.0.0.7"]})
    )
    assert [r["host"] for r in await guarded.resolve("mixed.example", 443)] == ["1.1.1.1"]
    with pytest.raises(ForbiddenConnectionError, match=r"inside\.example resolves to 10\.0\.0\.7"):
        await guarded.resolve("inside.example", 443)


def test_the_socket_factory_refuses_a_forbidden_address() -> None:
    stream = (socket.AF_INET, socket.SOCK_STREAM, 6, "")
    with pytest.raises(ForbiddenConnectionError, match="loopback"):
        guarded_socket((*stream, ("127.0.0.1", 443)))
    with pytest.raises(ForbiddenConnectionError, match="link-local"):
        guarded_socket((*stream, ("169.254.169.254", 80)))
    guarded_socket((*stream, ("1.1.1.1", 443))).close()


class Receiver:
    """A loopback webhook receiver that counts what reached it."""

    def __init__(self) -> None:
        self.requests: list[tuple[bytes, dict[str, str]]] = []
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((await request.read(), dict(request.headers)))
        return web.Response(status=204)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hooks", found.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.port = runner.addresses[0][1]
    yield found
    await runner.cleanup()


def _forbidden(error: BaseException) -> bool:
    """Whether the guard refused this: it always says so in a ClientConnectorError."""
    return isinstance(error, aiohttp.ClientConnectorError) and isinstance(
        error.os_error, ForbiddenConnectionError
    )


async def _post(session: aiohttp.ClientSession, url: str, secret: str) -> int:
    body = b'{"type": "ping", "timestamp": "2025-01-01T00:00:00Z", "data": {}}'
    sent = headers([secret], "evt_ping", int(time.time()), body)
    async with session.post(url, data=body, headers=sent, allow_redirects=False) as answer:
        return answer.status


async def test_a_request_to_loopback_goes_through_only_when_allowed(receiver: Receiver) -> None:
    secret = new_secret()
    async with create_session(allow_private=True) as session:
        assert await _post(session, f"http://127.0.0.1:{receiver.port}/hooks", secret) == 204
    [(body, sent)] = receiver.requests
    # What arrived verifies with the receiver's own library.
    Webhook(secret).verify(body, sent)

    receiver.requests.clear()
    async with create_session(allow_private=False) as session:
        for url in (
            f"https://127.0.0.1:{receiver.port}/hooks",
            f"https://localhost:{receiver.port}/hooks",
            f"https://[::ffff:127.0.0.1]:{receiver.port}/hooks",
            # Plain http is refused before any address is looked at.
            f"http://127.0.0.1:{receiver.port}/hooks",
        ):
            with pytest.raises(aiohttp.ClientConnectorError) as refused:
                await _post(session, url, secret)
            assert _forbidden(refused.value), (url, refused.value)
    assert receiver.requests == []


async def test_a_name_rebound_to_loopback_is_refused_at_delivery(receiver: Receiver) -> None:
    # Registered while it resolved to a public address; now DNS says loopback.
    dns = FakeResolver({"hooks.example": ["127.0.0.1"]})
    url = f"https://hooks.example:{receiver.port}/hooks"
    async with create_session(allow_private=False, resolver=dns) as session:
        with pytest.raises(aiohttp.ClientConnectorError) as refused:
            await _post(session, url, new_secret())
        assert _forbidden(refused.value)
        assert "hooks.example resolves to 127.0.0.1" in str(refused.value.os_error)
    assert receiver.requests == []
    # The same answer serves when private addresses are allowed: the guard refused it.
    async with create_session(allow_private=True, resolver=dns) as session:
        assert await _post(session, url.replace("https", "http"), new_secret()) == 204
    assert len(receiver.requests) == 1


@pytest.fixture
async def listener() -> AsyncIterator[tuple[int, Callable[[], int]]]:
    """A bare TCP listener on loopback: counts connections, whatever is said on them."""
    accepted = 0

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        writer.close()

    server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield port, lambda: accepted


async def test_a_refused_address_is_never_connected(
    listener: tuple[int, Callable[[], int]],
) -> None:
    port, accepted = listener
    async with create_session(allow_private=False) as session:
        with pytest.raises(aiohttp.ClientConnectorError) as refused:
            await _post(session, f"https://127.0.0.1:{port}/hooks", new_secret())
        assert _forbidden(refused.value)
    await asyncio.sleep(0.05)
    assert accepted() == 0
    # Unguarded, the same URL connects (the TLS handshake then fails on this listener).
    async with create_session(allow_private=True, timeout_seconds=2) as session:
        with pytest.raises((aiohttp.ClientError, OSError)) as failed:
            await _post(session, f"https://127.0.0.1:{port}/hooks", new_secret())
        assert not _forbidden(failed.value)
    await asyncio.sleep(0.05)
    assert accepted() == 1
