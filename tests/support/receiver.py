"""A loopback webhook receiver for the delivery tests: it records every request and
answers as scripted (a status, or hang until released), and can be down (its
port refusing connections) and up again on the same port.

It only records: tests check signatures with the PyPI `standardwebhooks`
package (`verified`), never with the service's own code.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from standardwebhooks.webhooks import Webhook

from tests.support.server import free_port

T = TypeVar("T")

HANG = -1  # an answer that waits until `release()` (or the sender gives up)


@dataclass
class Received:
    """One request as it arrived."""

    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()
    status: int | None = None  # what it was answered (None: no answer yet, or never)

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def type(self) -> str:
        return str(self.json["type"])

    @property
    def room(self) -> str:
        return str(self.json["data"].get("room"))

    def verified(self, secret: str) -> Any:
        """The body, if `secret` verifies the request (standardwebhooks raises otherwise)."""
        return Webhook(secret).verify(self.body, self.headers)


class Receiver:
    """Records requests to `url`; answers from the script, else `default` (200).

    `script(*answers, when=...)` queues answers for the requests `when` picks
    (without it: any request no other queue answers). An answer is a status or
    HANG; `hold_seconds` delays every answer (a slow receiver).
    """

    def __init__(self, *, default: int = 200, hold_seconds: float = 0.0) -> None:
        self.port = free_port()
        self.default = default
        self.hold_seconds = hold_seconds
        self.received: list[Received] = []
        self.hanging = 0
        self.most_hanging = 0
        self._scripts: list[tuple[Callable[[Received], bool] | None, deque[int]]] = []
        self._release = asyncio.Event()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def __aenter__(self) -> Receiver:
        await self.up()
        return self

    async def __aexit__(self, *_: object) -> None:
        self.release()
        await self.down()

    async def up(self) -> None:
        """Listen (again) on this receiver's port."""
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port, reuse_address=True).start()
        self._runner = runner

    async def down(self) -> None:
        """Stop listening and drop every open connection: connects are refused."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def script(self, *answers: int, when: Callable[[Received], bool] | None = None) -> None:
        self._scripts.append((when, deque(answers)))

    def release(self) -> None:
        """Answer the hanging requests (with `default`), and hang no more until scripted."""
        self._release.set()
        self._release = asyncio.Event()

    def of(self, webhook_id: str) -> list[Received]:
        return [r for r in self.received if r.id == webhook_id]

    def delivered(self) -> list[Received]:
        """The requests answered 2xx, in the order they arrived."""
        return [r for r in self.received if r.status is not None and 200 <= r.status < 300]

    async def wait_until(self, check: Callable[[], bool], timeout: float = 5.0) -> None:
        """Until `check()` holds (tested at each request and answer), else TimeoutError."""
        async with asyncio.timeout(timeout):
            while not check():
                await self._changed.wait()

    def _changed_now(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _answer_for(self, item: Received) -> int:
        picked = [queue for when, queue in self._scripts if queue and when and when(item)]
        picked += [queue for when, queue in self._scripts if queue and when is None]
        return picked[0].popleft() if picked else self.default

    async def _handle(self, request: web.Request) -> web.Response:
        item = Received({k.lower(): v for k, v in request.headers.items()}, await request.read(), 0)
        item.at = time.monotonic()
        self.received.append(item)
        self._changed_now()
        answer = self._answer_for(item)
        if answer == HANG:
            self.hanging += 1
            self.most_hanging = max(self.most_hanging, self.hanging)
            try:
                await self._release.wait()
            finally:
                self.hanging -= 1
                self._changed_now()
            answer = self.default
        if self.hold_seconds:
            await asyncio.sleep(self.hold_seconds)
        if request.transport is not None and not request.transport.is_closing():
            # Answered to a sender still there (one that gave up gets nothing).
            item.status = answer
        self._changed_now()
        return web.Response(status=answer)


async def eventually(
    check: Callable[[], Awaitable[T]], timeout: float = 5.0, every: float = 0.02
) -> T:
    """`check()`'s first truthy result, asked every `every` s; TimeoutError past `timeout`.

    For conditions nothing announces (a row in the database, a process's answer).
    """
    async with asyncio.timeout(timeout):
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(every)
