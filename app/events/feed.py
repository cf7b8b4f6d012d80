"""The live feed's one reader per node (being written: see FeedHub's contract)."""

from __future__ import annotations

import asyncio

from models.db import Database


class FeedHub:
    """Reads numbered events once per node and fans them out to open feeds."""

    def __init__(self, database: Database, poll_seconds: float = 1.0) -> None:
        self._database = database
        self._poll_seconds = poll_seconds
        self._woken = asyncio.Event()

    def wake(self, seq: int | None = None) -> None:
        """Events up to `seq` are numbered: read them."""
        self._woken.set()

    async def run_forever(self) -> None:
        await asyncio.Event().wait()  # placeholder until this is written
