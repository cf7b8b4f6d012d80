"""Field types shared by the request schemas."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

MAX_METADATA_LENGTH = 8192

Address = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^0x[0-9a-fA-F]{40}$"),
    # One spelling per address, so comparisons and lookups agree.
    AfterValidator(str.lower),
    Field(examples=["0x52908400098527886e0f7030069857d2e4169ee7"]),
]
# Base units of an ERC-20 amount overflow 64 bits, so it travels as a decimal string.
TokenAmount = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,78}$")]
Metadata = Annotated[str, StringConstraints(max_length=MAX_METADATA_LENGTH)]
