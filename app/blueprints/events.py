"""The live feed: GET /v1/events (DESIGN.md section 7), as server-sent events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncGenerator
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints
from quart import Blueprint, Response, request
from quart_schema import validate_querystring

from app.events.feed import (
    FeedClosedError,
    FeedFilter,
    FeedHub,
    Subscription,
    rooms_owned,
)
from app.http.auth import current_caller, forbidden, wallet_allowed
from app.http.database_budget import database_budget
from app.http.error_shape import QUERY, field_error, invalid_request
from app.http.errors import APIError, documents_errors
from app.http.openapi import documents_plain_response
from app.services import services
from models.db import DatabaseUnavailableError
from models.outbox import EVENT_TYPES, StoredEvent

blueprint = Blueprint("events", __name__)

CONTENT_TYPE = "text/event-stream"
LAST_EVENT_ID = "Last-Event-ID"
# A seq, as the feed writes it in `id:` (18 digits: well inside a BIGINT).
_SEQ = re.compile(r"[0-9]{1,18}")
# More names than this in one filter is a mistake, not a feed.
MAX_FILTER_NAMES = 200

OPENED = b": open\n\n"
KEEPALIVE = b": keep-alive\n\n"
# The last thing a feed says when the node ends it; the client reconnects.
ENDED = {
    "dropped": b": dropped: this feed fell too far behind; reconnect with Last-Event-ID\n\n",
    "closing": b": closing: this node is shutting down; reconnect with Last-Event-ID\n\n",
    "error": b": error: the events could not be read; reconnect with Last-Event-ID\n\n",
    "expired": b": expired: the wallet session ended; sign in again, then resume\n\n",
}


class FeedQuery(BaseModel):
    # A misspelt parameter is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid")

    rooms: str | None = None
    types: str | None = None
    # Resume after this seq, as Last-Event-ID does (which wins when both are given).
    after: Annotated[str, StringConstraints(max_length=64)] | None = None


def frame(event: StoredEvent) -> bytes:
    """One event as the SSE stream carries it."""
    data = json.dumps(event.body(with_id=True), separators=(",", ":"), ensure_ascii=False)
    return f"id: {event.seq}\nevent: {event.type}\ndata: {data}\n\n".encode()


def _names(value: str | None, name: str) -> frozenset[str] | None:
    if value is None:
        return None
    names = frozenset(part.strip() for part in value.split(",") if part.strip())
    if not names:
        raise invalid_request(field_error([QUERY, name], "Name at least one, comma-separated."))
    if len(names) > MAX_FILTER_NAMES:
        raise invalid_request(
            field_error([QUERY, name], f"At most {MAX_FILTER_NAMES} names, comma-separated.")
        )
    return names


def _types(value: str | None) -> frozenset[str] | None:
    types = _names(value, "types")
    unknown = sorted(types - EVENT_TYPES) if types is not None else []
    if unknown:
        raise invalid_request(
            field_error(
                [QUERY, "types"],
                f"Unknown event type(s): {', '.join(unknown)}. "
                f"Known: {', '.join(sorted(EVENT_TYPES))}.",
            )
        )
    return types


def _resume_after(query: FeedQuery) -> int | None:
    """The seq to resume after: Last-Event-ID, else `after`; None: from now."""
    header = request.headers.get(LAST_EVENT_ID, "").strip()
    if header:
        if not _SEQ.fullmatch(header):
            raise invalid_request(
                field_error(
                    ["header", LAST_EVENT_ID], "Must be the `id` of an event this feed sent."
                )
            )
        return int(header)
    if query.after is None:
        return None
    if not _SEQ.fullmatch(query.after):
        raise invalid_request(
            field_error([QUERY, "after"], "Must be the `id` of an event this feed sent.")
        )
    return int(query.after)


@blueprint.get("/v1/events")
@wallet_allowed
@validate_querystring(FeedQuery)
@documents_plain_response(200, "Server-sent events, one per change, as they commit.", CONTENT_TYPE)
@documents_errors(401, 403, 422, 503)
async def get_events(query_args: FeedQuery) -> Response:
    """The live feed of events.

    `text/event-stream`: each event as `id: <seq>`, `event: <type>`, `data: <the
    event body with its "id">`; a comment line every 15 s keeps it open.
    Without `Last-Event-ID` (or `after`) it starts from now; with it, it
    resumes after that event, with nothing missed or repeated, for as long as
    events are kept (`EVENTS_RETENTION_HOURS`). `rooms` and `types`
    (comma-separated) narrow it. A service sees every room; a wallet only the
    rooms it owns (naming another, or one that does not exist: 403). A feed
    that falls too far behind, or whose node shuts down, ends with a comment
    saying so: reconnect with Last-Event-ID.
    """
    rooms = _names(query_args.rooms, "rooms")
    types = _types(query_args.types)
    after = _resume_after(query_args)
    app_services = services()
    hub = app_services.events.feed
    caller = current_caller()
    wallet = caller.address
    # A wallet's feed lasts no longer than its session (checked at each event and
    # each keep-alive): the client then signs in again and resumes.
    ends_at: float | None = None
    if caller.wallet is not None:
        left = (caller.wallet.expires_at - app_services.now()).total_seconds()
        ends_at = asyncio.get_running_loop().time() + left
    if wallet is not None and rooms is not None:
        owned = await rooms_owned(app_services.database, wallet, database_budget())
        if not rooms <= owned:
            raise forbidden("A wallet's feed may name only rooms it owns.")
    try:
        await hub.wait_started(database_budget())
    except TimeoutError:
        raise DatabaseUnavailableError("the feed has not read its start yet") from None
    if hub.closed:
        raise _closing()
    wanted = FeedFilter(rooms=rooms, types=types, wallet=wallet)
    response = Response(
        _stream(hub, wanted, after, ends_at),
        status=200,
        content_type=CONTENT_TYPE,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    # A feed stays open for as long as its client wants (Quart cuts a response
    # after RESPONSE_TIMEOUT otherwise).
    response.timeout = None
    return response


def _closing() -> APIError:
    return APIError(
        503,
        "busy",
        "This node is shutting down; retry shortly.",
        headers={"Retry-After": "1"},
    )


async def _stream(
    hub: FeedHub, wanted: FeedFilter, after: int | None, ends_at: float | None
) -> AsyncGenerator[bytes, None]:
    # Subscribed here, not in the view: when the client goes away, Quart closes
    # this generator (its `finally` runs) only once it has started.
    try:
        subscription = hub.subscribe(wanted, after)
    except FeedClosedError:
        yield ENDED["closing"]
        return
    try:
        # At once, so the client (and a proxy) sees the feed open before any event.
        yield OPENED
        frames = _frames(subscription, hub.keepalive_seconds, ends_at)
        async with contextlib.aclosing(frames) as chunks:
            async for chunk in chunks:
                yield chunk
        if subscription.ended in ENDED:
            yield ENDED[subscription.ended]
    finally:
        subscription.end("closed")  # unsubscribes; a no-op if the hub ended it


async def _frames(
    subscription: Subscription, keepalive_seconds: float, ends_at: float | None
) -> AsyncGenerator[bytes, None]:
    loop = asyncio.get_running_loop()
    try:
        async with contextlib.aclosing(subscription.batches(keepalive_seconds)) as batches:
            async for events in batches:
                if ends_at is not None and loop.time() >= ends_at:
                    subscription.end("expired")
                    return
                yield b"".join(frame(event) for event in events) if events else KEEPALIVE
    except DatabaseUnavailableError:
        subscription.end("error")
