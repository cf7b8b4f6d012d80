"""Wallet sign-in tables: SIWE nonces we issued, and wallet sessions (token hashes only)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tortoise import fields
from tortoise.models import Model


class SiweNonce(Model):
    """A nonce handed out by `POST /v1/auth/nonce`; deleted by the first sign-in naming it."""

    nonce = fields.CharField(max_length=64, primary_key=True)
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "siwe_nonces"


class WalletSession(Model):
    """A signed-in wallet. Only the SHA-256 of its bearer token is stored."""

    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    address = fields.CharField(max_length=42, db_index=True)
    chain_id = fields.BigIntField()
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "wallet_sessions"


@dataclass(frozen=True, slots=True)
class SessionRow:
    address: str
    chain_id: int
    expires_at: dt.datetime


async def insert_nonce(nonce: str, expires_at: dt.datetime) -> None:
    await SiweNonce.create(nonce=nonce, expires_at=expires_at)


async def consume_nonce(nonce: str, now: dt.datetime) -> bool:
    """Spend the nonce: True when it was ours and unexpired. It is gone afterwards either way.

    One DELETE decides: of concurrent attempts naming the same nonce, the
    database lets exactly one delete the row, so at most one can succeed.
    """
    valid = await SiweNonce.filter(nonce=nonce, expires_at__gt=now).delete()
    if valid:
        return True
    # Expired (or unknown): still removed, so nothing names it again.
    await SiweNonce.filter(nonce=nonce).delete()
    return False


async def purge_expired(now: dt.datetime) -> None:
    """Drop expired nonces and sessions (nothing can use them any more)."""
    await SiweNonce.filter(expires_at__lte=now).delete()
    await WalletSession.filter(expires_at__lte=now).delete()


async def insert_session(
    token_hash: str, address: str, chain_id: int, created_at: dt.datetime, expires_at: dt.datetime
) -> None:
    await WalletSession.create(
        token_hash=token_hash,
        address=address,
        chain_id=chain_id,
        created_at=created_at,
        expires_at=expires_at,
    )


async def find_session(token_hash: str) -> SessionRow | None:
    rows = await WalletSession.filter(token_hash=token_hash).values(
        "address", "chain_id", "expires_at"
    )
    if not rows:
        return None
    row = rows[0]
    return SessionRow(
        address=str(row["address"]), chain_id=int(row["chain_id"]), expires_at=row["expires_at"]
    )


async def delete_session(token_hash: str) -> None:
    await WalletSession.filter(token_hash=token_hash).delete()


async def stored_sessions(token_hashes: list[str]) -> set[str]:
    """Of `token_hashes`, those whose session row still exists (not signed out)."""
    rows = await WalletSession.filter(token_hash__in=token_hashes).values_list(
        "token_hash", flat=True
    )
    return {str(row) for row in rows}
