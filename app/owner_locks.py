"""One room creation at a time per wallet owner, so WALLET_MAX_ROOMS is exact."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class OwnerLocks:
    """One lock per owner while it creates a room, so counting and creating do not race.

    Ownership is per process like the room actors (one worker); locks are
    dropped when nobody holds or waits on them.
    """

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, owner: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(owner, (asyncio.Lock(), 0))
        self._locks[owner] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[owner]
            if users <= 1:
                del self._locks[owner]
            else:
                self._locks[owner] = (lock, users - 1)
