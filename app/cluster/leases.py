"""This node's room leases on PostgreSQL: claimed on activation, renewed together,
checked in memory before each message and by the database in each write.

Times (DESIGN.md section 6): a lease runs LEASE_SECONDS past its latest
renewal by the database's clock; renewals come every third of that, all of
this node's leases in one statement. This node trusts a lease only until
LEASE_SECONDS after the renewal was *sent*, less a margin, by its own
monotonic clock: the database stamped the expiry after that moment, so the
node stops acting on a room before the database would let another node take
it, never after, whatever the two clocks say. A node that cannot renew in
time (a stalled database, a partition) thus stops its actors first; one that
was frozen (SIGSTOP) finds its leases past that point when it wakes and acts
on none of them, and its writes in flight are refused by the fence.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Mapping

from tortoise.backends.base.client import BaseDBAsyncClient

from models import leases as sql
from models.db import (
    Database,
    DatabaseUnavailableError,
    connection,
    is_unavailable,
    transaction,
)
from models.leases import Holder, Lease

log = logging.getLogger(__name__)

# The part of LEASE_SECONDS this node gives up to be sure it stops first.
SAFETY_FRACTION = 0.1
# How often lapsed leases are looked for between renewals.
CHECK_SECONDS = 0.25
# At shutdown, releasing the leases gets at least this long (else other nodes
# wait LEASE_SECONDS for the rooms).
MIN_RELEASE_SECONDS = 1.0


def boot_clock() -> float:
    """Seconds that keep counting while the machine is suspended or the VM paused
    (CLOCK_MONOTONIC stops then, and a paused node would trust its leases too long)."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


class NodeLeases:
    """The leases this node holds, by room; the Ownership of app/cluster (PostgreSQL)."""

    def __init__(
        self,
        node_id: str,
        url: str,
        lease_seconds: float,
        database: Database,
        clock: Callable[[], float] = boot_clock,
    ) -> None:
        self._node_id = node_id
        self._url = url
        self._seconds = lease_seconds
        self._database = database
        self._clock = clock
        # room -> (epoch, until when this node may act on it, by `clock`)
        self._held: dict[str, tuple[int, float]] = {}
        # Told of each room this node stops serving (the room registry evicts its actor).
        self.on_lost: Callable[[str], None] = lambda _room: None
        self._claiming: dict[str, asyncio.Future[Lease | Holder]] = {}
        # Given up by idle actors (room -> epoch), let lapse with the next renewal.
        self._released: dict[str, int] = {}
        self._keeper: asyncio.Task[None] | None = None

    @property
    def node_id(self) -> str:
        return self._node_id

    def _trusted_until(self, sent_at: float) -> float:
        return sent_at + self._seconds * (1 - SAFETY_FRACTION)

    # -- Ownership -----------------------------------------------------------------

    async def claim(self, room: str, seconds: float | None) -> Lease | Holder:
        lease = self.current(room)
        if lease is not None:
            return lease
        # One claim per room at a time: a second claim by this node would take the
        # lease over from the first (a new epoch), fencing its own writes.
        claiming = self._claiming.get(room)
        if claiming is None:
            # Shared by every request for the room meanwhile, so it gets the
            # database's whole timeout, not the budget of whichever request came
            # first: one that had spent its own (a forward that timed out) would
            # otherwise fail the claim for all the others. Each waits its own.
            claiming = asyncio.ensure_future(self._claim(room))
            self._claiming[room] = claiming
            claiming.add_done_callback(functools.partial(self._claimed, room))
        try:
            async with asyncio.timeout(seconds):
                return await asyncio.shield(claiming)
        except TimeoutError:
            raise DatabaseUnavailableError(f"the lease of {room!r} not claimed in time") from None

    def _claimed(self, room: str, claiming: asyncio.Future[Lease | Holder]) -> None:
        self._claiming.pop(room, None)
        if not claiming.cancelled():
            # Its requests may all have given up: its failure is theirs, not a stray.
            claiming.exception()

    async def _claim(self, room: str) -> Lease | Holder:
        sent_at = self._clock()
        # The takeover's lock ends with the transaction.
        async with transaction(self._database.timeout_seconds) as conn:
            claimed = await sql.claim(conn, room, self._node_id, self._seconds)
        if isinstance(claimed, Lease):
            self._held[room] = (claimed.epoch, self._trusted_until(sent_at))
            self._released.pop(room, None)
        return claimed

    def current(self, room: str) -> Lease | None:
        held = self._held.get(room)
        if held is None:
            return None
        epoch, until = held
        if self._clock() >= until:
            self._lose([room])
            return None
        return Lease(room, epoch)

    def release(self, lease: Lease) -> None:
        """The room's actor stopped (idle): its lease lapses at the next renewal, so
        another node may take the room at once instead of LEASE_SECONDS later. Only
        that lease: one taken again since (a new epoch) is kept."""
        held = self._held.get(lease.room)
        if held is not None and held[0] == lease.epoch:
            del self._held[lease.room]
            self._released[lease.room] = lease.epoch

    # -- Fencing (models/db.py) ----------------------------------------------------

    @property
    def node(self) -> str | None:
        return self._node_id

    async def stale(self, conn: BaseDBAsyncClient, leases: Mapping[str, int]) -> set[str]:
        stale = await sql.fence(conn, self._node_id, leases)
        self.lost(leases, stale)
        return stale

    def lost(self, leases: Mapping[str, int], stale: set[str]) -> None:
        if not stale:
            return
        held = [room for room in stale if self._is_held(room, leases[room])]
        if len(held) < len(stale):
            # A write fenced by an epoch this node no longer holds (or never did): its
            # room was lost or claimed again meanwhile. Said, so a write refused over
            # and over is seen.
            log.info(
                "write refused by its fence for room(s) %s under an epoch no longer held",
                sorted(set(stale) - set(held)),
            )
        self._lose(held)

    def _is_held(self, room: str, epoch: int) -> bool:
        held = self._held.get(room)
        return held is not None and held[0] == epoch

    # -- keeping them ------------------------------------------------------------

    async def renew(self) -> None:
        """One renewal of the leases held now (and the heartbeat). A lease renewal
        did not find is lost; one claimed while it was out is left alone."""
        sent_at = self._clock()
        released, self._released = self._released, {}
        sent = {room: epoch for room, (epoch, _) in self._held.items()}
        try:
            async with self._database.bounded(self._seconds / 3):
                if released:
                    await sql.release(connection(), self._node_id, released)
                renewed = await sql.renew(
                    connection(), self._node_id, self._url, self._seconds, sent
                )
        except BaseException:
            for room, epoch in released.items():  # tried again with the next renewal
                self._released.setdefault(room, epoch)
            raise
        until = self._trusted_until(sent_at)
        lost = []
        for room, epoch in sent.items():
            if not self._is_held(room, epoch):
                continue  # released, lost or taken again meanwhile: not this renewal's
            if renewed.get(room) == epoch:
                self._held[room] = (epoch, until)
            else:
                lost.append(room)
        self._lose(lost)

    def start(self) -> None:
        """Keep the leases from now until `release_all`."""
        if self._keeper is None:
            self._keeper = asyncio.create_task(self._keep_forever(), name="qari-leases")

    async def _keep_forever(self) -> None:
        """Renew every third of LEASE_SECONDS; between renewals, stop serving any room
        whose lease this node can no longer be sure of."""
        next_renewal = self._clock()
        while True:
            if self._clock() >= next_renewal:
                next_renewal = self._clock() + self._seconds / 3
                try:
                    await self.renew()
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    log.warning(
                        "lease renewal failed (%s); rooms are given up when their leases lapse",
                        type(error).__name__,
                        exc_info=not is_unavailable(error),
                    )
            self._lose([room for room, (_, until) in self._held.items() if self._clock() >= until])
            await asyncio.sleep(min(CHECK_SECONDS, max(0.0, next_renewal - self._clock())))

    async def release_all(self, seconds: float) -> None:
        """At shutdown, after the actors stopped: renewals end, and every lease lapses
        now, so another node takes the rooms at once (not LEASE_SECONDS later)."""
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        self._held.clear()
        try:
            async with self._database.bounded(max(seconds, MIN_RELEASE_SECONDS)):
                await sql.release(connection(), self._node_id)
        except Exception as error:
            log.warning(
                "leases not released (%s): other nodes take the rooms once they lapse",
                type(error).__name__,
            )

    def _lose(self, rooms: list[str]) -> None:
        for room in rooms:
            if self._held.pop(room, None) is None:
                continue
            log.info("room %r: lease lost; this node stops serving it", room)
            try:
                self.on_lost(room)
            except Exception:
                log.exception("stopping room %r after its lease was lost failed", room)
