"""`make chain` prints commands that work as pasted: into bash, against a real server.

The chain is the session's anvil (the demo contracts deployed as `make chain`
deploys them); the server is `python -m app` reading it, on a port of its own,
which the printed commands must name. The API key comes from `.env`, as the
printed `KEY=...` line reads it after `make run` wrote it there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.support.chain import Chain
from tests.support.dev_chain import api_base, deploy_demo, instructions
from tests.support.server import running_server
from tests.support.settings import API_KEY


def pasted_block(text: str) -> str:
    """The commands after "Then, in this folder", up to the blank line, as a user copies them."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Then, in this folder"))
    end = lines.index("", start)
    return textwrap.dedent("\n".join(lines[start + 1 : end]))


def answers(stdout: str) -> list[dict[str, Any]]:
    """curl prints each body with nothing between them: read them one after another."""
    decoder = json.JSONDecoder()
    found, at = [], 0
    while at < len(stdout.strip()):
        value, at = decoder.raw_decode(stdout, at)
        found.append(value)
        while at < len(stdout) and stdout[at].isspace():
            at += 1
    return found


# Locally curl may be missing; under CI (.ci/run installs it) this must run.
@pytest.mark.skipif(
    shutil.which("curl") is None and os.environ.get("CI", "").lower() != "true",
    reason="needs curl, as the user does",
)
def test_the_printed_commands_work_as_pasted(chain: Chain, tmp_path: Path) -> None:
    token, nft, holder, outsider = deploy_demo(chain)
    (tmp_path / ".env").write_text(f"APP_API_KEYS={API_KEY},another-key\n")
    with running_server(
        f"sqlite://{tmp_path}/qari.sqlite3",
        tmp_path,
        CHAIN_RPC_URLS=f"{chain.chain_id}={chain.url}",
        DEFAULT_CHAIN_ID=str(chain.chain_id),
    ) as base_url:
        text = instructions(chain, token, nft, holder, outsider, base_url)
        assert f"CHAIN_RPC_URLS={chain.chain_id}={chain.url}" in text
        block = pasted_block(text)
        result = subprocess.run(
            ["bash", "-c", block],
            cwd=tmp_path,
            env={"PATH": os.environ["PATH"]},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    room, admitted, refused = answers(result.stdout)
    assert (room["name"], room["access_type"], room["token_address"]) == ("holders", "token", token)
    assert admitted["identity"] == holder
    assert admitted["token"]
    assert refused["code"] == "access_denied", refused


def test_the_commands_name_the_port_make_run_listens_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("HOST", "127.0.0.1")
    assert api_base() == "http://127.0.0.1:8123"
    # Listening everywhere: the commands go to this machine.
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("SIWE_DOMAIN", "localhost:3000")
    assert api_base() == "http://127.0.0.1:8123"
