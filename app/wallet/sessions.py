"""Wallet sessions: opaque bearer tokens, stored as SHA-256, served from memory.

A token request with a wallet session must not cost a database query, so a
session once started or looked up is kept in memory until it expires (the
least recently used are dropped past `max_cached`, and read again if they come
back). Ending a session drops it from this node's memory at once and deletes
its row. With several nodes, the node that ends it also sends a notice
(`qari_signout`, app/cluster/notices.py) on which every other node drops it
from its memory (`forget`) at once; and every node checks its cached sessions
against the table every few seconds (`drop_ended`), so a lost notice still
ends the session everywhere within 5 s.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.http.database_budget import database_work
from models import wallet_auth

# A recognisable prefix lets secret scanners find leaked tokens, and lets the
# guard tell a session token from an API key without a lookup.
TOKEN_PREFIX = "qws_"  # noqa: S105 - a prefix, not a secret
_TOKEN_BYTES = 32
_TOKEN_LENGTH = len(TOKEN_PREFIX) + 43  # token_urlsafe(32) is 43 characters


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_session_token(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX) and len(token) == _TOKEN_LENGTH


@dataclass(frozen=True, slots=True)
class WalletIdentity:
    """Who a wallet session is: a checksummed address, signed in on a chain, until when."""

    address: str
    chain_id: int
    expires_at: dt.datetime


class WalletSessions:
    """Starts, resolves and ends wallet sessions."""

    def __init__(
        self,
        now: Callable[[], dt.datetime],
        *,
        max_cached: int = 50_000,
    ) -> None:
        self._now = now
        self._max_cached = max_cached
        # Told of each session ended here (the cluster sends a notice to the others).
        self.ended: Callable[[str], Awaitable[None]] = _nothing
        self._cache: OrderedDict[str, WalletIdentity] = OrderedDict()

    async def start(self, address: str, chain_id: int, expires_at: dt.datetime) -> str:
        """A new session for `address`; returns its bearer token (never stored as is)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
        digest = hash_token(token)
        async with database_work():
            await wallet_auth.insert_session(digest, address, chain_id, self._now(), expires_at)
        self._remember(digest, WalletIdentity(address, chain_id, expires_at))
        return token

    async def resolve(self, token: str) -> WalletIdentity | None:
        """The session of `token`, or None when it is unknown, ended or expired."""
        if not looks_like_session_token(token):
            return None
        digest = hash_token(token)
        now = self._now()
        cached = self._cache.get(digest)
        if cached is not None:
            if cached.expires_at <= now:
                del self._cache[digest]
                return None
            self._cache.move_to_end(digest)
            return cached
        async with database_work():
            row = await wallet_auth.find_session(digest)
        if row is None or row.expires_at <= now:
            return None
        identity = WalletIdentity(row.address, row.chain_id, row.expires_at)
        self._remember(digest, identity)
        return identity

    async def end(self, token: str) -> None:
        """End the session: dropped here at once, and its row deleted (and, with
        several nodes, a notice sent so every node drops it)."""
        digest = hash_token(token)
        self._cache.pop(digest, None)
        async with database_work():
            await wallet_auth.delete_session(digest)
            await self.ended(digest)

    def forget(self, digest: str) -> None:
        """A session ended on another node: this one stops trusting its memory of it."""
        self._cache.pop(digest, None)

    async def drop_ended(self, chunk: int = 5000) -> int:
        """Drop from memory every cached session whose row is gone (ended on another
        node whose notice was lost); how many. Off the request path, in chunks."""
        dropped = 0
        digests = list(self._cache)
        for start in range(0, len(digests), chunk):
            part = digests[start : start + chunk]
            async with database_work():
                stored = await wallet_auth.stored_sessions(part)
            for digest in part:
                if digest not in stored and self._cache.pop(digest, None) is not None:
                    dropped += 1
        return dropped

    def _remember(self, digest: str, identity: WalletIdentity) -> None:
        self._cache[digest] = identity
        self._cache.move_to_end(digest)
        while len(self._cache) > self._max_cached:
            self._cache.popitem(last=False)


async def _nothing(_digest: str) -> None:
    return None
