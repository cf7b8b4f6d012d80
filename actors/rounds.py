"""What a room hands the committer, what it gets back, and who watches the rounds.

The committer (actors/committer.py) and the room actor (actors/room/actor.py)
speak through these values only: a request carries the room's immutable
state and what admission knows, an outcome the state after its commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from actors.room.admission import AdmissionView, Verdict
from actors.room.presence import RoomState
from actors.room.reconcile import NOTHING_RECONCILED, Reconciled


class ApplyObserver(Protocol):
    """Told what each round did (for metrics; app/metrics.py implements it)."""

    def observe_applied(self, lags_seconds: Sequence[float]) -> None:
        """Events applied, each as seconds from being received to being committed."""

    def observe_failed(self, event_type: str) -> None:
        """An event failed to apply (one attempt counted)."""


class Unobserved:
    """The observer when nothing watches (tests of the write path alone)."""

    def observe_applied(self, lags_seconds: Sequence[float]) -> None:
        pass

    def observe_failed(self, event_type: str) -> None:
        pass


@dataclass(frozen=True, slots=True, eq=False)
class ApplyRequest:
    """A room's pending events to apply, decided from `state`."""

    room: str
    state: RoomState
    # What the admission rule knows, as of when the request was made.
    admission: AdmissionView
    # The round reads the events received up to this moment: all of them came
    # after the grants their joins use, which are in `admission`.
    as_of: dt.datetime
    # The room of ours (None: a LiveKit room Qari did not create).
    room_id: int | None
    # Write the room row even if the events leave it unchanged.
    sync_room: bool
    # The activation asking (its round object): a result meant for another one
    # is stale to it.
    activation: object
    # `state` may be behind the database (a write whose outcome is unknown):
    # the round reads the room's presence again before deciding.
    reload: bool = False
    # The epoch of the room's lease its actor holds: the write is fenced by it.
    epoch: int = 0

    def fence(self) -> dict[str, int]:
        return {self.room: self.epoch}


@dataclass(frozen=True, slots=True, eq=False)
class Committed:
    """The outcome of a room's round, for its actor."""

    activation: object
    # The state once the effects are written; None: nothing is known written.
    state: RoomState | None
    applied: int = 0
    failed: int = 0
    joined: tuple[str, ...] = ()
    refused: tuple[tuple[str, Verdict], ...] = ()
    kept: tuple[tuple[str, Verdict], ...] = ()
    # The round took MAX_EVENTS_PER_ROOM events: more may be pending.
    more: bool = False
    # The room row may not match the state (a sid was taken): write it next round.
    resync: bool = False
    # A write timed out or lost its connection: it may have committed, so the
    # room's next round reads its presence again (memory is behind, never ahead).
    uncertain: bool = False
    # What a reconciliation's events changed (actors/room/reconcile.py).
    reconciled: Reconciled = NOTHING_RECONCILED
