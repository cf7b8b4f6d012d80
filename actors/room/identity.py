"""One spelling per identity: an Ethereum address is the same identity in any case.

A wallet signs in as its EIP-55 address and its tokens say so, but a service
(or a moderator typing a path) may write the same address in lower case. So
an identity that is an address (0x + 40 hex digits, any case) is stored,
seated, banned, minted and compared in its EIP-55 form everywhere; any other
identity is kept exactly as given.
"""

from __future__ import annotations

import re

from eth_utils.address import to_checksum_address

_ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")


def is_address(identity: str) -> bool:
    return len(identity) == 42 and _ADDRESS.fullmatch(identity) is not None


def canonical_identity(identity: str) -> str:
    """`identity` in its one spelling: EIP-55 for an address, else unchanged."""
    if is_address(identity):
        return str(to_checksum_address("0x" + identity[2:]))
    return identity
