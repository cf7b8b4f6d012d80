"""Wallet sessions: opaque bearer tokens, stored as SHA-256, served from memory.

A token request with a wallet session must not cost a database query, so a
session once looked up is kept in memory. The row is read again at most every
`recheck_seconds` (5) while the session is in use, which bounds how long a
session ended on another node keeps working here; ending it on this node
drops it from memory at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from app.database import DATABASE_UNAVAILABLE
from models import wallet_auth

log = logging.getLogger(__name__)

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


@dataclass(slots=True)
class _Cached:
    identity: WalletIdentity
    checked_at: float


class WalletSessions:
    """Starts, resolves and ends wallet sessions."""

    def __init__(
        self,
        now: Callable[[], dt.datetime],
        clock: Callable[[], float],
        *,
        recheck_seconds: float = 5.0,
        max_cached: int = 50_000,
    ) -> None:
        self._now = now
        self._clock = clock
        self._recheck = recheck_seconds
        self._max_cached = max_cached
        self._cache: OrderedDict[str, _Cached] = OrderedDict()

    async def start(self, address: str, chain_id: int, expires_at: dt.datetime) -> str:
        """A new session for `address`; returns its bearer token (never stored as is)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
        digest = hash_token(token)
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
            if cached.identity.expires_at <= now:
                self._cache.pop(digest, None)
                return None
            if self._clock() - cached.checked_at < self._recheck:
                self._cache.move_to_end(digest)
                return cached.identity
        try:
            row = await wallet_auth.find_session(digest)
        except DATABASE_UNAVAILABLE:
            if cached is None:
                raise
            # Not knowing is not a reason to lock a signed-in wallet out; a
            # session ended on this node was already dropped from memory.
            log.warning("database unavailable; a cached wallet session stays in use")
            return cached.identity
        if row is None or row.expires_at <= now:
            self._cache.pop(digest, None)
            return None
        identity = WalletIdentity(row.address, row.chain_id, row.expires_at)
        self._remember(digest, identity)
        return identity

    async def end(self, token: str) -> None:
        """End the session: dropped here at once, and its row deleted."""
        digest = hash_token(token)
        self._cache.pop(digest, None)
        await wallet_auth.delete_session(digest)

    def _remember(self, digest: str, identity: WalletIdentity) -> None:
        self._cache[digest] = _Cached(identity, self._clock())
        self._cache.move_to_end(digest)
        while len(self._cache) > self._max_cached:
            self._cache.popitem(last=False)
