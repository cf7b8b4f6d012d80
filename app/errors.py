"""One error type, one JSON shape, one place that maps exceptions to responses.

Every error the service returns is `{"detail": "<for people>", "code": "<stable>"}`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from quart import Quart, Response, current_app, jsonify, request
from quart_schema import RequestSchemaValidationError, document_response
from quart_schema.validation import QuerystringValidationError, RequestHeadersValidationError
from tortoise.exceptions import OperationalError
from werkzeug.exceptions import HTTPException

from actors.room.protocol import (
    BannedError,
    BanNotFoundError,
    InvalidRoomConfigError,
    LiveKitNotConfiguredError,
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
from app.chain_rpc import ChainError
from app.database import DATABASE_UNAVAILABLE, DatabaseUnavailableError
from app.gating.checker import AccessDeniedError, ChainUnavailableError
from app.livekit_gateway import LiveKitRefusedError, LiveKitUnreachableError
from app.siwe_login import SignInRejectedError
from app.siwe_message import MalformedMessageError
from models.db import is_unavailable

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


class ErrorBody(BaseModel):
    """The one error shape."""

    detail: str
    code: str


class APIError(Exception):
    """An error meant for the client: a status, a stable code and a message."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}


def error_response(
    status: int,
    code: str,
    detail: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    response = jsonify({"detail": detail, "code": code, **(extra or {})})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    # Over a rate limit (app/rate_limits.py), always with Retry-After.
    429: "rate_limited",
}


# Every 422 `validation_error` has one shape, whoever finds the fault: `errors`
# lists each failure as {"loc", "msg", "type"}, worded as pydantic words them
# ("Field required"), and `loc` starts with the part of the request, as the
# earlier (FastAPI) service put it: ["body", "name"], ["body", "attributes",
# "k"], ["query", "limit"], or ["body"] for the body as a whole. `detail` says
# the same for people: "Invalid request: name: Field required".
BODY = "body"
QUERY = "query"
_DETAIL_ITEMS = 3


def field_error(loc: Sequence[str | int], msg: str, kind: str = "value_error") -> dict[str, Any]:
    """One failure: `loc` with its part of the request first (`["body", "name"]`)."""
    return {"loc": [str(part) for part in loc], "msg": msg, "type": kind}


def invalid_request_detail(errors: list[dict[str, Any]]) -> str:
    # A field is named by its path; a fault of the whole body needs no name.
    shown = [
        f"{'.'.join(e['loc'][1:])}: {e['msg']}" if e["loc"][1:] else e["msg"]
        for e in errors[:_DETAIL_ITEMS]
    ]
    if len(errors) == 1 and not errors[0]["loc"][1:]:
        return str(errors[0]["msg"])  # a sentence about the body already
    more = len(errors) - _DETAIL_ITEMS
    return "Invalid request: " + "; ".join(shown) + (f" (and {more} more)" if more > 0 else "")


def invalid_request(*errors: dict[str, Any], detail: str | None = None) -> APIError:
    """A 422 `validation_error` for the failures made with `field_error`."""
    listed = list(errors)
    return APIError(
        422,
        "validation_error",
        detail or invalid_request_detail(listed),
        extra={"errors": listed},
    )


def _source_of(error: RequestSchemaValidationError) -> str:
    if isinstance(error, QuerystringValidationError):
        return QUERY
    if isinstance(error, RequestHeadersValidationError):
        return "header"
    return BODY


def _input_path(loc: Sequence[str | int], data: Any) -> list[str | int]:
    """`loc` without the tags pydantic puts in it for a union's members.

    (`int | None` given "x" fails as ("max_participants", "constrained-int") and
    ("max_participants", "none").) Walked against the input: a part that is not
    in it is a tag, unless it is the last, which names a missing field.
    """
    path: list[str | int] = []
    value = data
    for index, part in enumerate(loc):
        in_list = isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)
        if in_list or (isinstance(value, dict) and part in value):
            value = value[part]
        elif isinstance(value, dict) and index == len(loc) - 1:
            pass  # a field that is missing
        elif isinstance(value, dict | list):
            continue  # a union's tag, between fields
        else:
            break  # inside a scalar: only tags follow
        path.append(part)
    return path


def _validation_errors(error: RequestSchemaValidationError, data: Any) -> list[dict[str, Any]]:
    source = _source_of(error)
    inner = error.validation_error
    if not isinstance(inner, ValidationError):
        return [field_error([source], str(inner))]
    errors: list[dict[str, Any]] = []
    for item in inner.errors(include_url=False, include_context=False, include_input=False):
        path = _input_path(item["loc"], data)
        if not path and item["type"] in ("model_type", "dict_type", "model_attributes_type"):
            # The whole body is not an object (or not JSON at all): pydantic's
            # words would name our model's class instead.
            errors.append(field_error([source], "The body must be a JSON object.", "model_type"))
            continue
        errors.append(field_error([source, *path], item["msg"], item["type"]))
    # A union's members each fail at the same place: `None` is never the
    # interesting alternative, and one failure per place and message is enough.
    kept: list[dict[str, Any]] = []
    for entry in errors:
        others = [e for e in errors if e["loc"] == entry["loc"] and e is not entry]
        if entry["type"] == "none_required" and others:
            continue
        if any(e["loc"] == entry["loc"] and e["msg"] == entry["msg"] for e in kept):
            continue
        kept.append(entry)
    return kept


# Seconds a client (or LiveKit) is told to wait before retrying a database outage.
DATABASE_RETRY_AFTER = "2"
_CREDENTIALS_IN_URL = re.compile(r"://[^/@\s]*@")
_CAUSE_LENGTH = 200


def database_unavailable_response() -> Response:
    return error_response(
        503,
        "database_unavailable",
        "The database is unavailable; retry shortly.",
        headers={"Retry-After": DATABASE_RETRY_AFTER},
    )


def _cause(error: BaseException) -> str:
    """What went wrong, in one short line: the error's type and the driver's words,
    with any credentials of a URL taken out (the log's redaction also masks secrets)."""
    if isinstance(error, DatabaseUnavailableError) and isinstance(error.__cause__, TimeoutError):
        return "no answer within DATABASE_TIMEOUT_SECONDS"
    if isinstance(error, TimeoutError):
        return "no answer in time"
    text = str(error)
    if not isinstance(error, DatabaseUnavailableError):  # that one names its cause already
        text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    text = _CREDENTIALS_IN_URL.sub("://***@", " ".join(text.split()))
    return text[:_CAUSE_LENGTH]


def register_error_handlers(app: Quart) -> None:
    """Map every exception the app can raise to the one JSON shape."""

    @app.errorhandler(APIError)
    async def handle_api_error(error: APIError) -> Response:
        return error_response(error.status, error.code, error.detail, error.headers, error.extra)

    @app.errorhandler(RequestSchemaValidationError)
    async def handle_validation_error(error: RequestSchemaValidationError) -> Response:
        if isinstance(error, QuerystringValidationError):
            data: Any = request.args.to_dict()
        else:
            data = await request.get_json(silent=True)
        errors = _validation_errors(error, data)
        return error_response(
            422, "validation_error", invalid_request_detail(errors), extra={"errors": errors}
        )

    @app.errorhandler(MailboxFullError)
    @app.errorhandler(RegistryClosedError)
    @app.errorhandler(ActorDeadError)
    @app.errorhandler(AskTimeoutError)
    async def handle_busy(error: Exception) -> Response:
        # Overload and shutdown are transient: tell clients (and LiveKit) to retry.
        return error_response(
            503, "busy", "The room is busy; retry shortly.", headers={"Retry-After": "1"}
        )

    async def handle_database_unavailable(error: Exception) -> Response:
        # Down, unreachable, or too slow (a lock held elsewhere, past
        # DATABASE_TIMEOUT_SECONDS): transient, and not the client's fault. One
        # warning line, no traceback: under a stall there are many, all one cause.
        log.warning("database unavailable, answered 503: %s", _cause(error))
        return database_unavailable_response()

    # A room waiting on the database (a cold room's load) outlasted the request's
    # database budget: the database's delay, not the room's load.
    for kind in (*DATABASE_UNAVAILABLE, SeatNotStoredError, AskBudgetSpentError):
        app.register_error_handler(kind, handle_database_unavailable)

    @app.errorhandler(OperationalError)
    async def handle_operational_error(error: OperationalError) -> Response:
        # SQLite says "database is locked" once its busy timeout passes: that is
        # the database being away too. Any other OperationalError is a bug here.
        if is_unavailable(error):
            return await handle_database_unavailable(error)
        return await handle_unexpected(error)

    @app.errorhandler(UnicodeDecodeError)
    async def handle_undecodable_body(error: UnicodeDecodeError) -> Response:
        # Quart decodes JSON bodies as UTF-8 before parsing; other bytes are the client's error.
        return error_response(400, "bad_request", "The request body is not UTF-8 JSON.")

    @app.errorhandler(HTTPException)
    async def handle_http_exception(error: HTTPException) -> Response:
        status = error.code or 500
        code = _HTTP_CODES.get(status, "http_error")
        detail = error.description or error.name
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        if status == 413 and limit:
            detail = f"The request body is larger than the limit of {limit} bytes."
        response = error_response(status, code, detail)
        if status == 405 and error.get_headers():
            for name, value in error.get_headers():
                if name.lower() == "allow":
                    response.headers["Allow"] = value
        return response

    async def handle_unexpected(error: Exception) -> Response:
        # The exception text can hold anything (SQL, secrets): log it, never send it.
        log.error("unhandled error", exc_info=error)
        return error_response(500, "internal_error", "Internal server error.")

    app.register_error_handler(Exception, handle_unexpected)


# The room actor's refusals: (status, code, detail) each.
_DOMAIN_ERRORS: dict[type[Exception], tuple[int, str, str]] = {
    RoomNotFoundError: (404, "room_not_found", "No room with that name."),
    RoomExistsError: (409, "room_exists", "A room with that name already exists."),
    RoomFullError: (409, "room_full", "The room has no free seat."),
    BannedError: (403, "banned", "This identity is banned from the room."),
    ParticipantNotFoundError: (404, "participant_not_found", "No such participant in the room."),
    TrackNotFoundError: (404, "track_not_found", "The participant publishes no such track."),
    BanNotFoundError: (404, "ban_not_found", "That identity is not banned here."),
}
_BUSY = (MailboxFullError, RegistryClosedError, ActorDeadError, AskTimeoutError)


def code_of(error: BaseException) -> str:
    """The `code` an exception is answered with (for metrics that count refusals)."""
    if isinstance(error, APIError):
        return error.code
    for kind, (_, code, _) in _DOMAIN_ERRORS.items():
        if isinstance(error, kind):
            return code
    if isinstance(error, InvalidRoomConfigError | RequestSchemaValidationError):
        return "validation_error"
    if isinstance(error, AskBudgetSpentError):
        return "database_unavailable"
    if isinstance(error, _BUSY):
        return "busy"
    if isinstance(error, (*DATABASE_UNAVAILABLE, SeatNotStoredError)) or is_unavailable(error):
        return "database_unavailable"
    if isinstance(error, LiveKitRefusedError | LiveKitUnreachableError | RemovalNotMadeError):
        return "livekit_unavailable"
    if isinstance(error, AccessDeniedError):
        return "access_denied"
    if isinstance(error, ChainUnavailableError):
        return "chain_unavailable"
    return "internal_error"


def register_domain_errors(app: Quart) -> None:
    """The room actor's refusals and LiveKit's, as API errors."""

    async def handle_domain_error(error: Exception) -> Response:
        kind = next(k for k in type(error).__mro__ if k in _DOMAIN_ERRORS)
        status, code, detail = _DOMAIN_ERRORS[kind]
        return error_response(status, code, detail)

    for kind in _DOMAIN_ERRORS:
        app.register_error_handler(kind, handle_domain_error)

    @app.errorhandler(NotRoomOwnerError)
    async def handle_not_owner(error: NotRoomOwnerError) -> Response:
        return error_response(403, "forbidden", "Only the room's owner may join as host.")

    @app.errorhandler(SignInRejectedError)
    async def handle_sign_in_rejected(error: SignInRejectedError) -> Response:
        return error_response(401, error.code, error.detail)

    @app.errorhandler(MalformedMessageError)
    async def handle_malformed_message(error: MalformedMessageError) -> Response:
        errors = [field_error([BODY, "message"], str(error))]
        return error_response(
            422, "validation_error", invalid_request_detail(errors), extra={"errors": errors}
        )

    @app.errorhandler(ChainError)
    async def handle_chain(error: ChainError) -> Response:
        # Never admit on an unknown answer: the client may retry shortly.
        log.warning("chain read failed: %s (%s)", type(error).__name__, error.chain_id)
        return error_response(
            503,
            "chain_unavailable",
            "The chain could not be asked; retry shortly.",
            headers={"Retry-After": "5"},
        )

    @app.errorhandler(InvalidRoomConfigError)
    async def handle_invalid_config(error: InvalidRoomConfigError) -> Response:
        errors = [field_error([BODY, error.field], error.message)]
        return error_response(
            422, "validation_error", invalid_request_detail(errors), extra={"errors": errors}
        )

    @app.errorhandler(AccessDeniedError)
    async def handle_access_denied(error: AccessDeniedError) -> Response:
        return error_response(
            403,
            "access_denied",
            f"To join this room, the identity must {error.condition.describe()}; {error.reason}.",
        )

    @app.errorhandler(ChainUnavailableError)
    async def handle_chain_unavailable(error: ChainUnavailableError) -> Response:
        # Never admit on an unknown answer: the client retries once the chain answers.
        log.warning("gating check without an answer: %s", error.reason)
        # A cause retrying will not fix is named, so nobody retries in vain.
        outlook = f"{error.reason}." if error.lasting else "retry shortly."
        return error_response(
            503,
            "chain_unavailable",
            f"Could not check on chain {error.condition.chain_id} whether the identity may "
            f"join ({error.condition.describe()}); {outlook}",
            headers={"Retry-After": "5"},
        )

    @app.errorhandler(RemovalNotMadeError)
    async def handle_removal_not_made(error: RemovalNotMadeError) -> Response:
        log.warning("LiveKit call failed: %s", error.cause)
        why = (
            "LIVEKIT_URL is not set"
            if isinstance(error.cause, LiveKitNotConfiguredError)
            else "LiveKit did not accept the call"
        )
        return error_response(
            503,
            "livekit_unavailable",
            f"{error.what} ({why}); {error.kept}.",
            headers={"Retry-After": "5"},
        )

    @app.errorhandler(LiveKitRefusedError)
    @app.errorhandler(LiveKitUnreachableError)
    async def handle_livekit(error: Exception) -> Response:
        log.warning("LiveKit call failed: %s", error)
        return error_response(
            503,
            "livekit_unavailable",
            "LiveKit did not accept the change; nothing was changed.",
            headers={"Retry-After": "5"},
        )


def documents_errors(*statuses: int) -> Callable[[F], F]:
    """Document that a route can answer these statuses, all in the one error shape."""

    def decorate(view: F) -> F:
        for status in statuses:
            view = document_response(ErrorBody, status)(view)
        return view

    return decorate
