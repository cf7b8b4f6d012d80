"""Benchmark harness: a real Hypercorn server process, a load generator, throwaway databases.

- `Server` starts a real Hypercorn process for an app factory (or `python -m app`)
  with a given environment, waits until `/v1/health/ready` answers 200, reads its
  RSS from `/proc/<pid>/status`, and stops it with SIGTERM (SIGKILL if it hangs).
  The process is served exactly as `app/__main__.py` serves: `hypercorn.toml` plus
  HOST and PORT from the settings.
- `run_load` drives it with aiohttp from N concurrent connections, for a fixed
  number of requests or a fixed duration (always bounded), and returns every
  sample so callers can compute throughput and p50/p99 latency, overall, per
  request tag or per time window.
- `postgres_database` makes a throwaway PostgreSQL database, as the test suite does.

`python -m bench.harness serve MODULE:FACTORY` is the server entry point `Server`
uses for a factory (the bench app's routes exist only in that process).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import itertools
import math
import os
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.proc_stats import tree_cpu_seconds
from tests.support.postgres import throwaway_database

ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE = ROOT / "hypercorn.toml"

# Secrets the bench servers run with: long enough for HS256, never used elsewhere.
API_KEY = "bench-api-key-0123456789abcdef0123"
LIVEKIT_KEY = "bench-livekit-key"
LIVEKIT_SECRET = "bench-livekit-secret-0123456789abcdef-0123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
JSON_AUTH = {**AUTH, "Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(database_url: str, **extra: str) -> dict[str, str]:
    """The server's environment: every setting the bench depends on, nothing from a `.env`."""
    env = {
        "DATABASE_URL": database_url,
        "APP_API_KEYS": API_KEY,
        "APP_SECRET_KEY": "bench-app-secret-key-0123456789",
        "LIVEKIT_URL": "",
        "LIVEKIT_API_KEY": LIVEKIT_KEY,
        "LIVEKIT_API_SECRET": LIVEKIT_SECRET,
    }
    env.update(extra)
    return env


# -- the server process -------------------------------------------------------------


class Server:
    """One real Hypercorn process on 127.0.0.1 with its own port, log file and cwd.

    `factory` is "module:callable" returning the ASGI app; None runs `python -m app`.
    The cwd is a fresh temporary folder, so a developer's `.env` cannot leak in.
    `external` serves an app from outside this checkout instead (bench/baselines.py):
    its command line (`{port}` filled in), run from `cwd`; it has no health route,
    so any HTTP answer to `ready_path` means it is up.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        factory: str | None = None,
        name: str = "server",
        ready_timeout: float = 30.0,
        external: Sequence[str] | None = None,
        cwd: Path | None = None,
        ready_path: str = "/v1/health/ready",
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._factory = factory
        self._external = None if external is None else [a.format(port=self.port) for a in external]
        self._cwd = cwd
        self._ready_path = ready_path
        self._env = dict(env)
        self._ready_timeout = ready_timeout
        self._dir = tempfile.TemporaryDirectory(prefix=f"qari-bench-{name}-")
        self.log_path = Path(self._dir.name) / "server.log"
        self._process: asyncio.subprocess.Process | None = None
        self._log: Any = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def command(self) -> list[str]:
        if self._external is not None:
            return list(self._external)
        if self._factory is None:
            return [sys.executable, "-m", "app"]
        return [sys.executable, "-m", "bench.harness", "serve", self._factory]

    async def start(self) -> None:
        env = {
            **os.environ,
            **self._env,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "PYTHONPATH": str(ROOT),
        }
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        self._process = await asyncio.create_subprocess_exec(
            *self.command(),
            cwd=self._cwd or self._dir.name,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
        )
        deadline = time.monotonic() + self._ready_timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while True:
                if self._process.returncode is not None:
                    raise RuntimeError(f"the server exited during start-up:\n{self.log_tail()}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(f"{self.base_url}{self._ready_path}") as response:
                        # Our apps say 200 when ready; a baseline answering at all is up.
                        if response.status == 200 or self._external is not None:
                            return
                if time.monotonic() > deadline:
                    await self.stop()
                    raise RuntimeError(f"the server was not ready in time:\n{self.log_tail()}")
                await asyncio.sleep(0.1)

    async def stop(self, timeout: float = 25.0) -> int | None:
        process, self._process = self._process, None
        code: int | None = None
        if process is not None:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), timeout)
                except TimeoutError:
                    process.kill()
                    await process.wait()
            code = process.returncode
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def check_alive(self) -> None:
        """Raise, with the log's tail, if the server process has exited."""
        process = self._process
        if process is None or process.returncode is not None:
            code = None if process is None else process.returncode
            raise RuntimeError(
                f"the server process exited unexpectedly (code {code}); log tail:\n"
                + self.log_tail()
            )

    def rss_bytes(self) -> int:
        """VmRSS of the server process, from /proc/<pid>/status."""
        self.check_alive()
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS line")

    def cpu_seconds(self) -> float:
        """User + system CPU time so far of the server process and its descendants.

        The descendants count because `hypercorn --workers 1` (how the shared
        baselines are served) serves from a child process; `python -m app` has none.
        """
        self.check_alive()
        return tree_cpu_seconds(self.pid)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def cleanup(self) -> None:
        self._dir.cleanup()

    async def __aenter__(self) -> Server:
        try:
            await self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self._process is not None and self._process.returncode is not None:
                print(
                    f"[{self.log_path}] server had exited with code {self._process.returncode}:\n"
                    + self.log_tail(),
                    file=sys.stderr,
                )
            await self.stop()
        finally:
            self.cleanup()


# -- the load generator -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    body: bytes | None = None
    headers: Mapping[str, str] | None = None
    tag: str = ""


class LoadControl:
    """Shared with request sources: when the run's duration is over."""

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline

    @property
    def expired(self) -> bool:
        return self.deadline is not None and time.perf_counter() >= self.deadline


# A source is either a sequence of requests, shared by all connections in order,
# or a callable giving each connection its own stream (worker index, control):
# such a stream ends itself when `control.expired` (e.g. at a cycle boundary).
Source = Sequence[Request] | Callable[[int, LoadControl], Iterator[Request]]

# (completed at, latency in seconds, HTTP status or 0 for a transport error, tag)
Sample = tuple[float, float, int, str]


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class LoadResult:
    samples: list[Sample]
    started: float
    elapsed: float
    exceptions: Counter[str] = field(default_factory=Counter)
    # Share of one core used during the run by the server (when probed) and by this client.
    server_cpu: float = math.nan
    client_cpu: float = math.nan

    def select(self, tag: str | None = None) -> list[Sample]:
        """Samples of one tag (None: all)."""
        return [s for s in self.samples if tag is None or s[3] == tag]

    def window(self, start: float, end: float, tag: str | None = None) -> list[Sample]:
        """Samples completed between `start` and `end` seconds after the run began."""
        lo, hi = self.started + start, self.started + end
        return [s for s in self.samples if (tag is None or s[3] == tag) and lo <= s[0] < hi]

    @staticmethod
    def ok(samples: Sequence[Sample]) -> list[Sample]:
        return [s for s in samples if 200 <= s[2] < 300]

    def rps(self, samples: Sequence[Sample] | None = None, seconds: float | None = None) -> float:
        """Requests per second: of `samples` (default all) over `seconds` (default the run)."""
        chosen = self.samples if samples is None else samples
        span = self.elapsed if seconds is None else seconds
        return len(chosen) / span if span > 0 else math.nan

    @property
    def count(self) -> int:
        return len(self.samples)

    @property
    def ok_rps(self) -> float:
        return self.rps(self.ok(self.samples))

    def latency_ms(self, p: float, samples: Sequence[Sample] | None = None) -> float:
        chosen = self.samples if samples is None else samples
        return percentile([s[1] for s in chosen], p) * 1000

    @property
    def p50_ms(self) -> float:
        return self.latency_ms(50)

    @property
    def p99_ms(self) -> float:
        return self.latency_ms(99)

    def statuses(self, samples: Sequence[Sample] | None = None) -> Counter[int]:
        chosen = self.samples if samples is None else samples
        return Counter(s[2] for s in chosen)

    def summary(self) -> str:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses().items()))
        return (
            f"{self.count} requests in {self.elapsed:.2f} s = {self.rps():,.0f}/s, "
            f"p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms; statuses {{{statuses}}}; "
            + ("" if math.isnan(self.server_cpu) else f"cpu server {self.server_cpu:.0%} ")
            + f"client {self.client_cpu:.0%}"
        )


async def run_load(
    base_url: str,
    source: Source,
    *,
    concurrency: int = 64,
    count: int | None = None,
    duration: float | None = None,
    grace: float = 15.0,
    timeout: float = 30.0,
    cpu_probe: Callable[[], float] | None = None,
) -> LoadResult:
    """Send requests from `concurrency` connections until `count` or `duration` is reached.

    A sequence source is sent once in order (cycled when a duration is given);
    stream sources end themselves at `control.expired`, and are cut off `grace`
    seconds after the deadline in any case, so every run is bounded.
    """
    if count is None and duration is None and callable(source):
        raise ValueError("a stream source needs a count or a duration")
    server_cpu_before = cpu_probe() if cpu_probe is not None else math.nan
    client_cpu_before = time.process_time()
    started = time.perf_counter()
    control = LoadControl(started + duration if duration is not None else None)
    hard_stop = control.deadline + grace if control.deadline is not None else None
    samples: list[Sample] = []
    exceptions: Counter[str] = Counter()
    issued = itertools.count()

    def from_sequence(requests: Sequence[Request]) -> Iterator[Request]:
        size = len(requests)
        while not control.expired:
            i = next(issued)
            if (count is not None and i >= count) or (duration is None and i >= size):
                return
            yield requests[i % size]

    def counted(stream: Iterator[Request]) -> Iterator[Request]:
        for request in stream:
            if count is not None and next(issued) >= count:
                return
            yield request

    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(
        base_url, connector=connector, timeout=client_timeout
    ) as session:

        async def worker(index: int) -> None:
            stream = counted(source(index, control)) if callable(source) else from_sequence(source)
            for request in stream:
                if hard_stop is not None and time.perf_counter() >= hard_stop:
                    return
                begun = time.perf_counter()
                try:
                    async with session.request(
                        request.method, request.path, data=request.body, headers=request.headers
                    ) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError, OSError) as error:
                    exceptions[type(error).__name__] += 1
                    status = 0
                done = time.perf_counter()
                samples.append((done, done - begun, status, request.tag))

        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    server_cpu = cpu_probe() - server_cpu_before if cpu_probe is not None else math.nan
    return LoadResult(
        samples=samples,
        started=started,
        elapsed=elapsed,
        exceptions=exceptions,
        server_cpu=server_cpu / elapsed,
        client_cpu=(time.process_time() - client_cpu_before) / elapsed,
    )


# -- result rows ------------------------------------------------------------------


def row(
    name: str,
    value: float,
    unit: str,
    baseline: float,
    target: tuple[str, str, float] | None = None,
) -> dict[str, Any]:
    """One result row; `target` is (field, op, threshold) with field "ratio" or "value"."""
    ratio = value / baseline if baseline else float("nan")
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "ratio": ratio,
        "target": target,
    }


# -- throwaway PostgreSQL -----------------------------------------------------------


@contextlib.asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A throwaway PostgreSQL database with the schema, dropped on exit."""
    async with throwaway_database("qari_bench") as url:
        yield url


# -- the server entry point ---------------------------------------------------------


async def _serve(factory_path: str) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from app.settings import Settings

    module_name, _, attr = factory_path.partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    settings = Settings()
    config = Config.from_toml(CONFIG_FILE)
    config.bind = [f"{settings.host}:{settings.port}"]
    shutdown = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, shutdown.set)
    await serve(factory(), config, shutdown_trigger=shutdown.wait)


def main() -> None:
    if sys.argv[1:2] != ["serve"] or len(sys.argv) != 3:
        raise SystemExit("usage: python -m bench.harness serve MODULE:FACTORY")
    asyncio.run(_serve(sys.argv[2]))


if __name__ == "__main__":
    main()
