"""A TCP proxy in front of PostgreSQL that can hold the server's answers back.

For the one failure a timeout cannot tell apart from a refusal: a statement
that the server ran and committed, whose answer never reached the client in
time (a slow network, a stalled client). `hold_after(marker, seconds)`: once a
client sends bytes containing `marker` (the text of a statement, which
asyncpg sends with every execution when its statement cache is off), the
server's answer to the execution that follows (asyncpg parses a statement,
then binds and executes it in a second message) waits `seconds` before it is
passed on: by then the server has run, and committed, the statement.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit


class PostgresProxy:
    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self._upstream_host = parts.hostname or "127.0.0.1"
        self._upstream_port = parts.port or 5432
        self._upstream = parts
        self._server: asyncio.Server | None = None
        self._marker: bytes | None = None
        self._hold_seconds = 0.0
        self._then: bytes | None = None
        self.held = 0  # answers held back so far
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """The upstream URL with the proxy's address, and no statement cache."""
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        netloc = self._upstream.netloc.rsplit("@", 1)
        auth = netloc[0] + "@" if len(netloc) == 2 else ""
        query = "statement_cache_size=0"
        return urlunsplit(
            (self._upstream.scheme, f"{auth}127.0.0.1:{port}", self._upstream.path, query, "")
        )

    def hold_after(self, marker: bytes, seconds: float, *, then: bytes | None = None) -> None:
        """Hold the answer to the execution after `marker`; with `then` (b"COMMIT":
        a statement inside a transaction), the answer to the first message after
        `marker` that contains `then` instead."""
        self._marker, self._hold_seconds, self._then = marker, seconds, then

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(
            self._upstream_host, self._upstream_port
        )
        marked = asyncio.Event()
        armed = False
        then: bytes | None = None

        async def client_to_server() -> None:
            nonlocal armed, then
            while data := await reader.read(65536):
                if armed and (then is None or then in data):
                    armed = False
                    marked.set()  # the execution of the marked statement (or its commit)
                elif self._marker is not None and self._marker in data:
                    self._marker = None  # once
                    then, armed = self._then, True
                    if then is not None and then in data:
                        armed = False
                        marked.set()
                up_writer.write(data)
                await up_writer.drain()
            up_writer.close()

        async def server_to_client() -> None:
            while data := await up_reader.read(65536):
                if marked.is_set():
                    marked.clear()
                    self.held += 1
                    await asyncio.sleep(self._hold_seconds)
                writer.write(data)
                await writer.drain()
            writer.close()

        with contextlib.suppress(OSError, ConnectionError):
            await asyncio.gather(client_to_server(), server_to_client())

    def _track(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def __aenter__(self) -> PostgresProxy:
        self._server = await asyncio.start_server(self._track, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
