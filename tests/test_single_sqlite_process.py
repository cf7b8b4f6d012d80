"""SQLite is one process: WORKERS > 1, or a second process on the same file, stops
start-up with one line saying why (DESIGN.md section 6)."""

from __future__ import annotations

from pathlib import Path

from tests.support.server import running_server
from tests.test_startup import lines_of, run_app


def test_workers_on_sqlite_is_one_line_saying_postgresql(tmp_path: Path) -> None:
    result = run_app(tmp_path, WORKERS="2")
    assert result.returncode == 2, result.stderr
    [line] = lines_of(result)
    assert "WORKERS" in line
    assert "PostgreSQL" in line


def test_a_second_process_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    database_url = f"sqlite://{tmp_path}/qari.sqlite3"
    with running_server(database_url, tmp_path):
        second = run_app(tmp_path, DATABASE_URL=database_url, APP_API_KEYS="k" * 32)
    assert second.returncode == 1, second.stderr
    refusals = [line for line in lines_of(second) if "start-up failed" in line]
    assert len(refusals) == 1
    assert "one process per SQLite file" in refusals[0]
    assert "Traceback" not in second.stderr
