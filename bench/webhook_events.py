"""LiveKit webhooks for the benches: events built and signed as LiveKit does, and the inbox
read from outside the server (how the benches know every event was applied).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import itertools
import json
import sqlite3
import time
from typing import Any

from google.protobuf.json_format import MessageToJson
from livekit import api
from livekit.protocol.models import ParticipantInfo, Room
from livekit.protocol.webhook import WebhookEvent

from bench.harness import JSON_AUTH, LIVEKIT_KEY, LIVEKIT_SECRET, Request

ROOMS = 64
REAL = "/v1/livekit/webhook"
DRAIN_TIMEOUT = 120.0

# LiveKit's clock for created_at: increasing, as LiveKit's events are.
_created = itertools.count(int(time.time()))


# -- events, built and signed as LiveKit does ----------------------------------------


def sign(body: bytes) -> str:
    """LiveKit's webhook Authorization: a JWT whose `sha256` claim covers the body."""
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    return (
        api.AccessToken(LIVEKIT_KEY, LIVEKIT_SECRET)
        .with_sha256(digest)
        .with_ttl(dt.timedelta(minutes=30))
        .to_jwt()
    )


def delivery(event: WebhookEvent, path: str = REAL, tag: str = "") -> Request:
    body = MessageToJson(event, indent=None).encode()
    headers = {"Authorization": sign(body), "Content-Type": "application/webhook+json"}
    return Request("POST", path, body, headers, tag or event.event)


def make_event(
    kind: str,
    room: Room,
    event_id: str,
    who: ParticipantInfo | None = None,
) -> WebhookEvent:
    message = WebhookEvent(event=kind, room=room, id=event_id, created_at=next(_created))
    if who is not None:
        message.participant.CopyFrom(who)
    return message


def bench_room(n: int) -> Room:
    return Room(name=f"wh-room-{n:02d}", sid=f"RM_wh_{n:02d}", creation_time=int(time.time()))


def joiner(prefix: str, i: int) -> tuple[Room, str]:
    """The room and identity of the `i`th join of a batch: round-robin over the rooms."""
    return bench_room(i % ROOMS), f"{prefix}-user-{i}"


def token_requests(prefix: str, count: int) -> list[Request]:
    """A token for each identity that `joins(prefix, count, ...)` joins, in its room:
    LiveKit only sees joins of identities Qari gave tokens to."""
    out = []
    for i in range(count):
        room, identity = joiner(prefix, i)
        body = json.dumps({"identity": identity}).encode()
        out.append(Request("POST", f"/v1/rooms/{room.name}/token", body, JSON_AUTH))
    return out


def joins(prefix: str, count: int, path: str) -> list[Request]:
    """`count` distinct participant_joined deliveries, round-robin over the rooms
    (the identities of `token_requests(prefix, count)`)."""
    out = []
    for i in range(count):
        room, identity = joiner(prefix, i)
        who = ParticipantInfo(
            identity=identity,
            sid=f"PA_{prefix}_{i}",
            name="Bench",
            joined_at=int(time.time()),
            state=ParticipantInfo.State.ACTIVE,
        )
        out.append(delivery(make_event("participant_joined", room, f"{prefix}_{i}", who), path))
    return out


# -- reading the inbox -----------------------------------------------------------------


class Inbox:
    """Read-only access to the server's webhook_inbox table, from outside the server."""

    def __init__(self, database_url: str) -> None:
        # Query parameters are for Tortoise (e.g. `?maxsize=`), not for a plain connection.
        self._url = database_url.split("?", 1)[0]
        self._sqlite = database_url.startswith("sqlite://")
        self._pg: Any = None

    async def open(self) -> None:
        if not self._sqlite:
            import asyncpg

            self._pg = await asyncpg.connect(self._url, timeout=5)

    async def close(self) -> None:
        if self._pg is not None:
            await self._pg.close()

    async def _fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        if self._sqlite:
            path = self._url.removeprefix("sqlite://")
            with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn:
                return list(conn.execute(sql.replace("$1", "?"), args).fetchall())
        return [tuple(r) for r in await self._pg.fetch(sql, *args)]

    async def pending(self) -> int:
        rows = await self._fetch("SELECT count(*) FROM webhook_inbox WHERE processed_at IS NULL")
        return int(rows[0][0])

    async def wait_applied(self, timeout: float = DRAIN_TIMEOUT) -> float:
        """Seconds until every inbox row has processed_at; raises past `timeout`."""
        started = time.monotonic()
        while (left := await self.pending()) > 0:
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"{left} webhook rows still unapplied after {timeout:.0f} s")
            await asyncio.sleep(0.02)
        return time.monotonic() - started

    async def lags(self, id_prefix: str) -> list[float]:
        """processed_at - received_at, in seconds, of the rows whose event id has the prefix."""
        rows = await self._fetch(
            "SELECT received_at, processed_at FROM webhook_inbox WHERE event_id LIKE $1",
            id_prefix + "%",
        )

        def at(value: Any) -> dt.datetime:
            return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)

        return [(at(done) - at(got)).total_seconds() for got, done in rows if done is not None]

    async def count(self, id_prefix: str) -> int:
        rows = await self._fetch(
            "SELECT count(*) FROM webhook_inbox WHERE event_id LIKE $1", id_prefix + "%"
        )
        return int(rows[0][0])
