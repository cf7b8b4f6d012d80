"""Issuing a join token: the room's rules for who gets one, and its seat.

A function of the room's memory and the request, called only by the room's
actor, so capacity is exact without locks. Answered from memory: the seat's
write is handed to the seat writer and the route waits for it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from actors.room.admission import GRANT_ATTRIBUTE, VAULT_ATTRIBUTE
from actors.room.errors import AccessCheckNeededError, BannedError, NotRoomOwnerError
from actors.room.livekit import LiveKit, TokenRequest
from actors.room.memory import RoomMemory
from actors.room.views import IssuedToken


def require_allowed(
    memory: RoomMemory, request: TokenRequest, verdict_version: int | None, wallet: str | None
) -> None:
    """Everything that refuses a token request (the role, the access condition, a
    ban), checked before a token is issued or a knock made."""
    config = memory.require_config()
    entry = memory.published()
    if wallet is not None and request.role == "host" and wallet != config.owner:
        raise NotRoomOwnerError(memory.name)
    if config.condition is not None and verdict_version != entry.version:
        # No verdict for the condition as it is now: the route checks this one.
        raise AccessCheckNeededError(config.condition, entry.version, config.delegation)
    if request.identity in memory.bans:
        raise BannedError(request.identity)


def issue(
    memory: RoomMemory,
    livekit: LiveKit,
    now: dt.datetime,
    request: TokenRequest,
    verdict_version: int | None,
    wallet: str | None,
    vault: str | None = None,
) -> IssuedToken:
    """Reserve the identity's seat and mint its token, or say why not."""
    config = memory.require_config()
    require_allowed(memory, request, verdict_version, wallet)
    stored = memory.seats.reserve(
        request.identity,
        in_room=memory.state.in_room,
        max_participants=config.max_participants,
        ttl_seconds=request.ttl_seconds,
        now=now,
    )
    key = memory.seats.grant_key(request.identity)
    if key:
        # The grant was revoked once: only tokens carrying its new key admit.
        request = replace(request, attributes={**(request.attributes or {}), GRANT_ATTRIBUTE: key})
    if config.condition is not None:
        # The re-check follows the vault that admitted (DESIGN.md section 10).
        memory.vaults[request.identity] = vault
        if vault is not None:
            request = replace(
                request, attributes={**(request.attributes or {}), VAULT_ATTRIBUTE: vault}
            )
    token, expires_at = livekit.mint_token(config.livekit(), request)
    memory.annotations.roles[request.identity] = request.role
    return IssuedToken(
        token=token,
        identity=request.identity,
        room=config.name,
        expires_at=expires_at,
        stored=stored,
    )
