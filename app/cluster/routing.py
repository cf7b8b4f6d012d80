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
from app.cluster.forwarding import Forwarder, was_forwarded
from app.http.database_budget import budget_left
from app.http.schemas import is_possible_room_name
from models.db import Database, DatabaseUnavailableError

ROOM_OWNER = "Qari-Room-Owner"
# Routes the owner may hold for up to `?wait=` seconds (at most this many): a
# forward to the owner waits that much longer than FORWARD_TIMEOUT_SECONDS.
HELD_ROUTES = frozenset({"lobby.get_ticket"})
MAX_HELD_SECONDS = 30.0
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
    database: Database,
    holders: HolderCache,
    has_actor: Callable[[str], bool],
) -> None:
    """Forward each room request this node does not own; name the owner in each answer.
    `forwarder` None: one node owns every room (SQLite), nothing is forwarded.
    `has_actor(room)`: whether this node runs the room's actor (a lease claimed for
    a request that then started none is given back)."""

    async def name_of_room() -> str | None:
        if request.url_rule is None:
            return None  # no route matched: 404/405 here, and no lease for it
        if request.method == "POST" and request.path in _CREATE:
            body = await request.get_json(silent=True)
            name = body.get("name") if isinstance(body, dict) else None
            return name if isinstance(name, str) and name else None
        return room_in_path(request.path)

    async def owner_of(room: str) -> Holder | None:
        """The room's holder, or None when this node serves it (claimed if free)."""
        if ownership.current(room) is not None:
            return None
        holder = holders.get(room)
        if holder is not None:
            return holder
        claimed = await ownership.claim(room, budget_left(database))
        if not isinstance(claimed, Holder):
            g.qari_claimed = room  # given back after the request if no actor took it
            return None
        holders.put(room, claimed)
        return claimed

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
        holder = await owner_of(room)
        if holder is None:
            g.qari_room_owner = ownership.node_id
            return None
        g.qari_room_owner = holder.node
        if was_forwarded(request) or not holder.url:
            # One hop only: the node that sent it thought this one the owner.
            raise RoomUnavailableError(room)
        held = _held_seconds()
        try:
            answer = await forwarder.forward(room, holder.url, request, held)
        except RoomUnavailableError:
            answer = None
        if answer is not None and not await _lost_there(answer):
            return answer
        # The holder is gone (refused, or it no longer owns the room): ask again,
        # once; the room may be this node's to take now, or another's.
        holders.forget(room)
        try:
            again = await owner_of(room)
        except DatabaseUnavailableError:
            # The forward spent the request's budget; the room is what is unavailable.
            raise RoomUnavailableError(room) from None
        if again is None:
            g.qari_room_owner = ownership.node_id
            return None
        g.qari_room_owner = again.node
        if again.node == holder.node:
            if answer is not None:
                return answer
            raise RoomUnavailableError(room)
        return await forwarder.forward(room, again.url, request, held)

    @app.after_request
    async def name_owner(response: Response) -> Response:
        owner = g.get("qari_room_owner")
        if owner is not None and ROOM_OWNER not in response.headers:
            response.headers[ROOM_OWNER] = owner
        claimed = g.get("qari_claimed")
        if claimed is not None and not has_actor(claimed):
            lease = ownership.current(claimed)
            if lease is not None:
                ownership.release(lease)  # a request that no room actor served
        return response


def _held_seconds() -> float:
    """How long the owner may hold this request (a lobby poll's `wait`), else 0."""
    if request.url_rule is None or request.url_rule.endpoint not in HELD_ROUTES:
        return 0.0
    try:
        wait = float(request.args.get("wait", "0"))
    except ValueError:
        return 0.0  # the owner answers 422 at once
    return min(max(wait, 0.0), MAX_HELD_SECONDS) if wait == wait else 0.0


async def _lost_there(answer: Response) -> bool:
    """The owner answered that it does not serve the room (it lost it meanwhile)."""
    if answer.status_code != 503:
        return False
    return b'"room_unavailable"' in await answer.get_data(as_text=False)
