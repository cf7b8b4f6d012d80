"""A round that splits: when the shared write fails, each room alone, then event by event.

Part of the committer (actors/committer.py), kept apart because it is its own
path, taken only on failure: a room whose write still fails goes one event at
a time, each failing event counting an attempt with its error, so one bad
event costs one event. If the database is away nothing counts against any
event: the rest stay pending, and a write that timed out is marked uncertain.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from actors.room.admission import Verdict
from actors.room.effects import Outcome
from actors.room.inbox import ParsedEvents
from actors.room.presence import RoomState
from actors.room.reconcile import Reconciled
from actors.room.taken import without_taken
from actors.rounds import ApplyObserver, ApplyRequest, Committed
from models.db import Database, DatabaseUnavailableError, LeaseLostError
from models.webhook_effects import EffectBatch, Written, write_and_mark
from models.webhook_inbox import MAX_ERROR, FailedAttempt, PendingEvent

# The committer's logger: these lines are its, wherever the code sits.
log = logging.getLogger("actors.committer")

# Recorded for an event whose own error text the database would not take.
UNRECORDABLE = "the error of this event could not be stored"


class SplitRound:
    """The committer's fallback writes; its state is the committer's (declared here)."""

    _database: Database
    _parsed: ParsedEvents | None
    observer: ApplyObserver
    writes: int

    if TYPE_CHECKING:  # the committer's (actors/committer.py)

        def _decide(
            self,
            request: ApplyRequest,
            state: RoomState,
            rows: Sequence[PendingEvent],
            sync_room: bool,
        ) -> Outcome:
            raise NotImplementedError

        def _committed(
            self,
            request: ApplyRequest,
            outcome: Outcome,
            written: Written,
            by_room: dict[str, list[PendingEvent]],
        ) -> Committed:
            raise NotImplementedError

        def _observe(
            self, effects: EffectBatch, rows: Sequence[PendingEvent], written: Written
        ) -> None:
            raise NotImplementedError

    async def _room_by_room(
        self,
        plans: list[tuple[ApplyRequest, Outcome]],
        by_room: dict[str, list[PendingEvent]],
        results: dict[str, Committed],
    ) -> list[ApplyRequest]:
        """Each room's effects written alone; returns the rooms whose write still fails."""
        failing: list[ApplyRequest] = []
        for request, outcome in plans:
            try:
                written = await write_and_mark(self._database, outcome.effects, request.fence())
            except LeaseLostError:
                # Another node serves the room now: nothing of this round is its to write.
                results[request.room] = Committed(request.activation, None)
                continue
            except DatabaseUnavailableError:
                # This write may have committed; the rooms after it keep theirs pending.
                results[request.room] = Committed(request.activation, None, uncertain=True)
                break
            except Exception:
                failing.append(request)
                continue
            self.writes += 1
            results[request.room] = self._committed(request, outcome, written, by_room)
        return failing

    async def _one_by_one(
        self, request: ApplyRequest, rows: Sequence[PendingEvent], *, more: bool
    ) -> Committed:
        """A room's events one at a time, each in its own write: one that fails to
        decide or to write counts an attempt with its error, and the rest go on.
        `more`: the round took as many events as it takes (more may be pending)."""
        state, sync_room = request.state, request.sync_room
        applied = failed = 0
        joined: list[str] = []
        refused: list[tuple[str, Verdict]] = []
        kept: list[tuple[str, Verdict]] = []
        reconciled = Reconciled()
        resync = False
        for row in rows:
            error: Exception
            try:
                outcome = self._decide(request, state, [row], sync_room)
            except Exception as caught:
                error = caught
            else:
                try:
                    written = await write_and_mark(self._database, outcome.effects, request.fence())
                except LeaseLostError:
                    return Committed(request.activation, None)
                except DatabaseUnavailableError:
                    return Committed(request.activation, None, uncertain=True)
                except Exception as caught:
                    error = caught
                else:
                    self.writes += 1
                    checked = without_taken(outcome, written.stored)
                    resync |= checked is not outcome
                    self._observe(checked.effects, [row], written)
                    state, sync_room = checked.state, False
                    applied += len(checked.effects.applied)
                    failed += len(checked.effects.failed)
                    joined += checked.joined
                    refused += checked.refused
                    kept += checked.kept
                    reconciled += checked.reconciled
                    continue
            log.warning("event %d (%s) failed to apply: %r", row.id, row.event_type, error)
            try:
                await self._count_attempt(request, row, error)
            except LeaseLostError:
                return Committed(request.activation, None)
            except DatabaseUnavailableError:
                break  # the event stays pending, its attempt not counted: the database is away
            failed += 1
            self.observer.observe_failed(row.event_type)
        return Committed(
            request.activation,
            state,
            applied,
            failed,
            tuple(joined),
            tuple(refused),
            tuple(kept),
            more=more,
            resync=resync or sync_room,
            reconciled=reconciled,
        )

    async def _count_attempt(
        self, request: ApplyRequest, row: PendingEvent, error: Exception
    ) -> None:
        """One attempt more against `row`, with its error (or a fixed text the database
        is sure to take), so no event can fail uncounted forever."""
        for text in (_error_text(error), UNRECORDABLE):
            try:
                await write_and_mark(
                    self._database,
                    EffectBatch(failed=[FailedAttempt(row.id, text)]),
                    request.fence(),
                )
                return
            except (DatabaseUnavailableError, LeaseLostError):
                raise
            except Exception:
                log.exception("the failed attempt of event %d could not be counted", row.id)


def _error_text(error: Exception) -> str:
    """An error as text any column holds: no NUL, no lone surrogate, bounded."""
    text = f"{type(error).__name__}: {error}".replace("\x00", "\\x00")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")[:MAX_ERROR]
