"""Every exception the app answers, in one table: status, code, detail, headers
(Retry-After) and the line logged about it. The error shape: app/http/error_shape.py.

The handlers answer from `ANSWERS` and `code_of` (the `reason` of the metrics
that count refusals) reads the same entry, so a refusal is always counted under
the code its client was sent. An exception is answered by the entry of the
first class in its MRO that has one, which is how Quart picks a handler.
"""

from __future__ import annotations

import logging
from typing import Any

from quart import Quart, Response, current_app, request
from quart_schema import RequestSchemaValidationError
from quart_schema.validation import QuerystringValidationError
from tortoise.exceptions import OperationalError
from werkzeug.exceptions import HTTPException

from actors.room.errors import (
    RecordingActiveError,
    RecordingNotFoundError,
    RoomNotLiveError,
    RoomUnavailableError,
    TicketAccessChangedError,
    TicketClosedError,
    TicketNotFoundError,
)
from actors.room.protocol import (
    BannedError,
    BanNotFoundError,
    InvalidRoomConfigError,
    LiveKitNotConfiguredError,
    NotRoomManagerError,
    NotRoomOwnerError,
    ParticipantNotFoundError,
    RemovalNotMadeError,
    RoomExistsError,
    RoomFullError,
    RoomNotFoundError,
    TrackNotFoundError,
)
from actors.runtime import (
    ActorDeadError,
    AskBudgetSpentError,
    AskTimeoutError,
    MailboxFullError,
    RegistryClosedError,
)
from actors.seat_writer import SeatNotStoredError
from app.chain.checker import AccessDeniedError, ChainUnavailableError
from app.chain.rpc_errors import ChainError
from app.database import DATABASE_UNAVAILABLE
from app.http.error_shape import (
    BODY,
    Answer,
    Answering,
    APIError,
    answer_fixed,
    answer_invalid,
    database_cause,
    documents_errors,
    field_error,
    invalid_request,
    request_validation_errors,
    retry_after,
)
from app.livekit_gateway import LiveKitRefusedError, LiveKitUnreachableError
from app.wallet.siwe_login import SignInRejectedError
from app.wallet.siwe_message import MalformedMessageError
from models.db import LeaseLostError, is_unavailable

# What other modules import from here, the shape's names among them.
__all__ = [
    "BODY",
    "APIError",
    "code_of",
    "documents_errors",
    "field_error",
    "invalid_request",
    "register_error_handlers",
]

log = logging.getLogger(__name__)

# Seconds a client (or LiveKit) is told to wait before retrying.
BUSY_RETRY_AFTER = "1"
DATABASE_RETRY_AFTER = "2"
UPSTREAM_RETRY_AFTER = "5"  # the chain or LiveKit

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    # Over a rate limit (app/http/rate_limits.py), always with Retry-After.
    429: "rate_limited",
}


def _database_unavailable(error: Exception) -> Answer:
    # Down, unreachable, or too slow (a lock held elsewhere, past
    # DATABASE_TIMEOUT_SECONDS): transient, and not the client's fault. One
    # warning line, no traceback: under a stall there are many, all one cause.
    return Answer(
        503,
        "database_unavailable",
        "The database is unavailable; retry shortly.",
        headers=retry_after(DATABASE_RETRY_AFTER),
        log=f"database unavailable, answered 503: {database_cause(error)}",
    )


def _unexpected(_error: BaseException) -> Answer:
    # The exception text can hold anything (SQL, secrets): log it, never send it.
    return Answer(
        500,
        "internal_error",
        "Internal server error.",
        log="unhandled error",
        level=logging.ERROR,
        traceback=True,
    )


def _operational(error: OperationalError) -> Answer:
    # SQLite says "database is locked" once its busy timeout passes: that is
    # the database being away too. Any other OperationalError is a bug here.
    return _database_unavailable(error) if is_unavailable(error) else _unexpected(error)


def _http(error: HTTPException) -> Answer:
    status = error.code or 500
    detail = error.description or error.name
    if status == 413 and (limit := current_app.config.get("MAX_CONTENT_LENGTH")):
        detail = f"The request body is larger than the limit of {limit} bytes."
    headers: dict[str, str] = {}
    if status == 405:
        headers.update(
            (name.title(), value) for name, value in error.get_headers() if name.lower() == "allow"
        )
    return Answer(status, _HTTP_CODES.get(status, "http_error"), detail, headers=headers)


def _chain_unavailable(error: ChainUnavailableError) -> Answer:
    # Never admit on an unknown answer: the client retries once the chain answers.
    # A cause retrying will not fix is named, so nobody retries in vain.
    outlook = f"{error.reason}." if error.lasting else "retry shortly."
    return Answer(
        503,
        "chain_unavailable",
        f"Could not check on chain {error.chain_id} whether the identity may "
        f"join ({error.what}); {outlook}",
        headers=retry_after(UPSTREAM_RETRY_AFTER),
        log=f"gating check without an answer: {error.reason}",
    )


def _removal_not_made(error: RemovalNotMadeError) -> Answer:
    why = (
        "LIVEKIT_URL is not set"
        if isinstance(error.cause, LiveKitNotConfiguredError)
        else "LiveKit did not accept the call"
    )
    return Answer(
        503,
        "livekit_unavailable",
        f"{error.what} ({why}); {error.kept}.",
        headers=retry_after(UPSTREAM_RETRY_AFTER),
        log=f"LiveKit call failed: {error.cause}",
    )


_BUSY = answer_fixed(
    # Overload and shutdown are transient: tell clients (and LiveKit) to retry.
    503,
    "busy",
    "The room is busy; retry shortly.",
    headers=retry_after(BUSY_RETRY_AFTER),
)

# The one table. Order does not matter: the most specific class wins.
ANSWERS: dict[type[Exception], Answering] = {
    APIError: lambda e: Answer(e.status, e.code, e.detail, e.headers, e.extra),
    # Its handler first places each failure in the request it read (reading
    # the body is async); the answer's code and status are these.
    RequestSchemaValidationError: lambda e: answer_invalid(*request_validation_errors(e, None)),
    MalformedMessageError: lambda e: answer_invalid(field_error([BODY, "message"], str(e))),
    InvalidRoomConfigError: lambda e: answer_invalid(field_error([BODY, e.field], e.message)),
    # Quart decodes JSON bodies as UTF-8 before parsing; other bytes are the client's error.
    UnicodeDecodeError: answer_fixed(400, "bad_request", "The request body is not UTF-8 JSON."),
    HTTPException: _http,
    SignInRejectedError: lambda e: Answer(401, e.code, e.detail),
    # The room actor's refusals.
    RoomNotFoundError: answer_fixed(404, "room_not_found", "No room with that name."),
    RoomExistsError: answer_fixed(409, "room_exists", "A room with that name already exists."),
    RoomFullError: answer_fixed(409, "room_full", "The room has no free seat."),
    # Many nodes: the room's owner cannot be reached, or the room is changing hands.
    **dict.fromkeys(
        (RoomUnavailableError, LeaseLostError),
        lambda e: Answer(
            503,
            "room_unavailable",
            "The node serving this room cannot be reached, or it moved; retry shortly.",
            headers=retry_after(str(getattr(e, "retry_after", BUSY_RETRY_AFTER))),
        ),
    ),
    BannedError: answer_fixed(403, "banned", "This identity is banned from the room."),
    NotRoomOwnerError: answer_fixed(403, "forbidden", "Only the room's owner may join as host."),
    NotRoomManagerError: answer_fixed(403, "forbidden", "Only the room's owner may do this."),
    ParticipantNotFoundError: answer_fixed(
        404, "participant_not_found", "No such participant in the room."
    ),
    TrackNotFoundError: answer_fixed(
        404, "track_not_found", "The participant publishes no such track."
    ),
    BanNotFoundError: answer_fixed(404, "ban_not_found", "That identity is not banned here."),
    # Recordings.
    RecordingActiveError: answer_fixed(
        409, "recording_active", "A recording of this room is starting or active."
    ),
    RoomNotLiveError: answer_fixed(409, "room_not_live", "No one is in the room to record."),
    RecordingNotFoundError: answer_fixed(
        404, "recording_not_found", "The room has no recording with that id."
    ),
    # The lobby (DESIGN.md section 8).
    TicketNotFoundError: answer_fixed(
        404, "ticket_not_found", "No such ticket in the room's lobby."
    ),
    TicketClosedError: answer_fixed(
        409, "ticket_closed", "The ticket was already decided (denied, expired or admitted)."
    ),
    TicketAccessChangedError: answer_fixed(
        409,
        "access_changed",
        "The room's access condition changed since this knock: the ticket is denied "
        "(reason access_changed) and the knocker must knock again to be checked.",
    ),
    # Gating: never admit on an unknown answer.
    AccessDeniedError: lambda e: Answer(
        403,
        "access_denied",
        f"To join this room, the identity must {e.what}; {e.reason}.",
    ),
    ChainUnavailableError: _chain_unavailable,
    ChainError: lambda e: Answer(
        503,
        "chain_unavailable",
        "The chain could not be asked; retry shortly.",
        headers=retry_after(UPSTREAM_RETRY_AFTER),
        log=f"chain read failed: {type(e).__name__} ({e.chain_id})",
    ),
    # LiveKit.
    RemovalNotMadeError: _removal_not_made,
    **dict.fromkeys(
        (LiveKitRefusedError, LiveKitUnreachableError),
        lambda e: Answer(
            503,
            "livekit_unavailable",
            "LiveKit did not accept the change; nothing was changed.",
            headers=retry_after(UPSTREAM_RETRY_AFTER),
            log=f"LiveKit call failed: {e}",
        ),
    ),
    **dict.fromkeys(
        (MailboxFullError, RegistryClosedError, ActorDeadError, AskTimeoutError), _BUSY
    ),
    # A room waiting on the database (a cold room's load) outlasted the request's
    # database budget (AskBudgetSpentError): the database's delay, not the room's load.
    **dict.fromkeys(
        (*DATABASE_UNAVAILABLE, SeatNotStoredError, AskBudgetSpentError), _database_unavailable
    ),
    OperationalError: _operational,
    Exception: _unexpected,
}


def answer_of(error: BaseException) -> Answer:
    """How `error` is answered: by the entry of the first class in its MRO that has one."""
    for kind in type(error).__mro__:
        answering = ANSWERS.get(kind)
        if answering is not None:
            return answering(error)
    return _unexpected(error)  # a BaseException that is no Exception


def code_of(error: BaseException) -> str:
    """The `code` an exception is answered with (for metrics that count refusals)."""
    return answer_of(error).code


async def _answer(error: Exception) -> Response:
    answer = answer_of(error)
    if answer.traceback:
        log.log(answer.level, "%s", answer.log, exc_info=error)
    elif answer.log is not None:
        log.log(answer.level, "%s", answer.log)
    return answer.response()


async def _answer_request_validation(error: RequestSchemaValidationError) -> Response:
    if isinstance(error, QuerystringValidationError):
        data: Any = request.args.to_dict()
    else:
        data = await request.get_json(silent=True)
    return answer_invalid(*request_validation_errors(error, data)).response()


def register_error_handlers(app: Quart) -> None:
    """Answer every exception the app can raise from the table, in the one JSON shape."""
    for kind in ANSWERS:
        app.register_error_handler(kind, _answer)
    app.register_error_handler(RequestSchemaValidationError, _answer_request_validation)
