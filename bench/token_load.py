"""The token bench's load: wrk when installed, else the harness's aiohttp generator.

Both send the same bodies and the same Authorization header to whichever server
they drive (ours or a bare app): one identity asking again and again, or a new
identity on every request. wrk is preferred: a C client leaves the machine's
shared cores to the servers.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from bench.harness import API_KEY, JSON_AUTH, Request, Server, run_load

CONNECTIONS = 64
WRK_THREADS = 2

_ONE_IDENTITY_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
wrk.body = '{{"identity": "user-00001", "name": "Bench User"}}'
"""
# Each wrk thread has its own Lua state and counter: the thread number set in
# `setup` keeps their identities apart (else both threads ask for the same ones,
# and half the "new" identities would be held seats).
_NEW_IDENTITY_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local prefix = "run"
local n = 0
init = function(args) prefix = args[1] .. "t" .. tid end
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil,
    string.format('{{"identity": "%s-%d", "name": "Bench User"}}', prefix, n))
end
"""


@dataclass(frozen=True, slots=True)
class Run:
    rps: float
    cpu_ms_per_request: float
    bad: int  # answers other than 200, and transport errors


async def _wrk(server: Server, path: str, script: Path, seconds: float, prefix: str) -> Run:
    cpu_before = server.cpu_seconds()
    process = await asyncio.create_subprocess_exec(
        "wrk",
        f"-t{WRK_THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds:g}s",
        "-s",
        str(script),
        f"{server.base_url}{path}",
        "--",
        prefix,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await process.communicate())[0].decode()
    cpu = server.cpu_seconds() - cpu_before
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    failed = (int(bad.group(1)) if bad else 0) + (
        sum(int(g) for g in errors.groups()) if errors else 0
    )
    return Run(rps, cpu / max(total, 1) * 1000, failed)


async def _aiohttp(server: Server, path: str, bodies: list[bytes]) -> Run:
    result = await run_load(
        server.base_url,
        [Request("POST", path, body, JSON_AUTH) for body in bodies],
        concurrency=CONNECTIONS,
        cpu_probe=server.cpu_seconds,
    )
    bad = sum(n for status, n in result.statuses().items() if status != 200)
    cpu_ms = result.server_cpu * result.elapsed / max(result.count, 1) * 1000
    return Run(result.rps(), cpu_ms, bad)


class Load:
    """Drives one server path with wrk when installed, else with aiohttp."""

    def __init__(self, folder: Path, seconds: float, requests: int) -> None:
        self.use_wrk = shutil.which("wrk") is not None
        self._seconds = seconds
        self._requests = requests
        self._one = folder / "one.lua"
        self._new = folder / "new.lua"
        self._one.write_text(_ONE_IDENTITY_LUA.format(key=API_KEY))
        self._new.write_text(_NEW_IDENTITY_LUA.format(key=API_KEY))
        self._runs = 0

    async def run(self, server: Server, path: str, *, new_identities: bool) -> Run:
        self._runs += 1
        prefix = f"r{self._runs}"
        if self.use_wrk:
            script = self._new if new_identities else self._one
            return await _wrk(server, path, script, self._seconds, prefix)
        bodies = [
            json.dumps(
                {"identity": f"{prefix}-{i}" if new_identities else "user-00001", "name": "B"}
            ).encode()
            for i in range(self._requests)
        ]
        return await _aiohttp(server, path, bodies)
