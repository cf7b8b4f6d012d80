"""Join tokens: the room's actor checks capacity, reserves a seat and mints the token."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator
from quart import Blueprint, Response
from quart_schema import document_request, document_response

from actors.room_protocol import IssuedToken, IssueToken
from actors.seat_writer import SeatNotStoredError
from app.errors import documents_errors
from app.livekit_gateway import TokenRequest
from app.schemas import Metadata, reject_impossible_room_names
from app.services import services
from app.validation import json_body, json_response

blueprint = Blueprint("tokens", __name__)
blueprint.before_request(reject_impossible_room_names)

MAX_ATTRIBUTES = 32
MAX_ATTRIBUTES_SIZE = 8192
MIN_TTL_SECONDS = 60
MAX_TTL_SECONDS = 86_400


class TokenRequestBody(BaseModel):
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
@document_request(TokenRequestBody)
@document_response(TokenOut)
@documents_errors(400, 401, 404, 409, 413, 422, 503)
async def post_token(name: str) -> Response:
    """Get a join token.

    Reserves a seat for the identity (the same identity asking again keeps
    its seat) and returns a LiveKit JWT for this room alone, with grants by
    role and the room's configuration inside. The seat is stored before the
    token is returned, so it survives a restart. 409 `room_full` when no seat
    is free; 503 when the seat cannot be stored.
    """
    data = await json_body(TokenRequestBody)
    request = TokenRequest(
        identity=data.identity,
        name=data.name,
        role=data.role,
        metadata=data.metadata,
        attributes=data.attributes,
        ttl_seconds=data.ttl_seconds,
    )
    app_services = services()
    issued: IssuedToken = await app_services.rooms.ask(name, IssueToken(request))
    if issued.stored is not None:
        # Shielded: the write is shared with other requests (a whole burst's
        # seats, the same identity asking again) and must not be cut short.
        try:
            await asyncio.shield(issued.stored)
        except TimeoutError:
            raise SeatNotStoredError("the seat write timed out") from None
    return json_response(
        TokenOut(
            token=issued.token,
            url=app_services.settings.livekit_url,
            identity=issued.identity,
            room=issued.room,
            expires_at=issued.expires_at,
        )
    )
