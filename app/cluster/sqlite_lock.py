"""One process per SQLite database: a second one is refused at start-up.

SQLite has no leases to share rooms by, so two processes on one file would
each think they own every room (capacity, bans and webhooks would be wrong in
both). An advisory lock on a file beside the database, held for the process's
life, says who serves it; the kernel drops it when the process dies, however
it dies, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import IO


class SqliteInUseError(Exception):
    """Another process serves this SQLite database."""


class SqliteLock:
    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".lock")
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = open(self.path, "a+")  # noqa: SIM115 - held open for the process's life
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "another process"
            file.close()
            raise SqliteInUseError(
                f"the SQLite database {self.path.with_suffix('')} is served by {holder}:"
                " one process per SQLite file (several nodes need PostgreSQL)"
            ) from None
        file.seek(0)
        file.truncate()
        file.write(f"process {os.getpid()}\n")
        file.flush()
        self._file = file

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
