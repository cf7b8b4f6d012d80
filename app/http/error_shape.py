"""The one error shape, `{"detail": "<for people>", "code": "<stable>"}`; the one
error type meant for clients; an `Answer` (a response in that shape, and its log
line). Which exception is answered how: the table in app/http/errors.py.

A 422 `validation_error` also lists its failures in `errors`, each one shaped here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from quart import Response, jsonify
from quart_schema import RequestSchemaValidationError, document_response
from quart_schema.validation import QuerystringValidationError, RequestHeadersValidationError

from models.db import DatabaseUnavailableError

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


@dataclass(frozen=True, slots=True)
class Answer:
    """What one exception is answered with, and what is logged when it is."""

    status: int
    code: str
    detail: str
    headers: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    log: str | None = None  # logged at `level` when answered, not when only counted
    level: int = logging.WARNING
    traceback: bool = False  # log the exception itself, with its traceback

    def response(self) -> Response:
        response = jsonify({"detail": self.detail, "code": self.code, **self.extra})
        response.status_code = self.status
        response.headers.update(self.headers)
        return response


Answering = Callable[[Any], Answer]


def retry_after(seconds: str) -> dict[str, str]:
    return {"Retry-After": seconds}


def answer_fixed(status: int, code: str, detail: str, **more: Any) -> Answering:
    """An entry whose answer does not depend on the exception."""
    answer = Answer(status, code, detail, **more)
    return lambda _error: answer


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


def answer_invalid(*errors: dict[str, Any]) -> Answer:
    """A 422 `validation_error` listing the failures made with `field_error`."""
    listed = list(errors)
    return Answer(422, "validation_error", invalid_request_detail(listed), extra={"errors": listed})


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


def request_validation_errors(
    error: RequestSchemaValidationError, data: Any
) -> list[dict[str, Any]]:
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


def documents_errors(*statuses: int) -> Callable[[F], F]:
    """Document that a route can answer these statuses, all in the one error shape."""

    def decorate(view: F) -> F:
        for status in statuses:
            view = document_response(ErrorBody, status)(view)
        return view

    return decorate


_CREDENTIALS_IN_URL = re.compile(r"://[^/@\s]*@")
_CAUSE_LENGTH = 200


def database_cause(error: BaseException) -> str:
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
