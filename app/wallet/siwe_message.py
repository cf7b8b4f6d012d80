"""EIP-4361 (Sign-In with Ethereum) messages: strict parsing of the exact text received.

siwe 4.4.0 does the parsing and field validation (EIP-55 address, URIs,
RFC 3339 times). Its ABNF parser costs ~6 ms of pure Python per message on
the event loop; its regular-expression parser ~0.1 ms but matches a prefix
only. So: the regex parser, and then the text must be exactly the message's
canonical EIP-4361 serialization, byte for byte. Anything else (trailing
text, stray whitespace, a reordered field) is not a message we accept, and
the signature is then checked over that same exact text.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from dataclasses import dataclass

from eth_keys.constants import SECPK1_N
from pydantic import ValidationError

# abnf 2.8 warns about its own grammar while siwe imports it; the warnings say
# nothing about our use, and the test suite turns warnings into errors.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from siwe import SiweMessage


class MalformedMessageError(ValueError):
    """The text is not an EIP-4361 message (or its address is not EIP-55)."""


# EIP-4361's ABNF: statement = *( reserved / unreserved / " " ), RFC 3986's
# characters and the space, on one line. The regex parser takes any text up to
# the line's end (a `\r` included), so the statement is checked on its own.
_STATEMENT = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;= ]*")

# A signature whose s is past half of secp256k1's order is the malleable twin of
# another (EIP-2), which no wallet produces.
ECDSA_SIGNATURE_LENGTH = 65


def canonical_ecdsa_signature(signature: bytes) -> bytes | None:
    """`signature` as the one (r, s, v) an ordinary account signs, or None.

    Refused: a length other than 65, s of zero or in the upper half of the
    curve's order (EIP-2), and a v other than 27/28 or 0/1. The bare recovery
    id (0/1) is what some hardware-wallet paths return for personal_sign, so it
    is read as 27/28: the same signature, spelt another way.
    """
    if len(signature) != ECDSA_SIGNATURE_LENGTH:
        return None
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if not 0 < s <= SECPK1_N // 2:
        return None
    if v in (0, 1):
        v += 27
    if v not in (27, 28):
        return None
    return signature[:64] + bytes([v])


@dataclass(frozen=True, slots=True)
class SignInMessage:
    """The fields of a SIWE message that sign-in checks."""

    text: str
    scheme: str | None
    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: dt.datetime
    expiration_time: dt.datetime | None
    not_before: dt.datetime | None


def _time(value: str | None, field: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise MalformedMessageError(f"{field} is not an RFC 3339 time") from error
    if parsed.tzinfo is None:
        raise MalformedMessageError(f"{field} has no time zone")
    return parsed


def parse_sign_in_message(text: str) -> SignInMessage:
    """Parse `text` strictly; MalformedMessageError says what is wrong."""
    if "\r" in text:
        # The grammar's line ends are LF alone; a CR is text no field may hold.
        raise MalformedMessageError("not an EIP-4361 message (CR is not allowed)")
    try:
        message = SiweMessage.from_message(text, abnf=False)
    except ValidationError as error:
        fields = ", ".join(str(e["loc"][0]) for e in error.errors() if e["loc"]) or "message"
        raise MalformedMessageError(f"invalid EIP-4361 field(s): {fields}") from None
    except ValueError:
        raise MalformedMessageError("not an EIP-4361 message") from None
    if message.prepare_message() != text:
        raise MalformedMessageError("not exactly an EIP-4361 message (extra or reordered text)")
    if message.statement is not None and not _STATEMENT.fullmatch(message.statement):
        raise MalformedMessageError(
            "invalid EIP-4361 field(s): statement (RFC 3986 characters and spaces only)"
        )
    issued_at = _time(message.issued_at, "Issued At")
    assert issued_at is not None  # required by the grammar
    return SignInMessage(
        text=text,
        scheme=message.scheme,
        domain=message.domain,
        address=message.address,
        uri=message.uri,
        chain_id=int(message.chain_id),
        nonce=message.nonce,
        issued_at=issued_at,
        expiration_time=_time(message.expiration_time, "Expiration Time"),
        not_before=_time(message.not_before, "Not Before"),
    )
