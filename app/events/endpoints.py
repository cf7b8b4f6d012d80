"""Outbound webhook endpoints as stored: registration, changes, secrets, and what
their attempts left (DESIGN.md section 7).

Every function runs in its caller's transaction or deadline (`conn`). Event
types and room names are kept as JSON lists, NULL meaning "all", as the
sequencer reads them when it makes deliveries (app/events/sequencer.py).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.outbound.signing import new_secret
from models.db import is_postgres, placeholder, timestamp
from models.outbox import SEQUENCE_ROW, OutboxAttempt, WebhookEndpoint, event_id

# For this long after a rotation the previous secret signs too.
ROTATION_OVERLAP = dt.timedelta(hours=24)
MANUALLY_DISABLED = "disabled by a service (PATCH enabled=false)"
GONE = "the endpoint answered 410 Gone"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An endpoint as its owners see it (never its secrets)."""

    id: str
    url: str
    events: list[str] | None
    rooms: list[str] | None
    description: str | None
    enabled: bool
    disabled_reason: str | None
    created_at: dt.datetime

    @classmethod
    def of(cls, row: WebhookEndpoint) -> Endpoint:
        return cls(
            id=row.id,
            url=row.url,
            events=_names(row.events),
            rooms=_names(row.rooms),
            description=row.description,
            enabled=row.enabled,
            disabled_reason=row.disabled_reason,
            created_at=timestamp(row.created_at),
        )


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """One attempt of a delivery to an endpoint, as the deliveries route lists it."""

    id: int
    event_id: str
    type: str
    attempt: int
    status_code: int | None
    error: str | None
    attempted_at: dt.datetime
    next_attempt_at: dt.datetime | None


def new_endpoint_id() -> str:
    return "ep_" + secrets.token_urlsafe(16)


def signing_secrets(
    secret: str, previous: str | None, previous_until: dt.datetime | None, now: dt.datetime
) -> list[str]:
    """The secrets that sign now: the current one, and the previous one while it overlaps."""
    if previous is not None and previous_until is not None and timestamp(previous_until) > now:
        return [secret, previous]
    return [secret]


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [str(name) for name in json.loads(text)]


def _json(names: Sequence[str] | None) -> str | None:
    # Each name once, in the order given.
    return None if names is None else json.dumps(list(dict.fromkeys(names)))


async def create_endpoint(
    conn: BaseDBAsyncClient,
    url: str,
    events: Sequence[str] | None,
    rooms: Sequence[str] | None,
    description: str | None,
    now: dt.datetime,
) -> tuple[Endpoint, str]:
    """Store a new endpoint; it and its secret (shown to its owner only now)."""
    secret = new_secret()
    row = await WebhookEndpoint.create(
        id=new_endpoint_id(),
        url=url,
        events=_json(events),
        rooms=_json(rooms),
        description=description,
        enabled=True,
        secret=secret,
        created_at=now,
        using_db=conn,
    )
    return Endpoint.of(row), secret


async def list_endpoints() -> list[Endpoint]:
    rows = await WebhookEndpoint.all().order_by("created_at", "id")
    return [Endpoint.of(row) for row in rows]


async def get_endpoint_row(endpoint_id: str) -> WebhookEndpoint | None:
    """The endpoint's row, secrets and all (for signing a test event)."""
    return await WebhookEndpoint.get_or_none(id=endpoint_id)


async def change_endpoint(
    conn: BaseDBAsyncClient, endpoint_id: str, changes: dict[str, Any]
) -> Endpoint | None:
    """Apply `changes` (url, events, rooms, description, enabled); None if there is no such
    endpoint. Disabling skips its pending deliveries; enabling clears the reason, and it
    gets the events numbered from then on."""
    if changes.get("enabled") is False:
        # First, so this transaction takes the sequencer's lock before the endpoint's row.
        await disable_endpoint(conn, endpoint_id, MANUALLY_DISABLED)
    row = await WebhookEndpoint.get_or_none(id=endpoint_id, using_db=conn)
    if row is None:
        return None
    fields: dict[str, Any] = {}
    for name in ("events", "rooms"):
        if name in changes:
            fields[name] = _json(changes[name])
    for name in ("url", "description"):
        if name in changes:
            fields[name] = changes[name]
    if changes.get("enabled") is True and not row.enabled:
        fields |= {"enabled": True, "disabled_reason": None}
    if fields:
        row.update_from_dict(fields)
        await row.save(using_db=conn, update_fields=list(fields))
    return Endpoint.of(row)


async def delete_endpoint(conn: BaseDBAsyncClient, endpoint_id: str) -> bool:
    """Delete an endpoint with its deliveries and their attempts; False if there was none."""
    deleted = await WebhookEndpoint.filter(id=endpoint_id).using_db(conn).delete()
    return deleted > 0


async def rotate_secret(conn: BaseDBAsyncClient, endpoint_id: str, now: dt.datetime) -> str | None:
    """A new secret for the endpoint; the one it replaces signs too until `now` + 24 h.
    None if there is no such endpoint."""
    row = await WebhookEndpoint.get_or_none(id=endpoint_id, using_db=conn)
    if row is None:
        return None
    secret = new_secret()
    row.previous_secret, row.previous_until, row.secret = row.secret, now + ROTATION_OVERLAP, secret
    await row.save(using_db=conn, update_fields=["secret", "previous_secret", "previous_until"])
    return secret


async def hold_sequencer(conn: BaseDBAsyncClient) -> None:
    """Hold the sequencer's row until this transaction ends (PostgreSQL; SQLite runs
    one transaction at a time anyway), so no run makes deliveries meanwhile.

    Whatever disables an endpoint takes it first, before any delivery's row: a
    run that read the endpoint as enabled has then committed its deliveries (and
    they are skipped too), a later run sees it disabled, and no two writers take
    these rows in opposite orders.
    """
    if not is_postgres(conn):
        return
    await conn.execute_query(
        "INSERT INTO outbox_sequence (id, last_seq) VALUES ($1, 0) ON CONFLICT (id) DO NOTHING",
        [SEQUENCE_ROW],
    )
    await conn.execute_query(
        "SELECT last_seq FROM outbox_sequence WHERE id = $1 FOR UPDATE", [SEQUENCE_ROW]
    )


async def disable_endpoint(conn: BaseDBAsyncClient, endpoint_id: str, reason: str) -> bool:
    """Disable an endpoint (keeping the first reason given) and skip its pending
    deliveries; False if there is no such endpoint."""
    await hold_sequencer(conn)
    p = placeholder(conn)
    changed = await conn.execute_query_dict(
        "UPDATE webhook_endpoints SET enabled = false, "  # noqa: S608
        f"disabled_reason = COALESCE(disabled_reason, {p}2) WHERE id = {p}1 RETURNING id",
        [endpoint_id, reason],
    )
    if not changed:
        return False
    await conn.execute_query(
        "UPDATE outbox_deliveries SET state = 'skipped', claimed_by = NULL, "  # noqa: S608
        f"claimed_until = NULL WHERE endpoint_id = {p}1 AND state = 'pending'",
        [endpoint_id],
    )
    return True


async def attempts_before(endpoint_id: str, before: int | None, limit: int) -> list[AttemptRow]:
    """The endpoint's attempts, newest first: at most `limit`, older than attempt `before`."""
    query = OutboxAttempt.filter(endpoint_id=endpoint_id)
    if before is not None:
        query = query.filter(id__lt=before)
    rows = await query.order_by("-id").limit(limit)
    return [
        AttemptRow(
            id=row.id,
            event_id=event_id(row.event_seq),
            type=row.type,
            attempt=row.attempt,
            status_code=row.status_code,
            error=row.error,
            attempted_at=timestamp(row.attempted_at),
            next_attempt_at=None if row.next_attempt_at is None else timestamp(row.next_attempt_at),
        )
        for row in rows
    ]
