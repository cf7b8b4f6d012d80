"""Join tokens: the room's actor checks capacity, reserves a seat and mints the token."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator
from quart import Blueprint, Response
from quart_schema import document_request, document_response

from actors.room.admission import RESERVED_ATTRIBUTE_PREFIX
from actors.room.identity import canonical_identity
from actors.room.protocol import (
    AccessCheckNeededError,
    AccessVerdict,
    IssuedToken,
    IssueToken,
    Knocked,
    ReadEntry,
    RevokeAccess,
    RoomEntry,
)
from actors.room.seats import MAX_TOKEN_SECONDS
from actors.runtime import MailboxFullError, RegistryClosedError
from actors.seat_writer import SeatNotStoredError
from app.chain.checker import AccessDeniedError, Admission, ChainUnavailableError
from app.http.auth import current_caller, wallet_allowed
from app.http.database_budget import database_budget
from app.http.errors import BODY, APIError, code_of, documents_errors, field_error, invalid_request
from app.http.schemas import Address, Metadata, RequestBody, reject_impossible_room_names
from app.http.validation import json_body, json_response
from app.livekit_gateway import TokenRequest
from app.services import Services, services

blueprint = Blueprint("tokens", __name__)
blueprint.before_request(reject_impossible_room_names)

MAX_ATTRIBUTES = 32
MAX_ATTRIBUTES_SIZE = 8192
MIN_TTL_SECONDS = 60
MAX_TTL_SECONDS = MAX_TOKEN_SECONDS
# A room's condition can change between the check and the ask; after this many
# changes in a row the client is told to retry.
MAX_CONDITION_CHANGES = 3


def bounded_attributes(cls: type, value: dict[str, str] | None) -> dict[str, str] | None:
    """Attributes within LiveKit's sensible bounds (a token's, and a moderator's change),
    none of them Qari's own (`qari.` keys: the grant a token was issued under)."""
    if value is not None:
        size = sum(len(k) + len(v) for k, v in value.items())
        if len(value) > MAX_ATTRIBUTES or size > MAX_ATTRIBUTES_SIZE:
            raise ValueError(
                f"at most {MAX_ATTRIBUTES} entries and {MAX_ATTRIBUTES_SIZE} characters in all"
            )
        reserved = sorted(key for key in value if key.startswith(RESERVED_ATTRIBUTE_PREFIX))
        if reserved:
            raise ValueError(
                f"attribute keys starting with {RESERVED_ATTRIBUTE_PREFIX!r} are Qari's: "
                + ", ".join(reserved)
            )
    return value


def checked_identity(value: str | None) -> str | None:
    """An identity every route can name (a path segment), in its one spelling."""
    if value is None:
        return None
    if "/" in value or value in (".", ".."):
        # Moderation routes name the identity in their path: these could never be
        # removed, banned or muted there.
        raise ValueError("an identity may not contain '/' nor be '.' or '..'")
    return canonical_identity(value)


class TokenRequestBody(RequestBody):
    # Required for a service; a wallet's identity is its address (the default).
    identity: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    name: Annotated[str, StringConstraints(max_length=256)] | None = None
    role: Literal["host", "speaker", "viewer"] = "speaker"
    metadata: Metadata | None = None
    attributes: dict[Annotated[str, StringConstraints(max_length=128)], str] | None = None
    ttl_seconds: Annotated[int, Field(ge=MIN_TTL_SECONDS, le=MAX_TTL_SECONDS)] = 600
    # In a room with `delegation`: the vault (delegate.xyz v2) to qualify through.
    vault: Address | None = None

    _bounded_attributes = field_validator("attributes")(bounded_attributes)
    _checked_identity = field_validator("identity")(lambda cls, value: checked_identity(value))


class TokenOut(BaseModel):
    token: str
    url: str
    identity: str
    room: str
    expires_at: dt.datetime


class KnockOut(BaseModel):
    """A knock on a lobby room: poll the ticket (GET .../lobby/{ticket}?wait=30)."""

    # waiting, or admitted for a knock again after the admission.
    status: str
    ticket: str
    # When the ticket stops waiting (LOBBY_WAIT_SECONDS after the knock).
    expires_at: dt.datetime


def _identity_for(data: TokenRequestBody, wallet: str | None) -> str:
    if wallet is None:
        if data.identity is None:
            raise invalid_request(field_error([BODY, "identity"], "Field required", "missing"))
        return data.identity
    # Any spelling of the wallet's own address is the wallet (the body's identity
    # is in its EIP-55 spelling already); the token says it EIP-55.
    if data.identity is not None and data.identity != wallet:
        raise APIError(
            403, "identity_mismatch", "A wallet joins as its own address: identity must be it."
        )
    return wallet


@blueprint.post("/v1/rooms/<string:name>/token")
@wallet_allowed
@document_request(TokenRequestBody)
@document_response(TokenOut)
@document_response(KnockOut, 202)
@documents_errors(400, 401, 403, 404, 409, 413, 422, 503)
async def issue_token(name: str) -> Response:
    """Get a join token.

    Reserves a seat for the identity (the same identity asking again keeps
    its seat) and returns a LiveKit JWT for this room alone, with grants by
    role and the room's configuration inside. The seat is stored before the
    token is returned, so it survives a restart. 409 `room_full` when no seat
    is free; 503 when the seat cannot be stored. In a gated room the identity
    must be an address that meets the room's condition on its chain: else 403
    `access_denied` naming the condition, or 503 `chain_unavailable` when the
    chain gives no answer. A service names any `identity`; a wallet joins as
    its own address (another identity: 403 `identity_mismatch`) and as `host`
    only in a room it owns (else 403 `forbidden`). The condition may be an
    `all`/`any` tree (`access`): a refusal names the leaves that said no. In a
    room with `delegation`, a wallet may qualify through a vault that delegated
    to it (delegate.xyz v2): the one named by `vault`, else up to 10 found in
    the registry; the token then carries the attribute `qari.vault`. `vault` in
    a room without delegation: 403 `access_denied`. Attribute keys starting
    with `qari.` are Qari's: 422.

    In a room with `lobby`, a wallet that does not own it knocks instead:
    after every check above, 202 with a ticket to poll (GET
    `/v1/rooms/{name}/lobby/{ticket}`) until a host admits or denies it;
    capacity is decided at admission. The same identity knocking again while
    its ticket waits (or is admitted) gets that ticket back.
    """
    data = await json_body(TokenRequestBody)
    wallet = current_caller().address
    request = TokenRequest(
        identity=_identity_for(data, wallet),
        name=data.name,
        role=data.role,
        metadata=data.metadata,
        attributes=data.attributes,
        ttl_seconds=data.ttl_seconds,
    )
    app_services = services()
    try:
        issued = await _issue(app_services, name, request, wallet, data.vault)
        if isinstance(issued, Knocked):
            knocked = KnockOut(
                status=issued.status, ticket=issued.ticket, expires_at=issued.expires_at
            )
            return json_response(knocked, 202)
        if issued.stored is not None:
            await _seat_stored(issued.stored)
    except Exception as error:
        app_services.metrics.observe_token_refused(code_of(error))
        raise
    app_services.metrics.observe_token_issued()
    return json_response(
        TokenOut(
            token=issued.token,
            url=app_services.settings.livekit_client_url,
            identity=issued.identity,
            room=issued.room,
            expires_at=issued.expires_at,
        )
    )


async def _seat_stored(stored: asyncio.Future[None]) -> None:
    """Wait for the seat's write; its failure is raised here.

    Shielded: the write is shared with other requests (a whole burst's seats,
    the same identity asking again) and must not be cut short. Waited for at
    most what is left of the request's database budget: then 503
    `database_unavailable`, and the token is not returned. (`asyncio.timeout`
    rather than `wait_for`: one future and one callback fewer per new seat.)
    """
    if not stored.done():
        budget = database_budget()
        try:
            if budget <= 0:
                raise TimeoutError
            async with asyncio.timeout(budget):
                await asyncio.shield(stored)
        except TimeoutError:
            raise SeatNotStoredError("the seat was not stored in time") from None
    stored.result()


def _revoke_on_no(app_services: Services, name: str, identity: str) -> None:
    """The room's condition says no to this identity now: a token it got before
    must not admit it either (the actor revokes its grant, if it has one)."""
    with contextlib.suppress(MailboxFullError, RegistryClosedError):
        app_services.rooms.tell(name, RevokeAccess(identity, disconnect=False))


async def _issue(
    app_services: Services,
    name: str,
    request: TokenRequest,
    wallet: str | None,
    vault: str | None = None,
) -> IssuedToken | Knocked:
    """One ask: the room's condition read without its mailbox, checked on chain, and
    the actor asked once with a verdict for that condition's version.

    The condition and its version come from the entry the room's actor
    publishes (the directory). A room whose actor is not in memory has none
    yet: the first ask loads it and, if it is gated, names its condition. A
    verdict for a version that is no longer current is refused by the actor,
    and a refusal is given only for the room's current condition, never for
    one it had before.
    """
    entry = app_services.directory.get(name)
    if vault is not None and entry is None:
        # Whether the room admits through vaults at all decides first.
        entry = await app_services.rooms.ask(name, ReadEntry())
    for _ in range(MAX_CONDITION_CHANGES):
        verdict = None
        if vault is not None and entry is not None and not entry.delegation:
            raise APIError(
                403,
                "access_denied",
                "This room does not admit through delegated vaults: leave out `vault`.",
            )
        if entry is not None and entry.access is not None:
            checked = await _check_access(app_services, name, entry, request.identity, vault)
            if isinstance(checked, RoomEntry):
                entry = checked  # the condition changed while it was read: check that one
                continue
            verdict = AccessVerdict(entry.version, checked.vault, checked.expires_at)
        try:
            return await app_services.rooms.ask(name, IssueToken(request, verdict, wallet))
        except AccessCheckNeededError as needed:
            entry = RoomEntry(needed.version, needed.condition, None, needed.delegation)
    raise APIError(
        503,
        "busy",
        "The room's access settings keep changing; retry.",
        headers={"Retry-After": "1"},
    )


async def _check_access(
    app_services: Services, name: str, entry: RoomEntry, identity: str, vault: str | None
) -> Admission | RoomEntry:
    """What admitted the identity under `entry`'s condition; the room's newer entry
    when the condition changed meanwhile; else the refusal (for the current condition)."""
    assert entry.access is not None
    try:
        return await app_services.access.require(
            entry.access, identity, delegation=entry.delegation, vault=vault
        )
    except (AccessDeniedError, ChainUnavailableError) as refused:
        current = app_services.directory.get(name)
        if current is None:  # its actor stopped meanwhile: ask it
            current = await app_services.rooms.ask(name, ReadEntry())
        if current.version != entry.version:
            return current
        if isinstance(refused, AccessDeniedError) and vault is None:
            # Only a no for the identity as such (itself and the vaults the registry
            # lists): a no for a named vault says nothing of the one it came in through.
            _revoke_on_no(app_services, name, identity)
        raise
