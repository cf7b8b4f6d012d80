"""`WORKERS=N` on PostgreSQL: one `python -m app` runs N nodes behind HOST:PORT (issue 24).

With real processes: two workers on one port both join the cluster, requests
for many rooms through that port all succeed with rooms owned by both (and
each worker's own address forwards to the other), SIGTERM to the supervisor
stops both and it exits 0; a worker that fails start-up or dies stops the
other and the supervisor exits 1 with one line naming it; the supervisor
killed outright takes its workers with it; a port already served is one line.
Also the pieces: worker ids and URLs, `--listen-fds`, and the settings check.

The process tests take `postgres_url` (skip locally without PostgreSQL, fail
under CI=true), each on a database of its own. Every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.cluster.worker_addresses import (
    base_node_id,
    listen_fds,
    private_bind_host,
    worker_node_url,
)
from app.settings_checks import check_nodes
from tests.support.postgres import create_throwaway_database, drop_database, throwaway_database
from tests.support.server import free_port, server_env
from tests.support.settings import AUTH, GENEROUS_RATE_LIMIT
from tests.test_startup import lines_of, run_app

OWNER = "Qari-Room-Owner"
BASE_ID = "wk"
WORKER_IDS = {f"{BASE_ID}-0", f"{BASE_ID}-1"}
READY_WITHIN = 40.0  # two nodes starting at once on a small machine
EXIT_WITHIN = 20.0  # SHUTDOWN_DRAIN_SECONDS=1 + DATABASE_TIMEOUT_SECONDS (5) + margin
ROOMS = 40
POLL = 0.05
# Each request on a connection of its own, so SO_REUSEPORT spreads them over the workers.
FRESH_CONNECTIONS = httpx.Limits(max_connections=100, max_keepalive_connections=0)
CLOSE = {**AUTH, "Connection": "close"}


# -- the pieces ---------------------------------------------------------------------------


def test_worker_ids_are_the_base_and_a_number_and_default_to_host_and_pid() -> None:
    assert base_node_id("edge-a") == "edge-a"
    default = base_node_id("")
    assert default.endswith(f"-{os.getpid()}")
    assert re.fullmatch(r"[A-Za-z0-9._:-]+", default)


def test_worker_urls_are_their_own_port_of_host_or_of_node_url() -> None:
    assert worker_node_url("", "127.0.0.1", 41000) == "http://127.0.0.1:41000"
    assert worker_node_url("", "::1", 41000) == "http://[::1]:41000"
    # NODE_URL keeps its scheme, host and path; its port is each worker's own.
    assert worker_node_url("http://10.0.0.5:8000", "0.0.0.0", 41000) == "http://10.0.0.5:41000"
    assert worker_node_url("http://qari-a/", "0.0.0.0", 41001) == "http://qari-a:41001"
    assert worker_node_url("http://[fd00::5]:8000/q", "::", 7) == "http://[fd00::5]:7/q"


def test_private_listeners_bind_host_or_loopback_for_every_interface_without_node_url() -> None:
    assert private_bind_host("127.0.0.1", "") == "127.0.0.1"
    assert private_bind_host("10.0.0.5", "") == "10.0.0.5"
    assert private_bind_host("0.0.0.0", "") == "127.0.0.1"
    assert private_bind_host("[::]", "") == "127.0.0.1"
    # NODE_URL says other machines reach this one: every interface, then.
    assert private_bind_host("0.0.0.0", "http://10.0.0.5:8000") == "0.0.0.0"
    assert private_bind_host("[::]", "http://[fd00::5]:8000") == "::"


def test_listen_fds_is_a_workers_inherited_sockets_and_nothing_else() -> None:
    assert listen_fds([]) is None
    assert listen_fds(["--listen-fds=3,4"]) == [3, 4]
    for wrong in ("--listen-fds=", "--listen-fds=3,x", "--listen-fds=2"):
        with pytest.raises(ValueError, match="--listen-fds"):
            listen_fds([wrong])


def test_workers_on_postgresql_are_allowed_sqlite_is_refused_and_node_url_must_be_http() -> None:
    check_nodes(is_sqlite=False, workers=4, host="127.0.0.1", node_url="")
    check_nodes(is_sqlite=False, workers=4, host="0.0.0.0", node_url="http://10.0.0.5:8000")
    with pytest.raises(ValueError, match="needs PostgreSQL"):
        check_nodes(is_sqlite=True, workers=2, host="127.0.0.1", node_url="")
    # As for one node: every interface says nothing of how other machines reach it.
    with pytest.raises(ValueError, match="NODE_URL must be set"):
        check_nodes(is_sqlite=False, workers=2, host="0.0.0.0", node_url="")
    with pytest.raises(ValueError, match="NODE_URL must be http://"):
        check_nodes(is_sqlite=False, workers=2, host="127.0.0.1", node_url="https://a:8000")
    check_nodes(is_sqlite=False, workers=1, host="127.0.0.1", node_url="https://a:8000")


def test_a_port_already_served_is_one_line_and_exit_status_1(tmp_path: Path) -> None:
    """Checked by the supervisor before any worker starts: no database is needed."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_app(
            tmp_path,
            DATABASE_URL="postgres://nobody@127.0.0.1:9/none",
            WORKERS="2",
            PORT=str(port),
            APP_API_KEYS="k" * 32,
        )
    assert result.returncode == 1, result.stderr
    [line] = lines_of(result)
    assert f"cannot listen on 127.0.0.1:{port}" in line
    assert "in use" in line
    assert "Traceback" not in result.stderr


# -- real processes -----------------------------------------------------------------------


class Supervisor:
    """`python -m app` with WORKERS=2, its port and its output."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.log_path = log_path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> dict[str, int]:
        """node id -> pid, from the supervisor's `started worker` lines."""
        found = re.findall(r"started worker \d+ \(node ([\w.:-]+), pid (\d+)\)", self.log())
        return {node: int(pid) for node, pid in found}

    def error_lines(self) -> list[str]:
        return [line for line in self.log().splitlines() if " ERROR qari.workers " in line]

    async def wait_exit(self, seconds: float = EXIT_WITHIN) -> int:
        deadline = time.monotonic() + seconds
        while (code := self.process.poll()) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the supervisor did not exit within {seconds} s:\n{self.tail()}"
                )
            await asyncio.sleep(POLL)
        return code

    def tail(self) -> str:
        return self.log()[-4000:]


@contextlib.contextmanager
def supervisor(database_url: str, workdir: Path, **extra: str) -> Iterator[Supervisor]:
    """Start it (not waiting); on exit SIGTERM if still running, SIGKILL past the bound."""
    port = free_port()
    log_path = workdir / f"workers-{port}.log"
    env = server_env(
        database_url,
        port,
        WORKERS="2",
        NODE_ID=BASE_ID,
        LEASE_SECONDS="3",
        SHUTDOWN_DRAIN_SECONDS="1",
        RATE_LIMIT_SIGNIN=GENEROUS_RATE_LIMIT,
        RATE_LIMIT_ROOMS=GENEROUS_RATE_LIMIT,
        RATE_LIMIT_TOKENS=GENEROUS_RATE_LIMIT,
        APP_SECRET_KEY="test-app-secret-key-0123456789",
        **extra,
    )
    env.pop("NODE_URL", None)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app"],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = Supervisor(process, port, log_path)
    try:
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(EXIT_WITHIN)
            except subprocess.TimeoutExpired:
                process.kill()  # its workers get SIGTERM as it dies (Linux)
                process.wait(10)
        print(f"---- supervisor log ({log_path}) ----\n{running.tail()}")


async def cluster_view(http: httpx.AsyncClient, base_url: str) -> dict[str, Any] | None:
    with contextlib.suppress(httpx.HTTPError):
        answer = await http.get(f"{base_url}/v1/ops/cluster", headers=CLOSE)
        if answer.status_code == 200:
            body: dict[str, Any] = answer.json()
            return body
    return None


async def ready(http: httpx.AsyncClient, url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return (await http.get(f"{url}/v1/health/ready", headers=CLOSE)).status_code == 200
    return False


async def both_serving(running: Supervisor, http: httpx.AsyncClient) -> dict[str, str]:
    """Until both workers are alive in the cluster and answer at their own address:
    node id -> its NODE_URL."""
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(f"the supervisor exited during start-up:\n{running.tail()}")
        view = await cluster_view(http, running.base_url)
        if view is not None:
            urls = {n["id"]: n["url"] for n in view["nodes"] if n["alive"]}
            if set(urls) >= WORKER_IDS and all(
                [await ready(http, urls[node]) for node in WORKER_IDS]
            ):
                return {node: urls[node] for node in WORKER_IDS}
        await asyncio.sleep(0.1)
    raise RuntimeError(f"both workers were not serving within {READY_WITHIN} s:\n{running.tail()}")


async def refused(port: int, seconds: float) -> bool:
    """Whether 127.0.0.1:`port` refuses connections within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1)
        except (OSError, TimeoutError):
            return True
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        await asyncio.sleep(POLL)
    return False


@pytest.fixture
async def database(postgres_url: str) -> AsyncIterator[str]:
    """A database of this test's own, with the schema."""
    del postgres_url  # asked for its check: PostgreSQL reachable (skip locally, fail in CI)
    async with throwaway_database("qari_workers") as url:
        yield url


async def test_two_workers_share_one_port_own_rooms_both_and_stop_on_sigterm(
    database: str, tmp_path: Path
) -> None:
    rooms = [f"worker-room-{k}" for k in range(ROOMS)]
    with supervisor(database, tmp_path) as running:
        async with httpx.AsyncClient(timeout=15, limits=FRESH_CONNECTIONS) as http:
            urls = await both_serving(running, http)
            # Each its own address: not the shared port, not the other's.
            assert len(set(urls.values())) == 2
            assert all(not url.endswith(f":{running.port}") for url in urls.values())

            async def create(room: str) -> httpx.Response:
                body = {"name": room, "max_participants": 10}
                return await http.post(f"{running.base_url}/v1/rooms", json=body, headers=CLOSE)

            async def token(base_url: str, room: str, identity: str) -> httpx.Response:
                return await http.post(
                    f"{base_url}/v1/rooms/{room}/token", json={"identity": identity}, headers=CLOSE
                )

            created = await asyncio.wait_for(asyncio.gather(*(create(r) for r in rooms)), 60)
            assert [a.status_code for a in created] == [201] * ROOMS, created[0].text
            tokens = await asyncio.wait_for(
                asyncio.gather(
                    *(
                        token(running.base_url, room, f"guest-{k}")
                        for k in range(3)
                        for room in rooms
                    )
                ),
                60,
            )
            odd = [(a.status_code, a.text) for a in tokens if a.status_code != 200]
            assert not odd, odd[:3]
            owner = {a.url.path.split("/")[3]: a.headers[OWNER] for a in tokens}
            assert set(owner.values()) == WORKER_IDS, owner  # rooms owned by both
            for a in tokens:  # one owner per room, whichever worker answered
                assert a.headers[OWNER] == owner[a.url.path.split("/")[3]]

            # A worker's own address forwards what the other owns, to the other's.
            for node, url in urls.items():
                room = next(r for r in rooms if owner[r] != node)
                answer = await token(url, room, f"direct-{node}")
                assert answer.status_code == 200, answer.text
                assert answer.headers[OWNER] == owner[room]

            view = await cluster_view(http, running.base_url)
            assert view is not None
            counts = {n["id"]: n["rooms"] for n in view["nodes"] if n["id"] in WORKER_IDS}
            assert sum(counts.values()) == ROOMS, counts
            assert min(counts.values()) > 0, counts

        assert set(running.worker_pids()) == WORKER_IDS
        running.process.send_signal(signal.SIGTERM)
        assert await running.wait_exit() == 0, running.tail()
        assert not running.error_lines(), running.error_lines()
        assert await refused(running.port, 1)
        for url in urls.values():
            assert await refused(int(url.rsplit(":", 1)[1]), 1)


async def test_a_worker_that_fails_start_up_stops_the_supervisor_with_exit_1(
    postgres_url: str, tmp_path: Path
) -> None:
    """A database without the schema: each worker refuses to start; one line says which."""
    del postgres_url
    url = await create_throwaway_database("qari_workers_bare")
    try:
        with supervisor(url, tmp_path) as running:
            assert await running.wait_exit(READY_WITHIN) == 1, running.tail()
            [line] = running.error_lines()
            assert re.search(
                rf"worker \d \(node {BASE_ID}-\d, pid \d+\) exited with status 1", line
            )
            assert "stopping the other workers" in line
            assert "Traceback" not in running.log()
    finally:
        await drop_database(url)


async def test_a_worker_that_dies_stops_the_other_and_the_supervisor_exits_1(
    database: str, tmp_path: Path
) -> None:
    with supervisor(database, tmp_path) as running:
        async with httpx.AsyncClient(timeout=15, limits=FRESH_CONNECTIONS) as http:
            urls = await both_serving(running, http)
        pids = running.worker_pids()
        victim = f"{BASE_ID}-1"
        with contextlib.suppress(ProcessLookupError):
            os.kill(pids[victim], signal.SIGKILL)
        assert await running.wait_exit() == 1, running.tail()
        [line] = running.error_lines()
        assert f"node {victim}, pid {pids[victim]}) was killed by SIGKILL" in line
        assert "stopping the other workers" in line
        assert await refused(running.port, 1)
        assert await refused(int(urls[f"{BASE_ID}-0"].rsplit(":", 1)[1]), 1)


async def test_workers_stop_when_the_supervisor_is_killed(database: str, tmp_path: Path) -> None:
    """SIGKILL leaves nothing to pass signals on: the kernel tells the workers (Linux)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux's")
    with supervisor(database, tmp_path) as running:
        async with httpx.AsyncClient(timeout=15, limits=FRESH_CONNECTIONS) as http:
            urls = await both_serving(running, http)
        running.process.kill()
        await running.wait_exit()
        # Each stops as on SIGTERM: within its shutdown bound.
        assert await refused(running.port, EXIT_WITHIN), running.tail()
        for url in urls.values():
            assert await refused(int(url.rsplit(":", 1)[1]), EXIT_WITHIN), running.tail()
