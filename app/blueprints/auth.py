"""Wallet sign-in (Sign-In with Ethereum): nonce, sign in, who am I, sign out."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, StringConstraints
from quart import Blueprint
from quart_schema import security_scheme, validate_request, validate_response

from app.http.auth import current_caller, forbidden, public, wallet_allowed
from app.http.errors import documents_errors
from app.services import services

blueprint = Blueprint("auth", __name__)

# A SIWE message is a few hundred characters; resources can add some.
MAX_MESSAGE_LENGTH = 8192
# 65 bytes for an ordinary account; contract wallets (EIP-1271 / EIP-6492
# with a factory call inside) can be much longer.
MAX_SIGNATURE_HEX = 2 + 2 * 8192


class NonceOut(BaseModel):
    nonce: str
    expires_at: dt.datetime


class SiweIn(BaseModel):
    message: Annotated[str, StringConstraints(min_length=1, max_length=MAX_MESSAGE_LENGTH)]
    signature: Annotated[
        str, StringConstraints(pattern=r"^0x([0-9a-fA-F]{2})+$", max_length=MAX_SIGNATURE_HEX)
    ]


class SignedInOut(BaseModel):
    token: str
    address: str
    chain_id: int
    expires_at: dt.datetime


class SessionOut(BaseModel):
    kind: Literal["service", "wallet"]
    address: str | None
    chain_id: int | None
    expires_at: dt.datetime | None


@blueprint.post("/v1/auth/nonce")
@public
@security_scheme([])
@validate_response(NonceOut)
@documents_errors(503)
async def post_nonce() -> NonceOut:
    """Get a sign-in nonce.

    Put it in the SIWE message's `Nonce` field. It is valid for 10 minutes,
    for one sign-in attempt (successful or not).
    """
    issued = await services().siwe.issue_nonce()
    return NonceOut(nonce=issued.nonce, expires_at=issued.expires_at)


@blueprint.post("/v1/auth/siwe")
@public
@security_scheme([])
@validate_request(SiweIn)
@validate_response(SignedInOut)
@documents_errors(400, 401, 413, 422, 503)
async def post_siwe(data: SiweIn) -> SignedInOut:
    """Sign in with Ethereum.

    Send the EIP-4361 message exactly as signed, and its signature (EIP-191
    for ordinary accounts; EIP-1271 or EIP-6492 for contract wallets, checked
    on the message's chain). Each failed check has its own 401 code:
    `siwe_wrong_domain`, `siwe_wrong_chain`, `siwe_invalid_nonce`,
    `siwe_expired`, `siwe_bad_signature`. The token is a bearer credential
    for the other routes, valid until `expires_at`.
    """
    signed_in = await services().siwe.sign_in(data.message, bytes.fromhex(data.signature[2:]))
    return SignedInOut(
        token=signed_in.token,
        address=signed_in.address,
        chain_id=signed_in.chain_id,
        expires_at=signed_in.expires_at,
    )


@blueprint.get("/v1/auth/session")
@wallet_allowed
@validate_response(SessionOut)
@documents_errors(401)
async def get_session() -> SessionOut:
    """Who is calling.

    `service` for an API key; `wallet` with its address, chain and expiry
    for a wallet session.
    """
    wallet = current_caller().wallet
    if wallet is None:
        return SessionOut(kind="service", address=None, chain_id=None, expires_at=None)
    return SessionOut(
        kind="wallet",
        address=wallet.address,
        chain_id=wallet.chain_id,
        expires_at=wallet.expires_at,
    )


@blueprint.delete("/v1/auth/session")
@wallet_allowed
@documents_errors(401, 403, 503)
async def delete_session() -> tuple[str, int]:
    """Sign out.

    Ends this wallet session: its token stops working at once. (An API key
    is not a session: 403.)
    """
    caller = current_caller()
    if caller.session_token is None:
        raise forbidden("Only a wallet session can be ended.")
    await services().wallet_sessions.end(caller.session_token)
    return "", 204
