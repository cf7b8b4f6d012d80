"""A real Hypercorn process serving the app (`python -m app`), for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx

from tests.support.settings import API_KEY, LIVEKIT_KEY, LIVEKIT_SECRET

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(database_url: str, port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "APP_API_KEYS": API_KEY,
        "LIVEKIT_API_KEY": LIVEKIT_KEY,
        "LIVEKIT_API_SECRET": LIVEKIT_SECRET,
        "LIVEKIT_URL": "",
        # One node that keeps its id across restarts takes its rooms' leases back
        # at once (as a deployment with a fixed NODE_ID does); a new id would wait
        # LEASE_SECONDS after a kill.
        "NODE_ID": "test-node",
        **extra,
    }


def wait_ready(base_url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{base_url}/v1/health/ready", timeout=1) as response,  # noqa: S310 - our own http URL
        ):
            if response.status == 200:
                return
        time.sleep(0.05)
    raise RuntimeError("the server did not become ready")


@contextlib.contextmanager
def running_server(
    database_url: str, cwd: Path, log_file: Path | None = None, **extra: str
) -> Iterator[str]:
    """Start `python -m app`, yield its base URL, stop it with SIGTERM."""
    port = free_port()
    log = open(log_file, "wb") if log_file else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "app"],
        cwd=cwd,
        env=server_env(database_url, port, **extra),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url, process)
        yield base_url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log_file:
            log.close()  # type: ignore[union-attr]


@contextlib.asynccontextmanager
async def serving(
    database_url: str, port: int, cwd: Path, **extra: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m app` on `port`, ready; stopped with SIGTERM on exit unless it already ended.

    The test may signal the process itself (SIGKILL, SIGTERM) in the block.
    """
    log_path = cwd / f"server-{port}-{time.monotonic_ns()}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app",
        cwd=cwd,
        env=server_env(database_url, port, **extra),
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(200):  # up to ~20 s for start-up
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/v1/health/ready")).status_code == 200:
                        break
                if process.returncode is not None:
                    tail = log_path.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"the server exited during start-up:\n{tail}")
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the server did not become ready")
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()
