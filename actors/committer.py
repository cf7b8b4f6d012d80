"""The one writer of webhook effects: a group commit for every room with events waiting.

A room actor hands its current state (an immutable value) and goes on
serving: it never waits on the database for its webhooks. Each round then
costs the same round trips for one room or a hundred:

1. one read of the pending events of every room in the round, oldest first;
2. each room's events decided by its rules (effects.py), a pure function of
   the state it handed over: nothing here touches an actor's memory;
3. one write of every room's effects with the mark that makes their events
   processed (one statement on PostgreSQL);
4. each actor is told the state after, and adopts it on its own task: its
   memory is never ahead of the database.

If that write fails for something other than the database being away, the
round splits: each room is written alone, and a room that still fails goes
one event at a time, each failing event counting an attempt with its error
(that split path is split_round.py). So one bad event costs one event. If
the database is away, nothing counts against any event: the rooms keep their
state and their events stay pending for the next nudge or the periodic
sweep. A write that timed out may still have committed: its rooms read their
presence again in their next round, and the periodic sweep wakes them for it
(`uncertain_rooms`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace

from actors.batching import TurnBatches
from actors.room.effects import Outcome, decide
from actors.room.inbox import ParsedEvents
from actors.room.presence import RoomState, load_state
from actors.room.taken import without_taken
from actors.rounds import ApplyObserver, ApplyRequest, Committed, Unobserved
from actors.split_round import SplitRound
from models.db import Database, DatabaseUnavailableError, LeaseLostError
from models.webhook_effects import EffectBatch, Written, write_and_mark
from models.webhook_inbox import PendingEvent, PendingQuery, read_pending

log = logging.getLogger(__name__)

# Rounds in flight at once, each holding one pooled connection at a time. More
# than one, so a room whose events arrive while a round is out does not wait
# for it to finish (4 gave the lowest lag p99 at 64 senders, bench/webhook_bench.py).
MAX_IN_FLIGHT = 4
# Bounds on one round, so a backlog after an outage goes in slices.
MAX_ROOMS = 128
MAX_EVENTS_PER_ROOM = 100

__all__ = ["ApplyObserver", "ApplyRequest", "Committed", "Committer", "Unobserved"]


class Committer(SplitRound):
    """Takes rooms' apply requests and commits them in shared rounds."""

    def __init__(
        self,
        *,
        database: Database,
        max_attempts: int,
        deliver: Callable[[str, Committed], None],
        observer: ApplyObserver | None = None,
        parsed: ParsedEvents | None = None,
    ) -> None:
        # Every read and write of a round within the database's timeout.
        self._database = database
        self._max_attempts = max_attempts
        # What the webhook route parsed already, so a round need not parse it again.
        self._parsed = parsed
        self._deliver = deliver
        self.observer: ApplyObserver = observer or Unobserved()
        # Requests made in one turn of the loop share the next round.
        self._rounds = TurnBatches(self._round, max_in_flight=MAX_IN_FLIGHT, max_batch=MAX_ROOMS)
        # A room is in at most one round at a time; what it asks meanwhile waits here.
        self._busy: dict[str, asyncio.Future[None]] = {}
        self._held: dict[str, ApplyRequest] = {}
        # Rooms whose last write's outcome is unknown (with the activation it was
        # for), until a round reads their presence again.
        self._uncertain: dict[str, object] = {}
        self._closed = False
        self.writes = 0  # for ops and tests: write-and-mark statements that committed

    def submit(self, request: ApplyRequest) -> None:
        if self._closed:
            return
        if request.room in self._busy:
            self._held[request.room] = request
            return
        self._busy[request.room] = asyncio.get_running_loop().create_future()
        self._rounds.add(request)

    def in_flight(self, room: str) -> asyncio.Future[None] | None:
        """Done when the room's current round is over (a new activation waits for it)."""
        return self._busy.get(room)

    def uncertain_rooms(self) -> list[str]:
        """Rooms to wake so their next round reads their presence again."""
        return list(self._uncertain)

    async def close(self, grace_seconds: float) -> None:
        """Stop taking requests; wait for rounds in flight at most `grace_seconds`."""
        self._closed = True
        self._held.clear()
        await self._rounds.close(grace_seconds)

    # -- a round -----------------------------------------------------------------

    async def _round(self, batch: list[ApplyRequest]) -> None:
        results: dict[str, Committed] = {}
        try:
            await self._commit(batch, results)
        except DatabaseUnavailableError as error:
            log.warning("database unavailable; events of %d room(s) wait: %s", len(batch), error)
        except Exception:
            log.exception("a round of %d room(s) failed", len(batch))
        finally:
            for request in batch:
                outcome = results.get(request.room) or Committed(request.activation, None)
                if outcome.uncertain:
                    self._uncertain[request.room] = request.activation
                elif outcome.state is not None and (
                    request.reload
                    or self._uncertain.get(request.room, request.activation)
                    is not request.activation
                ):
                    # Read again: by this round, or by a new activation's load.
                    self._uncertain.pop(request.room, None)
                try:
                    self._deliver(request.room, outcome)
                except Exception:
                    log.warning("room %r not told of its round", request.room, exc_info=True)
                done = self._busy.pop(request.room, None)
                if done is not None and not done.done():
                    done.set_result(None)
                held = self._held.pop(request.room, None)
                if held is not None:
                    self.submit(held)

    async def _commit(self, batch: list[ApplyRequest], results: dict[str, Committed]) -> None:
        """Fill `results` as each room's outcome becomes known (a failure later in the
        round cannot take back what is committed)."""
        # A room whose state may be behind decides from what the database holds.
        batch = [
            replace(r, state=await load_state(self._database, r.room), sync_room=True)
            if r.reload
            else r
            for r in batch
        ]
        rows = await read_pending(
            self._database,
            [PendingQuery(r.room, r.as_of) for r in batch],
            max_attempts=self._max_attempts,
            per_room=MAX_EVENTS_PER_ROOM,
        )
        by_room: dict[str, list[PendingEvent]] = defaultdict(list)
        for row in rows:
            by_room[row.room_name].append(row)
        plans: list[tuple[ApplyRequest, Outcome]] = []
        alone: list[ApplyRequest] = []
        for request in batch:
            mine = by_room.get(request.room, [])
            if not mine and not (request.sync_room and request.room_id is not None):
                results[request.room] = Committed(request.activation, request.state)
                continue
            try:
                plans.append(
                    (
                        request,
                        self._decide(request, request.state, mine, request.sync_room),
                    )
                )
            except Exception:
                log.exception("deciding the events of room %r failed", request.room)
                alone.append(request)  # event by event, so the one that breaks is found
        if plans:
            merged = EffectBatch()
            for _, outcome in plans:
                merged.extend(outcome.effects)
            try:
                written = await write_and_mark(
                    self._database, merged, {r.room: r.epoch for r, _ in plans}
                )
            except LeaseLostError as error:
                # Rooms another node serves now: their actors are stopped (the fence
                # told this node's leases); the others are written without them.
                for request, _ in plans:
                    if request.room in error.rooms:
                        results[request.room] = Committed(request.activation, None)
                alone += await self._room_by_room(
                    [p for p in plans if p[0].room not in error.rooms], by_room, results
                )
            except DatabaseUnavailableError as error:
                log.warning("a write of %d room(s) timed out or failed: %s", len(plans), error)
                for request, _ in plans:
                    results[request.room] = Committed(request.activation, None, uncertain=True)
                return
            except Exception as error:
                log.warning("a write of %d room(s) failed (%r); room by room", len(plans), error)
                alone += await self._room_by_room(plans, by_room, results)
            else:
                self.writes += 1
                for request, outcome in plans:
                    results[request.room] = self._committed(request, outcome, written, by_room)
        for request in alone:
            if request.room not in results:
                mine = by_room[request.room]
                more = len(mine) >= MAX_EVENTS_PER_ROOM
                results[request.room] = await self._one_by_one(request, mine, more=more)

    def _committed(
        self,
        request: ApplyRequest,
        outcome: Outcome,
        written: Written,
        by_room: dict[str, list[PendingEvent]],
    ) -> Committed:
        rows = by_room.get(request.room, [])
        self._observe(outcome.effects, rows, written)
        checked = without_taken(outcome, written.stored)
        return Committed(
            request.activation,
            checked.state,
            applied=len(outcome.effects.applied),
            failed=len(outcome.effects.failed),
            joined=checked.joined,
            refused=checked.refused,
            kept=checked.kept,
            more=len(rows) >= MAX_EVENTS_PER_ROOM,
            resync=checked is not outcome,
            reconciled=outcome.reconciled,
        )

    def _observe(
        self, effects: EffectBatch, rows: Sequence[PendingEvent], written: Written
    ) -> None:
        # Metrics must never cost a room what was committed for it.
        try:
            applied = set(effects.applied)
            failed = {f.id for f in effects.failed}
            # Each lag to the processed_at the write gave the event (the database's clock).
            processed = written.processed
            lags = [
                (processed[row.id] - row.received_at).total_seconds()
                for row in rows
                if row.id in applied and row.id in processed
            ]
            if lags:
                self.observer.observe_applied(lags)
            for row in rows:
                if row.id in failed:
                    self.observer.observe_failed(row.event_type)
        except Exception:
            log.exception("observing a round failed")

    def _decide(
        self,
        request: ApplyRequest,
        state: RoomState,
        rows: Sequence[PendingEvent],
        sync_room: bool,
    ) -> Outcome:
        return decide(
            state,
            rows,
            request.admission,
            room_id=request.room_id,
            sync_room=sync_room,
            parsed=self._parsed,
        )
