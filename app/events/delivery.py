"""Outbound webhook deliveries (being written: see DeliveryWorker's contract)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

from app.settings import Settings
from models.db import Database


class DeliveryWorker:
    """Sends pending deliveries; one node at a time per delivery."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        node_id: str,
        now: Callable[[], dt.datetime],
    ) -> None:
        self._database = database
        self._settings = settings
        self._node_id = node_id
        self._now = now
        self._woken = asyncio.Event()

    def wake(self, seq: int | None = None) -> None:
        """New events were numbered (here or on another node): look for work."""
        self._woken.set()

    async def run_forever(self) -> None:
        await asyncio.Event().wait()  # placeholder until this is written

    async def close(self, grace_seconds: float) -> None:
        return None
