"""Recordings: start and stop a room's (LiveKit Egress, through its actor), and list them.

Start and stop go through the room's actor (actors/room/recordings.py), so
two starts never both find the room free; the list reads the table. Who may:
a service key, or the wallet that owns the room (403 `forbidden`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from quart import Blueprint
from quart_schema import document_request, validate_querystring, validate_response

from actors.room.protocol import RoomNotFoundError, StartRecording, StopRecording
from app.http.auth import wallet_allowed
from app.http.database_budget import database_work
from app.http.errors import documents_errors
from app.http.room_access import acting_manager, require_room_manager
from app.http.schemas import RequestBody, reject_impossible_room_names
from app.http.validation import optional_json_body
from app.services import services
from models.recordings import RecordingRow, room_recordings
from models.rooms import room_exists

blueprint = Blueprint("recordings", __name__)
blueprint.before_request(reject_impossible_room_names)

RECORDINGS = "/v1/rooms/<string:name>/recordings"
DEFAULT_PAGE = 20
MAX_PAGE = 100
MAX_CURSOR = 2**63 - 1


class RecordingStart(RequestBody):
    audio_only: bool = False
    # LiveKit's room composite layouts (`grid`, `speaker`, `single-speaker`, ...),
    # or a custom template's.
    layout: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,63}$")] = "grid"


class RecordingFileOut(BaseModel):
    filename: str
    location: str
    size: int
    duration_seconds: float | None


class RecordingOut(BaseModel):
    """A recording: `id` is its LiveKit egress id, `session` the room sid it records."""

    id: str
    room: str
    session: str | None
    # starting, active, ending, complete, failed, aborted.
    status: str
    audio_only: bool
    started_at: dt.datetime
    ended_at: dt.datetime | None
    duration_seconds: float | None
    files: list[RecordingFileOut]
    error: str | None

    @classmethod
    def of(cls, recording: RecordingRow) -> RecordingOut:
        return cls.model_validate(recording.as_dict())


class RecordingPage(BaseModel):
    items: list[RecordingOut]
    next_cursor: str | None


class RecordingListQuery(BaseModel):
    # A misspelt parameter is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE
    # Opaque to clients; it is where the previous page ended.
    cursor: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}$")] | None = None


@blueprint.post(RECORDINGS)
@wallet_allowed
@document_request(RecordingStart)
@validate_response(RecordingOut, 201)
@documents_errors(401, 403, 404, 409, 422, 503)
async def post_recording(name: str) -> tuple[RecordingOut, int]:
    """Start recording a room.

    LiveKit Egress records the room (its composite, in `layout`) to one file,
    `{room}/{session}/{time}.mp4` (`.ogg` when `audio_only`), in the
    `RECORDING_S3_*` bucket when one is set. 409 `recording_active` while one
    of the room's recordings is starting or active, 409 `room_not_live` when
    no one is in the room; 503 `livekit_unavailable`, with nothing stored,
    when LiveKit is not set or refuses.
    """
    manager = acting_manager()
    data = await optional_json_body(RecordingStart)  # no body: the defaults
    started: RecordingRow = await services().rooms.ask(
        name, StartRecording(data.audio_only, data.layout, manager)
    )
    return RecordingOut.of(started), 201


@blueprint.post(f"{RECORDINGS}/<string:recording_id>/stop")
@wallet_allowed
@validate_response(RecordingOut)
@documents_errors(401, 403, 404, 503)
async def post_recording_stop(name: str, recording_id: str) -> RecordingOut:
    """Stop a recording.

    LiveKit StopEgress; the recording is then `ending` (its files follow, with
    `complete`). One already ending or ended is answered as it is. 503
    `livekit_unavailable`, nothing changed, when LiveKit refuses. 404
    `recording_not_found` (also for another room's recording).
    """
    manager = acting_manager()
    stopped: RecordingRow = await services().rooms.ask(name, StopRecording(recording_id, manager))
    return RecordingOut.of(stopped)


@blueprint.get(RECORDINGS)
@wallet_allowed
@validate_querystring(RecordingListQuery)
@validate_response(RecordingPage)
@documents_errors(401, 403, 404, 422, 503)
async def get_recordings(name: str, query_args: RecordingListQuery) -> RecordingPage:
    """List a room's recordings.

    Newest first, in pages: pass `next_cursor` back as `cursor` for the next
    page. Those started elsewhere than through Qari are listed too.
    """
    await require_room_manager(name)
    after = None if query_args.cursor is None else min(int(query_args.cursor), MAX_CURSOR)
    async with database_work():
        if not await room_exists(name):
            raise RoomNotFoundError(name)
        page, more = await room_recordings(name, query_args.limit, after)
    return RecordingPage(
        items=[RecordingOut.of(r) for r in page],
        next_cursor=str(page[-1].id) if more and page else None,
    )
