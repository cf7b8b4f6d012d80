"""Sign-In with Ethereum: nonces, and every check a signed message must pass.

siwe's own `verify()` skips the domain, uri, chain and issued-at checks and
calls contract wallets synchronously; so each check is made here, each
refusal with its own code, and contract wallets are asked with our async
`eth_call` on the message's own chain.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from eth_account import Account
from eth_account.messages import defunct_hash_message, encode_defunct
from eth_keys.exceptions import BadSignature
from eth_utils.exceptions import ValidationError as EthValidationError

from app.chain.rpc import ChainRPC
from app.http.database_budget import database_work
from app.settings import Settings
from app.wallet.contract_signatures import contract_wallet_signed
from app.wallet.sessions import WalletSessions
from app.wallet.siwe_message import SignInMessage, canonical_ecdsa_signature, parse_sign_in_message
from models import wallet_auth

NONCE_LENGTH = 24  # alphanumeric: ~143 bits from the CSPRNG
NONCE_ALPHABET = string.ascii_letters + string.digits
NONCE_TTL = dt.timedelta(minutes=10)
MAX_ISSUED_AGE = dt.timedelta(minutes=10)
MAX_CLOCK_AHEAD = dt.timedelta(seconds=60)
# Expired nonces and sessions are purged on the nonce path, at most this often.
PURGE_EVERY_SECONDS = 60.0


class SignInRejectedError(Exception):
    """A sign-in refused for one stated reason; `code` is the stable API code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class IssuedNonce:
    nonce: str
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class SignedIn:
    token: str
    address: str
    chain_id: int
    expires_at: dt.datetime


def new_nonce() -> str:
    return "".join(secrets.choice(NONCE_ALPHABET) for _ in range(NONCE_LENGTH))


class SiweLogin:
    """Issues nonces and turns a signed SIWE message into a wallet session."""

    def __init__(
        self,
        settings: Settings,
        chain: ChainRPC,
        sessions: WalletSessions,
        now: Callable[[], dt.datetime],
        clock: Callable[[], float],
    ) -> None:
        self._domain = settings.siwe_authority
        self._chains = settings.siwe_chains
        self._session_length = dt.timedelta(seconds=settings.wallet_session_seconds)
        self._call_gas = settings.siwe_call_gas
        self._chain = chain
        self._sessions = sessions
        self._now = now
        self._clock = clock
        self._purged_at: float | None = None

    async def issue_nonce(self) -> IssuedNonce:
        await self._purge_now_and_then()
        issued = IssuedNonce(new_nonce(), self._now() + NONCE_TTL)
        async with database_work():
            await wallet_auth.insert_nonce(issued.nonce, issued.expires_at)
        return issued

    async def sign_in(self, text: str, signature: bytes) -> SignedIn:
        """Check everything; a session for the message's address, or SignInRejectedError.

        MalformedMessageError (from parsing) when `text` is not EIP-4361.
        """
        message = parse_sign_in_message(text)
        now = self._now()
        # The nonce is spent by this attempt whatever comes next, so a failed
        # attempt cannot be retried with it, and of concurrent ones only one wins.
        async with database_work():
            nonce_ok = await wallet_auth.consume_nonce(message.nonce, now)
        self._check_domain(message)
        if message.chain_id not in self._chains:
            raise SignInRejectedError(
                "siwe_wrong_chain", f"Chain ID {message.chain_id} is not accepted here."
            )
        if not nonce_ok:
            raise SignInRejectedError(
                "siwe_invalid_nonce", "The nonce is unknown, expired or already used."
            )
        self._check_times(message, now)
        await self._check_signature(message, signature)
        expires_at = now + self._session_length
        if message.expiration_time is not None:
            expires_at = min(expires_at, message.expiration_time)
        token = await self._sessions.start(message.address, message.chain_id, expires_at)
        return SignedIn(token, message.address, message.chain_id, expires_at)

    def _check_domain(self, message: SignInMessage) -> None:
        uri = urlsplit(message.uri)
        if (
            message.domain != self._domain
            or uri.scheme not in ("http", "https")
            or uri.netloc != self._domain
            or (message.scheme is not None and message.scheme not in ("http", "https"))
        ):
            raise SignInRejectedError(
                "siwe_wrong_domain", f"The message must be for {self._domain} (domain and URI)."
            )

    def _check_times(self, message: SignInMessage, now: dt.datetime) -> None:
        if message.expiration_time is not None and message.expiration_time <= now:
            raise SignInRejectedError("siwe_expired", "The message's Expiration Time has passed.")
        if message.not_before is not None and message.not_before > now:
            raise SignInRejectedError("siwe_expired", "The message's Not Before has not come.")
        if message.issued_at < now - MAX_ISSUED_AGE:
            raise SignInRejectedError(
                "siwe_expired", "The message was issued more than 10 minutes ago."
            )
        if message.issued_at > now + MAX_CLOCK_AHEAD:
            raise SignInRejectedError("siwe_expired", "The message's Issued At is in the future.")

    async def _check_signature(self, message: SignInMessage, signature: bytes) -> None:
        signable = encode_defunct(text=message.text)
        # An ordinary account's signature in its one form (low s, v 27/28).
        ecdsa = canonical_ecdsa_signature(signature)
        if ecdsa is not None:
            try:
                signer = Account.recover_message(signable, signature=ecdsa)
            except (ValueError, EthValidationError, BadSignature):
                signer = None
            if signer == message.address:
                return
        # Not the address's own key: perhaps a contract wallet. Only on a chain
        # we can ask; a failing chain raises ChainError (503), never a yes.
        if self._chain.is_configured(message.chain_id) and await contract_wallet_signed(
            self._chain,
            message.chain_id,
            message.address,
            defunct_hash_message(text=message.text),
            signature,
            gas=self._call_gas,
        ):
            return
        raise SignInRejectedError(
            "siwe_bad_signature", "The signature is not the address's over this message."
        )

    async def _purge_now_and_then(self) -> None:
        now = self._clock()
        if self._purged_at is None or now - self._purged_at >= PURGE_EVERY_SECONDS:
            self._purged_at = now
            async with database_work():
                await wallet_auth.purge_expired(self._now())
