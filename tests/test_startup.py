"""`python -m app` as ops run it: what stops start-up is one line, never a traceback.

Also: `make upgrade` on SQLite changes nothing, an empty APP_API_KEYS warns,
and in JSON mode every line (Hypercorn's included, once) is one redacted JSON object.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from app.schema_check import expected_migrations
from tests.conftest import run_sync
from tests.support.postgres import (
    create_throwaway_database,
    drop_database,
    generate_schema,
    record_migrations,
)
from tests.support.server import ROOT, running_server
from tests.support.settings import API_KEY, LIVEKIT_SECRET

TIMEOUT = 60


def clean_env(**values: str) -> dict[str, str]:
    """Only what Python needs, plus `values`: no setting leaks in from the test's environment."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    return {**keep, "PYTHONPATH": str(ROOT), "PORT": "0", **values}


def run_app(cwd: Path, **values: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app"],
        cwd=cwd,
        env=clean_env(**values),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def lines_of(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"PORT": "abc"}, ["PORT"]),
        ({"DATABASE_URL": "mysql://x"}, ["DATABASE_URL"]),
        ({"LIVEKIT_URL": "not-a-url"}, ["LIVEKIT_URL"]),
        ({"LIVEKIT_PUBLIC_URL": "livekit.example.com"}, ["LIVEKIT_PUBLIC_URL"]),
        # No scheme: a browser's Origin never matches it, so CORS would silently never apply.
        ({"CORS_ORIGINS": "localhost:3000"}, ["CORS_ORIGINS"]),
        (
            {"PORT": "99999", "LOG_FORMAT": "xml", "WEBHOOK_RETENTION_DAYS": "0"},
            ["PORT", "LOG_FORMAT", "WEBHOOK_RETENTION_DAYS"],
        ),
    ],
)
def test_a_wrong_setting_is_one_line_naming_it_and_exit_status_2(
    tmp_path: Path, values: dict[str, str], named: list[str]
) -> None:
    result = run_app(tmp_path, **values)
    assert result.returncode == 2, result.stderr
    lines = lines_of(result)
    assert "Traceback" not in result.stderr
    assert len(lines) == len(named), lines
    for name, line in zip(sorted(named), sorted(lines), strict=True):
        assert name in line
        assert "valid" in line or "use " in line  # what it accepts
    assert not (tmp_path / "data").exists()  # nothing was created


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_every_interface_without_siwe_domain_is_one_line_saying_to_set_it(
    tmp_path: Path, host: str
) -> None:
    """HOST:PORT (0.0.0.0:8000) is no host a dApp is served from: every sign-in would fail."""
    result = run_app(tmp_path, HOST=host)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = lines_of(result)
    assert "SIWE_DOMAIN" in line
    assert f"HOST is {host}" in line
    assert "set it" in line
    assert not (tmp_path / "data").exists()


def test_a_secret_in_a_wrong_setting_is_not_echoed(tmp_path: Path) -> None:
    result = run_app(tmp_path, DATABASE_URL="mysql://user:hunter2hunter2@db/x")
    assert result.returncode == 2
    assert "hunter2hunter2" not in result.stderr


@pytest.fixture
def empty_postgres(postgres_url: str) -> str:  # needs the server; postgres_url skips or fails
    url = run_sync(create_throwaway_database("qari_unmigrated"))
    yield url  # type: ignore[misc]
    run_sync(drop_database(url))


def test_an_unmigrated_postgres_is_one_line_saying_make_upgrade(
    tmp_path: Path, empty_postgres: str
) -> None:
    result = run_app(tmp_path, DATABASE_URL=empty_postgres, APP_API_KEYS=API_KEY)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    upgrade = [line for line in lines_of(result) if "make upgrade" in line]
    assert len(upgrade) == 1, lines_of(result)


def test_an_out_of_date_postgres_is_one_line_saying_make_upgrade(
    tmp_path: Path, empty_postgres: str
) -> None:
    run_sync(generate_schema(empty_postgres))
    run_sync(record_migrations(empty_postgres, expected_migrations()[:-1]))
    result = run_app(tmp_path, DATABASE_URL=empty_postgres, APP_API_KEYS=API_KEY)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    upgrade = [line for line in lines_of(result) if "make upgrade" in line]
    assert len(upgrade) == 1, lines_of(result)
    assert "out of date" in upgrade[0]


def test_make_upgrade_on_sqlite_says_not_needed_and_changes_nothing(tmp_path: Path) -> None:
    database = tmp_path / "data" / "qari.sqlite3"
    result = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "upgrade"],
        env={**clean_env(DATABASE_URL=f"sqlite://{database}"), "MAKEFLAGS": ""},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "not needed" in result.stdout
    assert not database.parent.exists()


def test_make_run_says_how_to_set_key_on_every_start(tmp_path: Path) -> None:
    """The README's examples use $KEY: the first start prints it, later ones how to read it."""

    def dev_env() -> list[str]:
        result = subprocess.run(
            [sys.executable, "-m", "app.dev_env"],
            cwd=tmp_path,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=True,
        )
        return [
            line.split("examples:", 1)[1].strip() for line in lines_of(result) if "KEY=" in line
        ]

    [first] = dev_env()
    key = first.removeprefix("KEY=")
    assert f"APP_API_KEYS={key}" in (tmp_path / ".env").read_text()
    [later] = dev_env()
    shown = subprocess.run(
        ["bash", "-c", f'{later}; printf %s "$KEY"'],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    assert shown.stdout == key


def make_migration(tmp_path: Path, *args: str, **values: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", "-C", str(ROOT), "migration", *args],
        env={**clean_env(**values), "MAKEFLAGS": ""},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def qari_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """What the command said (make adds its own `Error 2` line after it)."""
    return [line for line in lines_of(result) if line.startswith("qari:")]


def test_make_migration_on_sqlite_is_one_line_saying_to_use_postgresql(tmp_path: Path) -> None:
    database = tmp_path / "data" / "qari.sqlite3"
    before = sorted((ROOT / "migrations").rglob("*"))
    result = make_migration(tmp_path, "name=add_x", DATABASE_URL=f"sqlite://{database}")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    [line] = qari_lines(result)
    assert "PostgreSQL" in line
    assert "DATABASE_URL=postgres://" in line
    assert "make migration name=add_x" in line
    assert sorted((ROOT / "migrations").rglob("*")) == before  # nothing written
    assert not database.parent.exists()


@pytest.mark.parametrize("args", [[], ["name="], ["name=add x"], ["name=../x"]])
def test_make_migration_without_a_usable_name_says_so(tmp_path: Path, args: list[str]) -> None:
    result = make_migration(tmp_path, *args, DATABASE_URL="postgres://nobody@127.0.0.1:1/none")
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = qari_lines(result)
    assert "name" in line
    assert "make migration name=" in line


def test_json_logs_one_access_line_per_request_redacted_and_a_warning_without_api_keys(
    tmp_path: Path,
) -> None:
    log_file = tmp_path / "server.log"
    with running_server(
        f"sqlite://{tmp_path}/qari.sqlite3",
        tmp_path,
        log_file=log_file,
        APP_API_KEYS="",
        LOG_FORMAT="json",
        LOG_LEVEL="info",
    ) as base_url:
        request = urllib.request.Request(  # noqa: S310 - our own http URL
            f"{base_url}/v1/rooms/{LIVEKIT_SECRET}", headers={"X-Request-ID": "startup-test-1"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)  # noqa: S310
        with refused.value as answer:  # closes its socket
            assert answer.code == 401
            assert answer.headers["X-Request-ID"] == "startup-test-1"
    text = log_file.read_text()
    assert LIVEKIT_SECRET not in text
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # all JSON
    running_on = [line for line in lines if line["message"].startswith("Running on")]
    assert len(running_on) == 1, "Hypercorn's lines appear once"
    assert running_on[0]["logger"] == "hypercorn.error"
    warnings = [
        line for line in lines if line["level"] == "WARNING" and "APP_API_KEYS" in line["message"]
    ]
    assert len(warnings) == 1
    access = [line for line in lines if line.get("request_id") == "startup-test-1"]
    assert len(access) == 1
    (line,) = access
    assert line["logger"] == "qari.access"
    assert line["method"] == "GET"
    assert line["route"] == "/v1/rooms/<string:name>"
    assert line["status"] == 401
    assert line["duration_ms"] >= 0
    assert "[redacted]" in line["path"]
