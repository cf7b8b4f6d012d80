"""A loopback JSON-RPC proxy in front of anvil: counts what the app asks, and can answer late.

Tests point CHAIN_RPC_URLS at it to count RPC exchanges (single-flight, the
re-check's batches), to make one holder's reads slow while others' flow, to
make every answer later than CHAIN_TIMEOUT_SECONDS, or to play a hostile node
that answers some exchanges with bytes of its choosing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from tests.support.server import free_port


class RPCProxy:
    """Forwards each POST to `upstream`; `exchanges` holds every body received, parsed."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.exchanges: list[Any] = []
        # Delay every exchange whose body mentions this text (e.g. a holder's
        # address without 0x, as it appears in calldata); "" delays all.
        self.slow_text: str | None = None
        self.slow_seconds = 0.0
        # Set to release slow exchanges early (a test's way to end a hold).
        self.release = asyncio.Event()
        self.down = False
        # A hostile node: given each parsed request body, the raw bytes to answer
        # instead of the upstream's, or None to forward it as usual.
        self.hostile: Callable[[Any], bytes | None] | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def eth_calls(self) -> int:
        """How many eth_call requests arrived (batched or not)."""
        count = 0
        for body in self.exchanges:
            for item in body if isinstance(body, list) else [body]:
                count += item.get("method") == "eth_call"
        return count

    def slow_down(self, text: str, seconds: float) -> None:
        self.slow_text = text.lower().removeprefix("0x")
        self.slow_seconds = seconds

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.exchanges.append(json.loads(raw))
        if self.slow_text is not None and self.slow_text in raw.decode().lower():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), self.slow_seconds)
        if self.down:
            return web.Response(status=502, text="upstream down")
        forged = None if self.hostile is None else self.hostile(self.exchanges[-1])
        if forged is not None:
            return web.Response(body=forged, content_type="application/json")
        assert self._session is not None
        async with self._session.post(
            self.upstream, data=raw, headers={"Content-Type": "application/json"}
        ) as answer:
            body = await answer.read()
        return web.Response(body=body, content_type="application/json")

    async def __aenter__(self) -> RPCProxy:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_post("/", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()
