"""The outbox: events written in the same transaction as the change they report.

An event exists if and only if its change committed: it is inserted by the
change's own transaction (the committer's statement, a room's create, update
or delete, a moderation action), with no `seq`. The sequencer
(app/events/sequencer.py) then numbers committed events in the order they
became visible, one sequencer at a time, so a reader that has seen `seq` N
never later finds a committed event numbered below N: the feed and the
deliveries read in `seq` order and miss nothing. (An insert's own id is not
that order: two transactions draw ids in one order and commit in the other.)

Outbound webhooks: endpoints (`webhook_endpoints`), one delivery per event and
endpoint that wants it (`outbox_deliveries`, made when the event is numbered),
and every attempt of a delivery (`outbox_attempts`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from models.db import Database, is_postgres, timestamp

# Indexes Tortoise cannot describe (partial), made by migrations 7 and 9 on PostgreSQL,
# at start-up on SQLite (app/sqlite_schema.py), and by tests that build the
# schema from the models: the sequencer's scan for events not numbered yet.
PARTIAL_INDEXES: tuple[str, ...] = (
    'CREATE INDEX IF NOT EXISTS "idx_outbox_events_unnumbered" ON "outbox_events" ("id") '
    'WHERE "seq" IS NULL',
    # The delivery worker's queues: pending deliveries by endpoint, room and seq
    # (migration 9), so finding each queue's head is one pass over what is pending.
    'CREATE INDEX IF NOT EXISTS "idx_outbox_deliveries_pending" ON "outbox_deliveries" '
    '("endpoint_id", "room", "event_seq") WHERE "state" = \'pending\'',
)

# Every type of event (DESIGN.md section 7), what endpoints and feeds may ask
# for; `ping` is only ever sent by an endpoint's test route, never stored.
EventType = Literal[
    "room.created",
    "room.updated",
    "room.deleted",
    "session.started",
    "session.ended",
    "participant.joined",
    "participant.left",
    "participant.refused",
    "participant.removed",
    "lobby.waiting",
    "lobby.admitted",
    "lobby.denied",
    "recording.started",
    "recording.ended",
]
EVENT_TYPES: frozenset[str] = frozenset(get_args(EventType))

# The one row holding the last number given, so numbers never go back (also
# after retention has deleted every event).
SEQUENCE_ROW = 1


class OutboxEvent(Model):
    """One event: what changed, in its room, when; numbered by the sequencer."""

    id = fields.BigIntField(primary_key=True)
    # Commit order, given after commit by the sequencer; NULL until then.
    seq = fields.BigIntField(null=True, unique=True)
    room = fields.CharField(max_length=128)
    type = fields.CharField(max_length=64)
    # The event's `data` (JSON text: both databases store it the same).
    data = fields.TextField()
    # When the change happened (the body's `timestamp`).
    occurred_at = fields.DatetimeField()
    # When the event was written (retention counts from it).
    created_at = fields.DatetimeField()

    class Meta:
        table = "outbox_events"
        # Retention deletes by age. (The sequencer's `seq IS NULL` index is
        # partial, so written by hand: migration 7 and app/sqlite_schema.py.)
        indexes = (("created_at",),)


class OutboxSequence(Model):
    """The last `seq` given (one row, id 1)."""

    id = fields.IntField(primary_key=True)
    last_seq = fields.BigIntField(default=0)

    class Meta:
        table = "outbox_sequence"


class WebhookEndpoint(Model):
    """A service's URL that receives the events it asked for, signed."""

    id = fields.CharField(max_length=40, primary_key=True)
    url = fields.CharField(max_length=2048)
    # Event types wanted (JSON list), NULL for all; rooms likewise.
    events = fields.TextField(null=True)
    rooms = fields.TextField(null=True)
    description = fields.CharField(max_length=512, null=True)
    enabled = fields.BooleanField(default=True)
    disabled_reason = fields.CharField(max_length=256, null=True)
    # `whsec_...`; the previous one keeps signing until previous_until (rotation).
    secret = fields.CharField(max_length=128)
    previous_secret = fields.CharField(max_length=128, null=True)
    previous_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "webhook_endpoints"


class OutboxDelivery(Model):
    """One event to one endpoint: pending until delivered, failed or skipped."""

    id = fields.BigIntField(primary_key=True)
    endpoint: fields.ForeignKeyRelation[WebhookEndpoint] = fields.ForeignKeyField(
        "models.WebhookEndpoint", related_name="deliveries", on_delete=fields.CASCADE
    )
    event: fields.ForeignKeyRelation[OutboxEvent] = fields.ForeignKeyField(
        "models.OutboxEvent", related_name="deliveries", on_delete=fields.CASCADE
    )
    event_seq = fields.BigIntField()
    room = fields.CharField(max_length=128)
    # pending | delivered | failed | skipped (the endpoint was disabled)
    state = fields.CharField(max_length=16, default="pending")
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    # The node making the attempt now, until when (a node that dies mid-attempt
    # leaves a claim that lapses, and another node tries again).
    claimed_by = fields.CharField(max_length=128, null=True)
    claimed_until = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_deliveries"
        # By queue and by due time (the worker's claim); by event, so retention's
        # cascading delete of an event does not scan the table.
        indexes = (
            ("endpoint_id", "room", "event_seq"),
            ("state", "next_attempt_at"),
            ("event_id",),
        )


class OutboxAttempt(Model):
    """One attempt of a delivery, as the deliveries route lists it."""

    id = fields.BigIntField(primary_key=True)
    delivery: fields.ForeignKeyRelation[OutboxDelivery] = fields.ForeignKeyField(
        "models.OutboxDelivery", related_name="attempt_rows", on_delete=fields.CASCADE
    )
    endpoint_id = fields.CharField(max_length=40)
    event_seq = fields.BigIntField()
    type = fields.CharField(max_length=64)
    attempt = fields.IntField()
    status_code = fields.IntField(null=True)
    error = fields.CharField(max_length=512, null=True)
    attempted_at = fields.DatetimeField()
    next_attempt_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_attempts"
        # An endpoint's attempts, newest first; by delivery, for the cascading delete.
        indexes = (("endpoint_id", "id"), ("delivery_id",))


@dataclass(frozen=True, slots=True)
class Event:
    """An event to write with its change: its type, room, data and time."""

    type: str
    room: str
    data: Mapping[str, Any]
    at: dt.datetime

    def data_json(self) -> str:
        return json.dumps(self.data, separators=(",", ":"), default=_json_default)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as readers see it: numbered, with its body."""

    seq: int
    room: str
    type: str
    data: Mapping[str, Any]
    at: dt.datetime

    @property
    def id(self) -> str:
        """The event's id: the feed's `id` and the deliveries' `webhook-id`."""
        return event_id(self.seq)

    def body(self, *, with_id: bool = False) -> dict[str, Any]:
        """The Standard Webhooks body (the feed adds the id)."""
        body: dict[str, Any] = {
            "type": self.type,
            "timestamp": iso(self.at),
            "data": dict(self.data),
        }
        if with_id:
            body = {"id": self.id, **body}
        return body


def event_id(seq: int) -> str:
    return f"evt_{seq}"


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _json_default(value: object) -> object:
    if isinstance(value, dt.datetime):
        return iso(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def now_sql(conn: BaseDBAsyncClient) -> str:
    """The database's clock in a statement (SQLite: the text form Tortoise stores)."""
    if is_postgres(conn):
        return "clock_timestamp()"
    return "strftime('%Y-%m-%d %H:%M:%f000+00:00', 'now')"


async def append(conn: BaseDBAsyncClient, events: Sequence[Event]) -> None:
    """Write `events` in `conn`'s transaction (the change's own), in this order."""
    if not events:
        return
    if is_postgres(conn):
        await conn.execute_query(
            "INSERT INTO outbox_events (room, type, data, occurred_at, created_at) "
            "SELECT r, t, d, a, clock_timestamp() FROM unnest($1::text[], $2::text[], "
            "$3::text[], $4::timestamptz[]) WITH ORDINALITY AS u(r, t, d, a, n) ORDER BY n",
            [
                [e.room for e in events],
                [e.type for e in events],
                [e.data_json() for e in events],
                [e.at for e in events],
            ],
        )
        return
    await conn.execute_many(
        "INSERT INTO outbox_events (room, type, data, occurred_at, created_at) "  # noqa: S608
        f"VALUES (?, ?, ?, ?, {now_sql(conn)})",
        [[e.room, e.type, e.data_json(), e.at] for e in events],
    )


async def write_events(
    database: Database, fence: Mapping[str, int], events: Sequence[Event]
) -> None:
    """`events` alone, in a room write of their own (fenced by the rooms' leases):
    for what happened outside the database (a participant LiveKit removed)."""
    async with database.room_write(fence) as conn:
        await append(conn, events)
    database.events_committed()


def stored(row: Mapping[str, Any]) -> StoredEvent:
    """A row of outbox_events (seq, room, type, data, occurred_at) as a StoredEvent."""
    return StoredEvent(
        seq=int(row["seq"]),
        room=str(row["room"]),
        type=str(row["type"]),
        data=json.loads(row["data"]),
        at=timestamp(row["occurred_at"]),
    )


async def count_pending_deliveries() -> int:
    """Deliveries not yet made or still to retry, to every endpoint (for /metrics)."""
    return await OutboxDelivery.filter(state="pending").count()
