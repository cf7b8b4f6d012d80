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
import warnings
from dataclasses import dataclass

from pydantic import ValidationError

# abnf 2.8 warns about its own grammar while siwe imports it; the warnings say
# nothing about our use, and the test suite turns warnings into errors.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from siwe import SiweMessage


class MalformedMessageError(ValueError):
    """The text is not an EIP-4361 message (or its address is not EIP-55)."""


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
    try:
        message = SiweMessage.from_message(text, abnf=False)
    except ValidationError as error:
        fields = ", ".join(str(e["loc"][0]) for e in error.errors() if e["loc"]) or "message"
        raise MalformedMessageError(f"invalid EIP-4361 field(s): {fields}") from None
    except ValueError:
        raise MalformedMessageError("not an EIP-4361 message") from None
    if message.prepare_message() != text:
        raise MalformedMessageError("not exactly an EIP-4361 message (extra or reordered text)")
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
