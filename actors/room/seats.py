"""A room's seats and grants, as its actor keeps them: in memory, durable in `seats`.

A token request takes a seat (capacity: identities in the room plus seats
held must stay within `max_participants`), and the seat is written before the
token is returned (through the seat writer, which the actor does not wait
for: the route does). So after any restart the seats held before it count
again, until they expire or their participants join.

A grant is what the admission rule checks on join: Qari issued this identity
a token for this room (this creation of it: rows belong to the room's id).
It runs SEAT_HOLD_SECONDS past the token's expiry. That margin is what lets
the same identity ask again while its seat is held, with the same ttl, and
get its token with no write at all: its new token still expires within the
grant already stored. LiveKit itself refuses an expired token at connect, so
the margin only widens the check for a reconnect, by at most the hold.

State only on the actor's task: every method here is called by the room actor.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from actors.room.admission import Grant, has_place, places_taken
from actors.room.errors import RoomFullError
from actors.room.identity import canonical_identity
from actors.seat_writer import SeatWriter
from models.db import Database
from models.leases import Lease
from models.seats import SeatRow, load_room_seats

# Every so many new seats, grants that have lapsed are forgotten (O(grants), amortised).
GRANT_SWEEP_EVERY = 1024
# The longest a token Qari issues lives (the token route's bound on ttl_seconds).
MAX_TOKEN_SECONDS = 86_400
# How long a revocation's new key is kept: longer than any token issued before it
# can be used, with LiveKit's refresh of a connected client's token (minutes) on top.
REVOCATION_KEPT = dt.timedelta(seconds=MAX_TOKEN_SECONDS + 30 * 60)


def new_grant_key() -> str:
    """A key no earlier token of the identity carries (64 random bits)."""
    return secrets.token_hex(8)


@dataclass(slots=True)
class _Grant:
    row: SeatRow
    # The write that made `row` durable: pending, failed, or None once known stored.
    stored: asyncio.Future[None] | None


class SeatBook:
    """One room's grants by identity, and which of them hold a seat."""

    def __init__(
        self, room_name: str, hold_seconds: float, writer: SeatWriter, database: Database
    ) -> None:
        self._room_name = room_name
        self._hold = dt.timedelta(seconds=hold_seconds)
        self._writer = writer
        self._database = database
        self.room_id: int | None = None
        # The lease the room's actor holds: every write of a seat carries it (fenced).
        self.lease = Lease(room_name, 0)
        self._grants: dict[str, _Grant] = {}
        # The same grants as the admission rule reads them, kept in step with
        # `_grants`: a round's copy is then a plain dict copy (C speed), not a new
        # Grant per identity (py-spy: 9.7% of the webhook bench's busy samples).
        self._grant_values: dict[str, Grant] = {}
        # What grants() last handed out; None once the grants changed since.
        self._grants_view: Mapping[str, Grant] | None = None
        # identity -> held_until, kept in expiry order (a new hold is the latest),
        # so expired holds are pruned from the front. Never an identity in the room:
        # a join turns its seat into a place (`consume`).
        self._held: dict[str, dt.datetime] = {}
        self._new_seats = 0

    # -- lifecycle ---------------------------------------------------------------

    def reset(self, room_id: int | None) -> None:
        """A new creation of the room (or none): nothing granted before counts."""
        self.room_id = room_id
        self._grants = {}
        self._grant_values = {}
        self._grants_view = None
        self._held = {}

    async def load(self, room_id: int, now: dt.datetime, in_room: Collection[str]) -> None:
        """Rebuild from the database at activation (the rows of this room's id)."""
        # Fenced: the load also deletes lapsed rows, a write of the room's state.
        async with self._database.room_write({self.lease.room: self.lease.epoch}) as conn:
            rows = await load_room_seats(conn, room_id, now)
        self.reset(room_id)
        for stored in rows:
            # A row stored before identities had one spelling counts in the one
            # spelling (the latest-lasting row of an identity's spellings wins).
            row = replace(stored, identity=canonical_identity(stored.identity))
            known = self._grants.get(row.identity)
            if known is not None and known.row.granted_until >= row.granted_until:
                continue
            self._grants[row.identity] = _Grant(row, None)
            self._grant_values[row.identity] = Grant(row.granted_until, row.grant_key)
            self._grants_view = None
            until = row.held_until
            if until is not None and until > now and row.identity not in in_room:
                self._held[row.identity] = until

    # -- reading ---------------------------------------------------------------

    def prune(self, now: dt.datetime) -> None:
        while self._held:
            identity, held_until = next(iter(self._held.items()))
            if held_until > now:
                return
            del self._held[identity]

    def held_count(self, now: dt.datetime) -> int:
        self.prune(now)
        return len(self._held)

    def holds(self, identity: str, now: dt.datetime) -> bool:
        held_until = self._held.get(identity)
        return held_until is not None and held_until > now

    def granted_until(self, identity: str) -> dt.datetime | None:
        grant = self._grants.get(identity)
        return None if grant is None else grant.row.granted_until

    def grant_key(self, identity: str) -> str:
        """The key the identity's tokens carry now (after `reserve`, it has one)."""
        grant = self._grants.get(identity)
        return "" if grant is None else grant.row.grant_key

    def grants(self) -> Mapping[str, Grant]:
        """identity -> its grant, as a copy (the admission rule reads it elsewhere).
        The copy is kept until the grants change: each webhook round asks for it,
        and copying every grant each time grew with the room's history."""
        if self._grants_view is None:
            self._grants_view = MappingProxyType(self._grant_values.copy())
        return self._grants_view

    def held(self, now: dt.datetime) -> Mapping[str, dt.datetime]:
        """identity -> held_until of the seats held now, as a copy."""
        self.prune(now)
        return MappingProxyType(dict(self._held))

    # -- token requests ------------------------------------------------------------

    def reserve(
        self,
        identity: str,
        *,
        in_room: Collection[str],
        max_participants: int,
        ttl_seconds: int,
        now: dt.datetime,
    ) -> asyncio.Future[None] | None:
        """Take (or keep) `identity`'s seat and grant for a token of `ttl_seconds`.

        Returns the write its token must wait for, or None when what is stored
        already covers it. Raises RoomFullError when there is no place: a room
        whose limit was lowered below what is held keeps its seats and gives
        none until it is under the limit again.
        """
        if self.room_id is None:
            raise RuntimeError("no room to take a seat in")
        self.prune(now)
        grant = self._grants.get(identity)
        granted_until = now + dt.timedelta(seconds=ttl_seconds) + self._hold
        present = identity in in_room
        if not present and not self.holds(identity, now):
            taken = places_taken(in_room, self._held, besides=identity)
            if not has_place(taken, max_participants):
                raise RoomFullError(self._room_name)
            held_until = now + self._hold
            self._new_seats += 1
            if self._new_seats % GRANT_SWEEP_EVERY == 0:
                self._forget_lapsed_grants(now)
            self._held.pop(identity, None)
            self._held[identity] = held_until
            previous = grant.row.granted_until if grant is not None else granted_until
            # A grant keeps its key: a revoked one's tokens stay revoked.
            key = grant.row.grant_key if grant is not None else ""
            row = SeatRow(
                self.room_id, identity, now, held_until, max(previous, granted_until), key
            )
            return self._write(identity, row)
        if grant is None:
            # In the room without a grant of ours (kept while LIVEKIT_URL is empty).
            return self._write(identity, SeatRow(self.room_id, identity, now, None, granted_until))
        stored = grant.stored
        if stored is not None and stored.done() and stored.exception() is None:
            grant.stored = stored = None  # known durable: forget the future
        if granted_until > grant.row.granted_until + self._hold:
            # A longer ttl than the stored grant covers (or one asked for from
            # inside the room, long after the seat): extend it.
            return self._write(identity, replace(grant.row, granted_until=granted_until))
        if stored is not None and stored.done():
            return self._write(identity, grant.row)  # its write failed: try again
        return stored  # pending: this token waits for the same commit

    # -- joins and moderation --------------------------------------------------------

    def consume(self, identity: str) -> None:
        """The identity joined: its seat has become a place in the room."""
        if self._held.pop(identity, None) is None:
            return
        grant = self._grants.get(identity)
        if grant is not None and self.room_id is not None:
            # Not waited for: if it is lost, a restart counts the seat until it expires.
            self._write(identity, replace(grant.row, held_until=None))

    def release(self, identity: str) -> None:
        """Free `identity`'s seat (a moderator removed it): it no longer counts."""
        self.consume(identity)

    def release_all(self) -> None:
        """Free every seat (the meeting was ended)."""
        for identity in list(self._held):
            self.consume(identity)

    def revoke(
        self, identity: str, now: dt.datetime, *, only_granted: bool = False
    ) -> asyncio.Future[None] | None:
        """The identity's tokens stop admitting it here: its seat is freed and its grant
        takes a new key, so a join on any token issued before is refused and coming
        back takes a new token (which checks everything again).

        Always a new key, even for a grant that lapsed or that memory forgot: LiveKit
        refreshes a connected participant's token (same attributes), so a token of
        a lapsed grant can still be in use. The row is kept REVOCATION_KEPT, longer
        than any token issued before can live, or a fresh grant (key "") would let
        them in again. With `only_granted`, an identity memory holds no grant for is
        left alone. Returns the write to wait for (None: nothing to revoke).
        """
        self._held.pop(identity, None)
        grant = self._grants.get(identity)
        if self.room_id is None or (grant is None and only_granted):
            return None
        kept = now + REVOCATION_KEPT
        if grant is None:
            row = SeatRow(self.room_id, identity, now, None, kept, new_grant_key())
        else:
            until = max(grant.row.granted_until, kept)
            row = replace(
                grant.row, held_until=None, granted_until=until, grant_key=new_grant_key()
            )
        return self._write(identity, row)

    def revoke_all(self, now: dt.datetime, in_room: Collection[str]) -> list[asyncio.Future[None]]:
        """Every grant of the room revoked (the meeting was ended): holders who never
        joined included, and everyone in the room whatever memory holds of them."""
        writes = [self.revoke(identity, now) for identity in {*self._grants, *in_room}]
        return [write for write in writes if write is not None]

    def can_passivate(self, now: dt.datetime) -> bool:
        # Grants alone reload from the database; held seats keep the actor in memory.
        return self.held_count(now) == 0

    def _forget_lapsed_grants(self, now: dt.datetime) -> None:
        """A room that stays in use never reloads: drop the grants no join can use."""
        # A lapsed grant's tokens have all expired (granted_until is past their
        # expiry), revoked or not, so a fresh grant lets none of them back in.
        for identity in [i for i, g in self._grants.items() if g.row.granted_until <= now]:
            if identity not in self._held:
                del self._grants[identity]
                del self._grant_values[identity]
                self._grants_view = None

    def _write(self, identity: str, row: SeatRow) -> asyncio.Future[None]:
        stored = self._writer.store(row, self.lease)
        self._grants[identity] = _Grant(row, stored)
        value = Grant(row.granted_until, row.grant_key)
        if self._grant_values.get(identity) != value:
            # A join's write (the seat become a place) leaves the grant as it was:
            # the rounds' copy of the grants stays good.
            self._grant_values[identity] = value
            self._grants_view = None
        return stored
