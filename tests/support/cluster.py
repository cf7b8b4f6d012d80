"""Several real nodes of the service (`python -m app`) on one PostgreSQL database.

For the cluster tests (DESIGN.md section 6): N processes on loopback ports,
node i with NODE_ID=node-i and NODE_URL its own address, all on one fresh
database made as the test suite makes its databases (tests/support/postgres.py:
created, the models' schema generated, the migrations recorded as applied).

A test drives the processes with signals: `terminate` (SIGTERM, then waits for
the exit), `kill` (SIGKILL), `stop`/`cont` (SIGSTOP/SIGCONT); `start` starts a
node again (its id, a new port). With `partitionable=True` each node reaches
PostgreSQL through a `PartitionProxy` of its own, whose `hold()` stops its
bytes both ways (the connections stay open, as across a partition) until
`release()`. Whatever happens in the test, `close()` kills every process still
running (a stopped one is continued first) and is also registered to run at
exit. Every wait here has a deadline.

The proxies and, if asked for, a fake LiveKit (tests/fakes/livekit_server.py)
run on an event loop of their own in a thread, so a test's busy loop (hundreds
of requests at once) or a sync fixture cannot stall them.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx

from tests.fakes.livekit_server import FakeLiveKit
from tests.support.postgres import create_throwaway_database, drop_database, generate_schema
from tests.support.server import free_port, server_env
from tests.support.settings import LIVEKIT_KEY, LIVEKIT_SECRET

T = TypeVar("T")

GENEROUS_RATE_LIMIT = "1000000/second"
READY_WITHIN = 40.0  # several nodes starting at once on a small machine
EXIT_WITHIN = 20.0
POLL = 0.01


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even inside a running loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


# -- a loop in a thread ------------------------------------------------------------------


class BackgroundLoop:
    """An asyncio loop on a daemon thread, for servers a test must not stall."""

    def __init__(self, name: str = "cluster-support") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self.loop.close()


@contextlib.contextmanager
def livekit_in_thread() -> Iterator[FakeLiveKit]:
    """The fake LiveKit RoomService, serving from a thread of its own."""
    background = BackgroundLoop("fake-livekit")

    async def make() -> FakeLiveKit:
        fake = FakeLiveKit(LIVEKIT_KEY, LIVEKIT_SECRET)
        await fake.start()
        return fake

    try:
        fake = background.run(make())
        try:
            yield fake
        finally:
            background.run(fake.stop())
    finally:
        background.close()


# -- a partition between a node and PostgreSQL ----------------------------------------


class PartitionProxy:
    """A TCP proxy in front of PostgreSQL for one node; `hold()` partitions it.

    While held, no byte passes either way (what was read is kept, not lost)
    and new connections wait to be connected upstream; `release()` lets all
    of it through. The node sees a database that stopped answering, as across
    a network partition, and PostgreSQL sees connections that went quiet.
    """

    def __init__(self, upstream_url: str, background: BackgroundLoop) -> None:
        parts = urlsplit(upstream_url)
        self._upstream = parts
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 5432
        self._background = background
        self._flowing: asyncio.Event | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        background.run(self._start())

    @property
    def url(self) -> str:
        """The upstream URL with the proxy's address in its place."""
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        auth, _, _ = self._upstream.netloc.rpartition("@")
        netloc = f"{auth}@127.0.0.1:{port}" if auth else f"127.0.0.1:{port}"
        parts = self._upstream
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))

    @property
    def held(self) -> bool:
        return self._flowing is not None and not self._flowing.is_set()

    def hold(self) -> None:
        self._background.run(self._set(flowing=False))

    def release(self) -> None:
        self._background.run(self._set(flowing=True))

    def close(self) -> None:
        self._background.run(self._close())

    async def _set(self, *, flowing: bool) -> None:
        assert self._flowing is not None
        if flowing:
            self._flowing.set()
        else:
            self._flowing.clear()

    async def _start(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        assert self._flowing is not None
        try:
            while data := await source.read(65536):
                await self._flowing.wait()
                sink.write(data)
                await sink.drain()
        except (OSError, ConnectionError):
            pass
        finally:
            sink.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._flowing is not None
        await self._flowing.wait()
        try:
            up_reader, up_writer = await asyncio.open_connection(self._host, self._port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


# -- the nodes ----------------------------------------------------------------------------


@dataclass
class ClusterNode:
    """One node: its id, and its current process (each start: a new port and log)."""

    index: int
    id: str
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    stopped: bool = False
    proxy: PartitionProxy | None = None
    log_paths: list[Path] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Its process exists and has not exited (it may be stopped)."""
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        """Everything its processes wrote, every start's in turn."""
        return "\n".join(p.read_text(errors="replace") for p in self.log_paths if p.exists())


class Cluster:
    """N nodes of the service on one database; see the module's docstring."""

    def __init__(
        self,
        database_url: str,
        workdir: Path,
        size: int = 3,
        *,
        lease_seconds: float = 3.0,
        forward_timeout_seconds: float = 5.0,
        livekit_url: str = "",
        partitionable: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.lease_seconds = lease_seconds
        self.forward_timeout_seconds = forward_timeout_seconds
        self.livekit_url = livekit_url
        # The fake LiveKit behind `livekit_url`, when a test holds one (set by it).
        self.livekit: FakeLiveKit | None = None
        self.env = dict(env or {})
        self._background = BackgroundLoop("partition-proxies") if partitionable else None
        self.nodes = [ClusterNode(i, f"node-{i}") for i in range(size)]
        if self._background is not None:
            for node in self.nodes:
                node.proxy = PartitionProxy(database_url, self._background)
        atexit.register(self.close)

    def __getitem__(self, index: int) -> ClusterNode:
        return self.nodes[index]

    @property
    def ids(self) -> list[str]:
        return [node.id for node in self.nodes]

    def by_id(self, node_id: str | None) -> ClusterNode:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(f"no node {node_id!r} in {self.ids}")

    def others(self, index: int) -> list[ClusterNode]:
        return [node for node in self.nodes if node.index != index]

    # -- starting ------------------------------------------------------------------

    def node_env(self, node: ClusterNode) -> dict[str, str]:
        database_url = node.proxy.url if node.proxy is not None else self.database_url
        return server_env(
            database_url,
            node.port,
            NODE_ID=node.id,
            NODE_URL=node.base_url,
            LEASE_SECONDS=str(self.lease_seconds),
            FORWARD_TIMEOUT_SECONDS=str(self.forward_timeout_seconds),
            LIVEKIT_URL=self.livekit_url,
            # Every test's requests come from one address: no limit is reached by accident.
            RATE_LIMIT_SIGNIN=GENEROUS_RATE_LIMIT,
            RATE_LIMIT_ROOMS=GENEROUS_RATE_LIMIT,
            RATE_LIMIT_TOKENS=GENEROUS_RATE_LIMIT,
            APP_SECRET_KEY="test-app-secret-key-0123456789",
            SHUTDOWN_DRAIN_SECONDS="1",
            WORKERS="1",
            WEBHOOK_SWEEP_SECONDS="1",
            **self.env,
        )

    def launch(self, index: int) -> ClusterNode:
        """Start node `index`'s process on a new port, without waiting for it."""
        node = self.nodes[index]
        if node.running:
            raise RuntimeError(f"{node.id} is already running")
        node.port = free_port()
        node.stopped = False
        node.log_path = self.workdir / f"{node.id}-{len(node.log_paths)}.log"
        node.log_paths.append(node.log_path)
        with open(node.log_path, "wb") as log:
            node.process = subprocess.Popen(
                [sys.executable, "-m", "app"],
                cwd=self.workdir,
                env=self.node_env(node),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return node

    async def wait_ready(self, index: int, seconds: float = READY_WITHIN) -> None:
        """Until node `index` answers 200 on readiness; its log's end if it exits first."""
        node = self.nodes[index]
        deadline = time.monotonic() + seconds
        async with httpx.AsyncClient(base_url=node.base_url, timeout=1) as client:
            while time.monotonic() < deadline:
                if not node.running:
                    raise RuntimeError(f"{node.id} exited during start-up:\n{node.log()[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/v1/health/ready")).status_code == 200:
                        return
                await asyncio.sleep(0.05)
        raise RuntimeError(f"{node.id} was not ready within {seconds} s:\n{node.log()[-3000:]}")

    async def start(self, index: int, seconds: float = READY_WITHIN) -> ClusterNode:
        """Start node `index` (again: its id, a new port) and wait until it is ready."""
        self.launch(index)
        await self.wait_ready(index, seconds)
        return self.nodes[index]

    async def start_all(self, seconds: float = READY_WITHIN) -> None:
        for node in self.nodes:
            self.launch(node.index)
        await asyncio.gather(*(self.wait_ready(node.index, seconds) for node in self.nodes))

    # -- signals ---------------------------------------------------------------------

    def _process(self, index: int) -> subprocess.Popen[bytes]:
        node = self.nodes[index]
        if node.process is None:
            raise RuntimeError(f"{node.id} was never started")
        return node.process

    async def wait_exit(self, index: int, seconds: float = EXIT_WITHIN) -> float:
        """When node `index`'s process was seen to exit (time.monotonic())."""
        process = self._process(index)
        deadline = time.monotonic() + seconds
        while process.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.nodes[index].id} did not exit within {seconds} s")
            await asyncio.sleep(POLL)
        return time.monotonic()

    async def terminate(self, index: int, seconds: float = EXIT_WITHIN) -> float:
        """SIGTERM, and wait for the exit; returns when it was seen (time.monotonic())."""
        process = self._process(index)
        process.send_signal(signal.SIGTERM)
        self.cont(index)  # a stopped process handles the signal once continued
        return await self.wait_exit(index, seconds)

    async def kill(self, index: int, seconds: float = EXIT_WITHIN) -> float:
        """SIGKILL, and wait for the exit; returns when the signal was sent."""
        process = self._process(index)
        sent = time.monotonic()
        process.send_signal(signal.SIGKILL)
        self.nodes[index].stopped = False
        await self.wait_exit(index, seconds)
        return sent

    def stop(self, index: int) -> float:
        """SIGSTOP; returns when it was sent."""
        self._process(index).send_signal(signal.SIGSTOP)
        self.nodes[index].stopped = True
        return time.monotonic()

    def cont(self, index: int) -> float:
        """SIGCONT (nothing if not stopped); returns when it was sent."""
        node = self.nodes[index]
        if node.stopped and node.running:
            self._process(index).send_signal(signal.SIGCONT)
        node.stopped = False
        return time.monotonic()

    # -- partitions ------------------------------------------------------------------

    def partition(self, index: int) -> float:
        """Hold every byte between node `index` and PostgreSQL; returns when."""
        proxy = self.nodes[index].proxy
        if proxy is None:
            raise RuntimeError("start the cluster with partitionable=True")
        proxy.hold()
        return time.monotonic()

    def heal(self, index: int) -> float:
        proxy = self.nodes[index].proxy
        if proxy is None:
            raise RuntimeError("start the cluster with partitionable=True")
        proxy.release()
        return time.monotonic()

    # -- clean-up --------------------------------------------------------------------

    def close(self) -> None:
        """Kill every process still running (continued first if stopped); idempotent."""
        for node in self.nodes:
            process = node.process
            if process is None:
                continue
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGCONT)
                    process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
            node.stopped = False
        if self._background is not None:
            for node in self.nodes:
                if node.proxy is not None:
                    with contextlib.suppress(Exception):
                        node.proxy.close()
            self._background.close()
            self._background = None
        atexit.unregister(self.close)


@contextlib.asynccontextmanager
async def running_cluster(workdir: Path, size: int = 3, **options: Any) -> AsyncIterator[Cluster]:
    """A fresh database and `size` ready nodes on it; everything gone on exit."""
    url = await create_throwaway_database("qari_cluster")
    try:
        await generate_schema(url)
        cluster = Cluster(url, workdir, size, **options)
        try:
            await cluster.start_all()
            yield cluster
        finally:
            cluster.close()
    finally:
        await drop_database(url)


@contextlib.contextmanager
def running_cluster_sync(workdir: Path, size: int = 3, **options: Any) -> Iterator[Cluster]:
    """`running_cluster` for a sync fixture (a module's shared cluster): no loop kept."""
    url = run_sync(create_throwaway_database("qari_cluster"))
    try:
        run_sync(generate_schema(url))
        cluster = Cluster(url, workdir, size, **options)
        try:
            run_sync(cluster.start_all())
            yield cluster
        finally:
            cluster.close()
    finally:
        run_sync(drop_database(url))


__all__ = [
    "BackgroundLoop",
    "Cluster",
    "ClusterNode",
    "PartitionProxy",
    "livekit_in_thread",
    "run_sync",
    "running_cluster",
    "running_cluster_sync",
]
