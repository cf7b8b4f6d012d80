"""A room activation's reconciliations with LiveKit: when they are due, and their calls.

With LIVEKIT_URL set, the room's actor reconciles when it activates and every
RECONCILE_SECONDS while its session is open, someone present or not (a lost
first join is found too). Each room's first period is offset by a hash of its
name, so rooms activated together (a restart) spread over the period.

The timer only tells the actor ReconcileDue; the actor begins a
reconciliation when its webhook round is settled (everything stored so far
applied: the snapshot it hands over holds every earlier fact), and never
holds its mailbox for it. The call (ListParticipants, bounded by
LIVEKIT_TIMEOUT_SECONDS; ListRooms as well when the list is empty or names
someone unknown) runs here as a task; what LiveKit says becomes synthetic
events (reconcile.py), stored in the inbox like a delivery, and the actor is
told EventsStored: it applies them through its round, as it would a webhook.
LiveKit unreachable or refusing, or the database away: nothing changes, and
the next period tries again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from actors.room.livekit import LiveKit, LiveKitRefusedError, LiveKitUnreachableError
from actors.room.presence import RoomState
from actors.room.protocol import EventsStored, ReconcileDue, RoomMessage
from actors.room.reconcile import Answer, inbox_rows, needs_instance, plan
from models.db import Database
from models.webhook_inbox import insert_events

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReconcilePorts:
    """What reconciliations reach: LiveKit, the inbox, clocks, and the room's mailbox."""

    livekit: LiveKit
    database: Database
    now: Callable[[], dt.datetime]
    # RECONCILE_SECONDS, and how to wait it (injected: tests drive the period).
    period: float
    sleep: Callable[[float], Awaitable[None]]
    # A coalesced tell to a room's actor (RoomPostbox.nudge).
    tell: Callable[[str, RoomMessage], None]


def first_offset(name: str, period: float) -> float:
    """Where in the period a room's timer first fires: the same for a name on every
    node and activation, different across names."""
    return period * (zlib.crc32(name.encode()) / 2**32)


class Reconciler:
    """One room activation's timer and its reconciliation out, if any."""

    def __init__(self, name: str, ports: ReconcilePorts) -> None:
        self._name = name
        self._ports = ports
        self._due = False
        self._timer: asyncio.Task[None] | None = None
        self._call: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        """Only with a LiveKit to ask (LIVEKIT_URL set)."""
        return self._ports.livekit.configured

    @property
    def out(self) -> bool:
        """A reconciliation's call (or its storing) is under way."""
        return self._call is not None and not self._call.done()

    def start(self, state: RoomState) -> None:
        """The room is loaded: due now if its session is open; then every period."""
        if not self.enabled or self._timer is not None:
            return
        self._due = state.session is not None
        self._timer = asyncio.create_task(self._tick_forever())

    def due(self) -> None:
        self._due = True

    def begin(self, state: RoomState, *, settled: bool) -> None:
        """Begin the reconciliation due, if any, from `state` (the room's now), once
        the webhook round is `settled`; else it waits for the round's end."""
        if not self._due or not settled or self.out:
            return
        self._due = False
        if state.session is None:
            return  # nothing open to reconcile: the next join opens a session
        self._call = asyncio.create_task(self._reconcile(state, self._ports.now()))

    def cancel(self) -> None:
        for task in (self._timer, self._call):
            if task is not None:
                task.cancel()

    async def _tick_forever(self) -> None:
        ports = self._ports
        await ports.sleep(first_offset(self._name, ports.period))
        while True:
            ports.tell(self._name, ReconcileDue())
            await ports.sleep(ports.period)

    async def _reconcile(self, state: RoomState, began: dt.datetime) -> None:
        try:
            answer = await self._ask(state)
        except (LiveKitUnreachableError, LiveKitRefusedError) as error:
            log.info("room %r not reconciled: %s", self._name, error)
            return
        events = plan(self._name, state, answer, began)
        if not events:
            return
        try:
            await insert_events(
                self._ports.database, inbox_rows(self._name, events, self._ports.now())
            )
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("room %r: reconciliation not stored: %r", self._name, error)
            return
        self._ports.tell(self._name, EventsStored())

    async def _ask(self, state: RoomState) -> Answer:
        """LiveKit's answer; raises LiveKit's errors only when it said nothing usable."""
        livekit = self._ports.livekit
        try:
            participants = await livekit.list_participants(self._name)
        except LiveKitRefusedError as error:
            if error.gone:
                return Answer(found=False)
            raise
        if not needs_instance(state, participants):
            return Answer(participants)
        try:
            rooms = await livekit.list_rooms([self._name])
        except (LiveKitUnreachableError, LiveKitRefusedError) as error:
            # Who is gone is still known; who joined, and whether the room is, not.
            log.info("room %r: ListRooms failed (%s); ghosts only", self._name, error)
            return Answer(participants)
        instance = next((r for r in rooms if r.name == self._name), None)
        if instance is None and not participants:
            return Answer(found=False)  # LiveKit no longer has the room
        # Not listed while someone is: a room gone just now, left to the next period.
        return Answer(participants, instance=instance)
