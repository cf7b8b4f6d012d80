"""Removing the joins a room refused, after the commit that recorded them.

RemoveParticipant calls run as tasks, off the room's mailbox, so a slow or
absent LiveKit never holds its token requests. With LIVEKIT_URL empty the
rule keeps refused joins (there is nobody to remove them): they are only
logged and counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from actors.room.admission import AdmissionStats, Verdict
from actors.room.livekit import LiveKit, LiveKitRefusedError, LiveKitUnreachableError

log = logging.getLogger(__name__)


class Removals:
    """One room's refused joins: counted, and removed from LiveKit."""

    def __init__(self, room: str, livekit: LiveKit, stats: AdmissionStats) -> None:
        self._room = room
        self._livekit = livekit
        self._stats = stats
        self._tasks: set[asyncio.Task[None]] = set()

    def __bool__(self) -> bool:
        return bool(self._tasks)

    def count(
        self, refused: Iterable[tuple[str, Verdict]], kept: Iterable[tuple[str, Verdict]]
    ) -> None:
        for identity, verdict in refused:
            self._stats.refused[verdict.value] += 1
            log.warning(
                "room %r: join of %r not admitted (%s)", self._room, identity, verdict.value
            )
        for identity, verdict in kept:
            self._stats.refused[verdict.value] += 1
            self._stats.kept_without_livekit += 1
            log.warning(
                "room %r: join of %r not admitted (%s); LIVEKIT_URL is empty, so it stays",
                self._room,
                identity,
                verdict.value,
            )

    def remove(self, identities: list[str]) -> None:
        if identities:
            task = asyncio.create_task(self._remove_all(list(dict.fromkeys(identities))))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def then(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the removals under way are done (now if there are none)."""
        if not self._tasks:
            callback()
            return
        waiting = asyncio.ensure_future(asyncio.wait(list(self._tasks)))
        waiting.add_done_callback(lambda _: callback())

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def _remove_all(self, identities: list[str]) -> None:
        for identity in identities:
            try:
                await self._livekit.remove_participant(self._room, identity)
                self._stats.removed += 1
            except LiveKitRefusedError as error:
                if error.gone:
                    continue  # gone already
                self._stats.removals_failed += 1
                log.warning("room %r: removing %r refused: %s", self._room, identity, error)
            except LiveKitUnreachableError as error:
                self._stats.removals_failed += 1
                log.warning("room %r: removing %r failed: %s", self._room, identity, error)
