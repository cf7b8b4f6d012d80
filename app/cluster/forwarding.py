"""Sending a room's request to the node that owns it, and relaying the answer.

The owner authenticates the request again (the forwarder adds no credential
of its own); what the forwarder adds is signed with a key every node shares
(derived from LIVEKIT_API_SECRET, which they must share anyway to verify
webhooks and mint tokens): which node forwarded it, so the owner neither
forwards it again (one hop, never a loop) nor spends a rate limit on it again
(the node it reached first did). A forward waits at most
FORWARD_TIMEOUT_SECONDS; an owner that does not answer by then (it died, or
hangs) is 503 room_unavailable, with Retry-After until its lease lapses.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import aiohttp
import yarl
from quart import Request, Response
from werkzeug.datastructures import Headers

from actors.room.errors import RoomUnavailableError

FORWARDED_BY = "Qari-Forwarded-By"
SIGNATURE = "Qari-Forward-Signature"
# A signature older than this is not believed (a replayed header).
SIGNATURE_SECONDS = 60
# Not passed on: they describe one hop's connection, not the request.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "host",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        FORWARDED_BY.lower(),
        SIGNATURE.lower(),
    }
)


def forwarding_key(livekit_secret: str) -> bytes:
    return hashlib.sha256(b"qari-forward\x00" + livekit_secret.encode()).digest()


def _mac(key: bytes, node: str, method: str, target: str, stamp: str, body: bytes) -> str:
    # The body too: a captured forward cannot carry another body under its signature.
    digest = hashlib.sha256(body).hexdigest()
    text = "\n".join((node, method, target, stamp, digest)).encode()
    return hmac.new(key, text, hashlib.sha256).hexdigest()


def target_of(request: Request) -> str:
    """The request's target exactly as the client sent it (still percent-encoded):
    decoding it and encoding it again could name another path (`%3F`, `%23`...)."""
    raw = request.scope.get("raw_path") or request.path.encode()
    query = request.query_string
    return (raw + (b"?" + query if query else b"")).decode("latin-1")


def was_forwarded(request: Request) -> bool:
    """Whether `request` says another node forwarded it (signed or not): such a
    request is never forwarded again, so no two nodes can pass it back and forth."""
    return FORWARDED_BY in request.headers


async def verified_forward(key: bytes, request: Request) -> bool:
    """Whether `request` was forwarded by a node of this cluster (a header anyone
    could write proves nothing without its signature)."""
    node = request.headers.get(FORWARDED_BY)
    signature = request.headers.get(SIGNATURE)
    if not node or not signature:
        return False
    stamp, _, mac = signature.partition(",")
    try:
        age = abs(time.time() - int(stamp))
    except ValueError:
        return False
    if age > SIGNATURE_SECONDS:
        return False
    body = await _body(request)
    expected = _mac(key, node, request.method, target_of(request), stamp, body)
    return hmac.compare_digest(expected, mac)


async def _body(request: Request) -> bytes:
    data = await request.get_data(as_text=False)
    return data if isinstance(data, bytes) else data.encode()


class Forwarder:
    """The HTTP client nodes use to reach each other (bounded connections)."""

    def __init__(self, node_id: str, key: bytes, timeout_seconds: float, retry_after: int):
        self._node_id = node_id
        self._key = key
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._retry_after = retry_after
        self._session: aiohttp.ClientSession | None = None
        self._held_session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=256, limit_per_host=128),
                auto_decompress=False,
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._held_session is not None:
            await self._held_session.close()
            self._held_session = None

    async def forward(
        self, room: str, owner_url: str, request: Request, held_seconds: float = 0.0
    ) -> Response:
        """`request` as the owner at `owner_url` answers it; RoomUnavailableError when it
        does not within FORWARD_TIMEOUT_SECONDS (plus `held_seconds`, for a request
        the owner may hold that long: a lobby poll's `wait`)."""
        await self.open()
        assert self._session is not None
        session = self._session
        timeout = self._timeout
        if held_seconds > 0:
            # Held requests (long polls) on connections of their own: many knockers
            # waiting never take the connections other room requests need.
            if self._held_session is None:
                self._held_session = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=1024, limit_per_host=512),
                    auto_decompress=False,
                )
            session = self._held_session
            assert self._timeout.total is not None
            timeout = aiohttp.ClientTimeout(total=self._timeout.total + held_seconds)
        target = target_of(request)
        stamp = str(int(time.time()))
        body = await _body(request)
        mac = _mac(self._key, self._node_id, request.method, target, stamp, body)
        # A list, not a dict: a header sent twice is passed on twice.
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
        headers += [
            (FORWARDED_BY, self._node_id),
            (SIGNATURE, f"{stamp},{mac}"),
        ]
        try:
            async with session.request(
                request.method,
                yarl.URL(owner_url + target, encoded=True),
                data=body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
            ) as answer:
                content = await answer.read()
                relayed = [
                    (k, v) for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP
                ]
                status = answer.status
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise RoomUnavailableError(room, self._retry_after) from error
        return Response(content, status=status, headers=Headers(relayed))
