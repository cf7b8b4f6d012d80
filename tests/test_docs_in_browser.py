"""`/docs` and `/redocs` render the API in a real browser with no internet.

Debian's chromium, headless, against a real server (`python -m app`); every
host but 127.0.0.1 resolves to nothing, so an asset from a CDN would fail the
page. `--dump-dom` after a virtual-time budget gives the DOM the scripts built.
Under CI=true a missing chromium fails the test (`.ci/run` installs it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.server import running_server

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # No internet: only the app itself can answer.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    # Virtual time runs the page's scripts (fetching /openapi.json, rendering) to quiet.
    "--virtual-time-budget=20000",
]
OPERATIONS = ("create_room", "list_rooms", "issue_token", "delete_room", "list_sessions")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is not installed; under CI it must be (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def rendered_dom(browser: str, url: str, profile: Path) -> str:
    result = subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_docs_and_redocs_render_every_operation_offline(tmp_path: Path) -> None:
    browser = chromium()
    with running_server(f"sqlite://{tmp_path}/qari.sqlite3", tmp_path) as base_url:
        swagger = rendered_dom(browser, f"{base_url}/docs", tmp_path / "profile-docs")
        redoc = rendered_dom(browser, f"{base_url}/redocs", tmp_path / "profile-redocs")
    # Swagger UI: one block per operation, its id built from its tag (the
    # resource, not "default") and its operationId.
    assert 'class="swagger-ui"' in swagger
    assert 'id="operations-default-' not in swagger
    for operation in OPERATIONS:
        assert re.search(f'id="operations-[A-Za-z_-]+-{operation}"', swagger), operation
    assert 'data-path="/v1/rooms/{name}/token"' in swagger
    # ReDoc: a section per operation, linked by operationId.
    for operation in OPERATIONS:
        assert f"operation/{operation}" in redoc, operation
    assert "Create a room" in redoc
