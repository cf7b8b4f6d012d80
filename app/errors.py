"""One error type, one JSON shape, one place that maps exceptions to responses.

Every error the service returns is `{"detail": "<for people>", "code": "<stable>"}`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from quart import Quart, Response, current_app, jsonify
from quart_schema import RequestSchemaValidationError, document_response
from tortoise.exceptions import OperationalError
from werkzeug.exceptions import HTTPException

from actors.room.protocol import (
    BannedError,
    BanNotFoundError,
    InvalidRoomConfigError,
    NotRoomOwnerError,
    ParticipantNotFoundError,
    RoomExistsError,
    RoomFullError,
    RoomNotFoundError,
    TrackNotFoundError,
)
from actors.runtime import ActorDeadError, AskTimeoutError, MailboxFullError, RegistryClosedError
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
}


def _validation_errors(error: RequestSchemaValidationError) -> list[dict[str, Any]]:
    inner = error.validation_error
    if hasattr(inner, "errors"):
        return [
            {"loc": [str(part) for part in item["loc"]], "msg": item["msg"], "type": item["type"]}
            for item in inner.errors(include_url=False, include_context=False, include_input=False)
        ]
    return [{"loc": [], "msg": str(inner), "type": "value_error"}]


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
        errors = _validation_errors(error)
        fields = ", ".join(".".join(e["loc"]) or "body" for e in errors)
        return error_response(
            422, "validation_error", f"Invalid request: {fields}", extra={"errors": errors}
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

    for kind in (*DATABASE_UNAVAILABLE, SeatNotStoredError):
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
    if isinstance(error, _BUSY):
        return "busy"
    if isinstance(error, (*DATABASE_UNAVAILABLE, SeatNotStoredError)) or is_unavailable(error):
        return "database_unavailable"
    if isinstance(error, LiveKitRefusedError | LiveKitUnreachableError):
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
        errors = [{"loc": ["body", "message"], "msg": str(error), "type": "value_error"}]
        return error_response(
            422, "validation_error", f"Invalid request: message: {error}", extra={"errors": errors}
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
        errors = [{"loc": ["body", error.field], "msg": error.message, "type": "value_error"}]
        return error_response(
            422, "validation_error", f"Invalid request: {error.field}", extra={"errors": errors}
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
        return error_response(
            503,
            "chain_unavailable",
            f"Could not check on chain {error.condition.chain_id} whether the identity may "
            f"join ({error.condition.describe()}); retry shortly.",
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
