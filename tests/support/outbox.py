"""Reading the outbox in tests: every committed event, numbered, in order."""

from __future__ import annotations

import asyncio
from typing import Any

from models.db import connection
from models.outbox import StoredEvent, stored
from tests.conftest import Running


async def numbered(running: Running) -> list[StoredEvent]:
    """Every event committed so far, numbered (a run of the sequencer first, so
    none waits for its nudge), in `seq` order."""
    # The app's own sequencer may be numbering them at this moment (a run that
    # finds the sequence held numbers nothing): until none is left unnumbered.
    async with asyncio.timeout(10):
        while True:
            await running.services.events.sequencer.run_once()
            async with running.services.database.bounded():
                left = await connection().execute_query_dict(
                    "SELECT count(*) AS n FROM outbox_events WHERE seq IS NULL"
                )
            if not int(left[0]["n"]):
                break
            await asyncio.sleep(0.01)
    async with running.services.database.bounded():
        rows = await connection().execute_query_dict(
            "SELECT seq, room, type, data, occurred_at FROM outbox_events "
            "WHERE seq IS NOT NULL ORDER BY seq"
        )
    return [stored(row) for row in rows]


def kinds(events: list[StoredEvent], room: str | None = None) -> list[str]:
    return [e.type for e in events if room is None or e.room == room]


def data_of(events: list[StoredEvent], type_: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in events if e.type == type_]
