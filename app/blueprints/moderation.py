"""Moderation: remove (and ban), list and lift bans, mute, change a participant, end the meeting.

Every action goes through the room's actor (actors/room/moderation.py), so a
removal with a ban and a token request for the same identity cannot cross.
The actions that call LiveKit need it: 503 `livekit_unavailable` when
`LIVEKIT_URL` is empty, or when LiveKit refuses or cannot be reached. Then
nothing changes, except what a removal does in the database alone: a
requested ban is stored and the identity's tokens for the room revoked, and
the 503's detail says so. An identity that is an address may be written in
any case: it is the same identity.

Who may moderate: a service key, or the wallet that owns the room: each
message carries the acting wallet (`acting_manager`), and the room's actor
checks it owns the room as it handles the message (403 `forbidden`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, StringConstraints, field_validator
from quart import Blueprint
from quart_schema import document_request, validate_request, validate_response

from actors.room.identity import canonical_identity
from actors.room.protocol import (
    ChangeParticipant,
    EndMeeting,
    LiftBan,
    ListBans,
    LiveParticipant,
    MuteTracks,
    RemoveParticipant,
)
from app.blueprints.presence import ParticipantOut
from app.blueprints.tokens import bounded_attributes
from app.http.auth import wallet_allowed
from app.http.errors import documents_errors
from app.http.room_access import acting_manager
from app.http.schemas import Metadata, RequestBody, reject_impossible_room_names
from app.http.validation import optional_json_body
from app.services import services
from models.bans import MAX_REASON_LENGTH, BanRow

blueprint = Blueprint("moderation", __name__)
blueprint.before_request(reject_impossible_room_names)

PARTICIPANT = "/v1/rooms/<string:name>/participants/<string:identity>"


class RemoveBody(RequestBody):
    ban: bool = False
    reason: Annotated[str, StringConstraints(max_length=MAX_REASON_LENGTH)] | None = None


class BanOut(BaseModel):
    identity: str
    reason: str | None
    created_at: dt.datetime


class BanList(BaseModel):
    items: list[BanOut]


class MuteBody(RequestBody):
    track_sid: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    muted: bool = True


class ParticipantPatch(RequestBody):
    """Fields to change; the rest stay as they are."""

    role: Literal["host", "speaker", "viewer"] | None = None
    name: Annotated[str, StringConstraints(max_length=256)] | None = None
    metadata: Metadata | None = None
    attributes: dict[Annotated[str, StringConstraints(max_length=128)], str] | None = None

    # The same bounds as a token's attributes.
    _bounded_attributes = field_validator("attributes")(bounded_attributes)


@blueprint.post(f"{PARTICIPANT}/remove")
@wallet_allowed
@document_request(RemoveBody)
@documents_errors(401, 403, 404, 422, 503)
async def post_remove_participant(name: str, identity: str) -> tuple[str, int]:
    """Remove a participant.

    Disconnects it (LiveKit RemoveParticipant), frees its seat and revokes
    the tokens it holds for this room: joining again takes a new token. With
    `ban`, the identity is also refused tokens (403 `banned`). 404
    `participant_not_found` when it is not in the room and no ban is asked
    for. Without LiveKit (or LiveKit refusing), 503 `livekit_unavailable`,
    with the ban and the revocation kept.
    """
    manager = acting_manager()
    data = await optional_json_body(RemoveBody)  # no body: remove, no ban
    await services().rooms.ask(
        name, RemoveParticipant(canonical_identity(identity), data.ban, data.reason, manager)
    )
    return "", 204


@blueprint.get("/v1/rooms/<string:name>/bans")
@wallet_allowed
@validate_response(BanList)
@documents_errors(401, 403, 404)
async def get_bans(name: str) -> BanList:
    """List the room's bans.

    Oldest first, each with its reason and when it was made.
    """
    manager = acting_manager()
    rows: list[BanRow] = await services().rooms.ask(name, ListBans(manager))
    return BanList(
        items=[BanOut(identity=r.identity, reason=r.reason, created_at=r.created_at) for r in rows]
    )


@blueprint.delete("/v1/rooms/<string:name>/bans/<string:identity>")
@wallet_allowed
@documents_errors(401, 403, 404)
async def delete_ban(name: str, identity: str) -> tuple[str, int]:
    """Lift a ban.

    The identity may get tokens again. 404 `ban_not_found` if it was not banned.
    """
    manager = acting_manager()
    await services().rooms.ask(name, LiftBan(canonical_identity(identity), manager))
    return "", 204


@blueprint.post(f"{PARTICIPANT}/mute")
@wallet_allowed
@document_request(MuteBody)
@documents_errors(401, 403, 404, 422, 503)
async def post_mute(name: str, identity: str) -> tuple[str, int]:
    """Mute (or unmute) a participant's tracks.

    One track by sid, or every track it publishes (`track_sid` null), through
    LiveKit MutePublishedTrack. 404 `participant_not_found` / `track_not_found`.
    """
    manager = acting_manager()
    data = await optional_json_body(MuteBody)  # no body: mute every track
    await services().rooms.ask(
        name, MuteTracks(canonical_identity(identity), data.track_sid, data.muted, manager)
    )
    return "", 204


@blueprint.patch(PARTICIPANT)
@wallet_allowed
@validate_request(ParticipantPatch)
@validate_response(ParticipantOut)
@documents_errors(401, 403, 404, 422, 503)
async def patch_participant(name: str, identity: str, data: ParticipantPatch) -> ParticipantOut:
    """Change a participant.

    Its role (LiveKit applies that role's permissions at once: a viewer stops
    publishing), name, metadata or attributes, through UpdateParticipant.
    """
    manager = acting_manager()
    changed: LiveParticipant = await services().rooms.ask(
        name,
        ChangeParticipant(
            canonical_identity(identity),
            data.role,
            data.name,
            data.metadata,
            data.attributes,
            manager,
        ),
    )
    return ParticipantOut.of(changed)


@blueprint.post("/v1/rooms/<string:name>/end")
@wallet_allowed
@documents_errors(401, 403, 404, 503)
async def post_end_meeting(name: str) -> tuple[str, int]:
    """End the meeting.

    Disconnects everyone (LiveKit DeleteRoom) and frees every seat. The room
    stays: new tokens start a new meeting.
    """
    manager = acting_manager()
    await services().rooms.ask(name, EndMeeting(manager))
    return "", 204
