"""Join tokens: the room's actor checks capacity, reserves a seat and mints the token."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator
from quart import Blueprint
from quart_schema import validate_request, validate_response

from actors.room_protocol import IssuedToken, IssueToken
from app.errors import code_of, documents_errors
from app.livekit_gateway import TokenRequest
from app.schemas import Metadata, RequestBody, reject_impossible_room_names
from app.services import services

blueprint = Blueprint("tokens", __name__)
blueprint.before_request(reject_impossible_room_names)

MAX_ATTRIBUTES = 32
MAX_ATTRIBUTES_SIZE = 8192
MIN_TTL_SECONDS = 60
MAX_TTL_SECONDS = 86_400


class TokenRequestBody(RequestBody):
    identity: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    name: Annotated[str, StringConstraints(max_length=256)] | None = None
    role: Literal["host", "speaker", "viewer"] = "speaker"
    metadata: Metadata | None = None
    attributes: dict[Annotated[str, StringConstraints(max_length=128)], str] | None = None
    ttl_seconds: Annotated[int, Field(ge=MIN_TTL_SECONDS, le=MAX_TTL_SECONDS)] = 600

    @field_validator("attributes")
    @classmethod
    def _bounded_attributes(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None:
            size = sum(len(k) + len(v) for k, v in value.items())
            if len(value) > MAX_ATTRIBUTES or size > MAX_ATTRIBUTES_SIZE:
                raise ValueError(
                    f"at most {MAX_ATTRIBUTES} entries and {MAX_ATTRIBUTES_SIZE} characters in all"
                )
        return value


class TokenOut(BaseModel):
    token: str
    url: str
    identity: str
    room: str
    expires_at: dt.datetime


@blueprint.post("/v1/rooms/<string:name>/token")
@validate_request(TokenRequestBody)
@validate_response(TokenOut)
@documents_errors(400, 401, 404, 409, 413, 422, 503)
async def issue_token(name: str, data: TokenRequestBody) -> TokenOut:
    """Get a join token.

    Reserves a seat for the identity (the same identity asking again keeps
    its seat) and returns a LiveKit JWT for this room alone, with grants by
    role and the room's configuration inside. 409 `room_full` when no seat
    is free.
    """
    request = TokenRequest(
        identity=data.identity,
        name=data.name,
        role=data.role,
        metadata=data.metadata,
        attributes=data.attributes,
        ttl_seconds=data.ttl_seconds,
    )
    app_services = services()
    try:
        issued: IssuedToken = await app_services.rooms.ask(name, IssueToken(request))
    except Exception as error:
        app_services.metrics.observe_token_refused(code_of(error))
        raise
    app_services.metrics.observe_token_issued()
    return TokenOut(
        token=issued.token,
        url=app_services.settings.livekit_url,
        identity=issued.identity,
        room=issued.room,
        expires_at=issued.expires_at,
    )
