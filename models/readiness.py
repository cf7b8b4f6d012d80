"""Whether the service's tables can be read and written now: the readiness probe's SQL.

It reads and writes nothing but must be able to: it waits for the locks our
writes take, so a table locked elsewhere (which would stall the service) makes
it fail. Run within the caller's deadline.
"""

from __future__ import annotations

from models.db import Database, is_postgres

# The tables every request path reads or writes (models/). A lock on any of
# them that would stall the service makes it not ready.
SERVICE_TABLES = ("rooms", "room_sessions", "participant_sessions", "webhook_inbox", "seats")
# PostgreSQL: the lock our own writes take. It conflicts with every mode that
# would stall them (SHARE, EXCLUSIVE, ACCESS EXCLUSIVE, the last also stalling
# reads) and with none that ordinary traffic takes, and goes at commit.
POSTGRES_PROBE = f"LOCK TABLE {', '.join(SERVICE_TABLES)} IN ROW EXCLUSIVE MODE"
# SQLite (WAL) locks the whole file for writing: readers still read, writers
# wait. So: a write that changes nothing, which needs the write lock like any
# real one, then a read of every table.
SQLITE_PROBE = (
    "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM rooms LIMIT 1))"
    " + (SELECT COUNT(*) FROM (SELECT 1 FROM room_sessions LIMIT 1))"
    " + (SELECT COUNT(*) FROM (SELECT 1 FROM participant_sessions LIMIT 1))"
    " + (SELECT COUNT(*) FROM (SELECT 1 FROM webhook_inbox LIMIT 1))"
    " + (SELECT COUNT(*) FROM (SELECT 1 FROM seats LIMIT 1)) AS tables"
)
SQLITE_WRITE_PROBE = "UPDATE rooms SET id = id WHERE 0"


async def probe_tables(database: Database) -> None:
    """Take, and give back at once, what our writes need on every service table."""
    async with database.transaction() as conn:
        if is_postgres(conn):
            await conn.execute_query(POSTGRES_PROBE)
        else:
            # The write first: a read first could see a snapshot that a write
            # elsewhere then makes too old to write from (refused at once).
            await conn.execute_query(SQLITE_WRITE_PROBE)
            await conn.execute_query(SQLITE_PROBE)
