"""Which node answers a room's request: this one if it owns the room, else the owner.

Every route under /v1/rooms/{name} (and room creation, whose name is in the
body) passes here after the caller guard and the rate limits. If this node
holds the room's lease, the request goes on to its route and the room's actor.
If not, the lease is claimed (a room nobody owns gets this node as owner) or
its holder is learned, and the request is forwarded there. A request that was
forwarded already is never forwarded again: if this node no longer owns the
room (it just lost it), the answer is 503 room_unavailable. Every answer says
which node owns the room (`Qari-Room-Owner`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import unquote

from quart import Quart, Response, g, request

from actors.room.errors import RoomUnavailableError
from actors.room.ownership import Holder, Ownership
from app.cluster.forwarding import Forwarder, verified_forward
from app.http.database_budget import budget_left
from app.http.schemas import is_possible_room_name
from models.db import Database

ROOM_OWNER = "Qari-Room-Owner"
_PREFIX = "/v1/rooms/"
_CREATE = ("/v1/rooms", "/v1/rooms/")


def room_in_path(path: str) -> str | None:
    """The room a path under /v1/rooms/{name} names, else None."""
    if not path.startswith(_PREFIX):
        return None
    name = path[len(_PREFIX) :].split("/", 1)[0]
    return unquote(name) or None


class HolderCache:
    """Who holds rooms this node does not: asked of the database once per while,
    not per request. An entry goes when a forward to it fails."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._clock = clock
        self._known: dict[str, tuple[Holder, float]] = {}

    def get(self, room: str) -> Holder | None:
        known = self._known.get(room)
        if known is None or self._clock() >= known[1]:
            self._known.pop(room, None)
            return None
        return known[0]

    def put(self, room: str, holder: Holder) -> None:
        if len(self._known) > 100_000:
            self._known.clear()  # bounded: a crawl over many names cannot grow it forever
        self._known[room] = (holder, self._clock() + self._seconds)

    def forget(self, room: str) -> None:
        self._known.pop(room, None)


def install_room_routing(
    app: Quart,
    ownership: Ownership,
    forwarder: Forwarder | None,
    key: bytes,
    database: Database,
    holders: HolderCache,
) -> None:
    """Forward each room request this node does not own; name the owner in each answer.
    `forwarder` None: one node owns every room (SQLite), nothing is forwarded."""

    async def name_of_room() -> str | None:
        if request.method == "POST" and request.path in _CREATE:
            body = await request.get_json(silent=True)
            name = body.get("name") if isinstance(body, dict) else None
            return name if isinstance(name, str) and name else None
        return room_in_path(request.path)

    @app.before_request
    async def route_room() -> Response | None:
        if forwarder is None:
            creating = request.method == "POST" and request.path in _CREATE
            if request.path.startswith(_PREFIX) or creating:
                g.qari_room_owner = ownership.node_id
            return None
        room = await name_of_room()
        if room is None or not is_possible_room_name(room):
            return None  # the route answers (404, or 422 for a creation)
        if ownership.current(room) is not None:
            g.qari_room_owner = ownership.node_id
            return None
        holder = holders.get(room)
        if holder is None:
            claimed = await ownership.claim(room, budget_left(database))
            if not isinstance(claimed, Holder):
                g.qari_room_owner = ownership.node_id
                return None
            holder = claimed
            holders.put(room, holder)
        if verified_forward(key, request) is not None or not holder.url:
            # One hop only: the node that sent it thought this one the owner.
            raise RoomUnavailableError(room)
        peer = request.scope.get("client")
        client = g.get("qari_client") or (peer[0] if peer else "")
        try:
            return await forwarder.forward(room, holder.url, request, client)
        except RoomUnavailableError:
            holders.forget(room)
            raise

    @app.after_request
    async def name_owner(response: Response) -> Response:
        owner = g.get("qari_room_owner")
        if owner is not None and ROOM_OWNER not in response.headers:
            response.headers[ROOM_OWNER] = owner
        return response
