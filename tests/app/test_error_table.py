"""The error table, entry by entry: what a handler answers is what `code_of` counts.

Every exception kind in `ANSWERS` is raised from a route of an app with the
real handlers; its response must carry the code (and status) the table gives,
which is the `reason` the refusal metrics count it under.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError
from quart import Quart
from quart_schema import RequestSchemaValidationError
from tortoise.exceptions import OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from actors.room.protocol import (
    InvalidRoomConfigError,
    LiveKitNotConfiguredError,
    LiveKitRefusedError,
    LiveKitUnreachableError,
    RemovalNotMadeError,
)
from app.chain.checker import AccessDeniedError, ChainUnavailableError
from app.chain.rpc_errors import ChainError
from app.http.errors import ANSWERS, APIError, answer_of, code_of, register_error_handlers
from app.wallet.siwe_login import SignInRejectedError
from app.wallet.siwe_message import MalformedMessageError
from models.access import Erc20

CONDITION = Erc20(1, "0x" + "ab" * 20, 10).describe()


class _Body(BaseModel):
    name: str


def _validation_error() -> ValidationError:
    try:
        _Body.model_validate({})
    except ValidationError as error:
        return error
    raise AssertionError("an empty body must not validate")


# The kinds a bare `kind("...")` cannot make, or that answer by their content.
MADE: dict[type[Exception], list[Exception]] = {
    APIError: [APIError(418, "teapot", "Short and stout.", headers={"Retry-After": "3"})],
    RequestSchemaValidationError: [RequestSchemaValidationError(_validation_error())],
    UnicodeDecodeError: [UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")],
    HTTPException: [NotFound(), MethodNotAllowed(valid_methods=["GET"])],
    SignInRejectedError: [SignInRejectedError("nonce_expired", "The nonce has expired.")],
    InvalidRoomConfigError: [InvalidRoomConfigError("max_participants", "Too many.")],
    AccessDeniedError: [AccessDeniedError(CONDITION, "it holds 0")],
    ChainUnavailableError: [
        ChainUnavailableError(1, CONDITION, "no answer"),
        ChainUnavailableError(1, CONDITION, "chain 1 is not configured", lasting=True),
    ],
    ChainError: [ChainError(1, "no answer")],
    RemovalNotMadeError: [
        RemovalNotMadeError(LiveKitNotConfiguredError(), "the seat was freed"),
        RemovalNotMadeError(LiveKitRefusedError("internal", 500), "the seat was freed"),
    ],
    LiveKitRefusedError: [LiveKitRefusedError("internal", 500)],
    LiveKitUnreachableError: [LiveKitUnreachableError("ClientError"), LiveKitNotConfiguredError()],
    # "database is locked" is SQLite past its busy timeout: the database away.
    OperationalError: [OperationalError("database is locked"), OperationalError("no such table")],
    MalformedMessageError: [MalformedMessageError("not an EIP-4361 message")],
}

CASES = [error for kind in ANSWERS for error in MADE.get(kind) or [kind("a sample")]]


@pytest.fixture(scope="module")
def app() -> Quart:
    """A bare app with the real error handlers: one route raises each case."""
    app = Quart(__name__)
    register_error_handlers(app)

    @app.get("/raise/<int:index>")
    async def raise_case(index: int) -> str:
        raise CASES[index]

    return app


def test_every_entry_is_answered_for_some_case() -> None:
    answered_by = {next(k for k in type(e).__mro__ if k in ANSWERS) for e in CASES}
    assert answered_by == set(ANSWERS)


@pytest.mark.parametrize(
    "index", range(len(CASES)), ids=[f"{type(e).__name__}-{i}" for i, e in enumerate(CASES)]
)
async def test_the_code_answered_is_the_code_counted(app: Quart, index: int) -> None:
    error = CASES[index]
    response = await app.test_client().get(f"/raise/{index}")
    body = await response.get_json()
    assert body["code"] == code_of(error)
    assert response.status_code == answer_of(error).status
    assert isinstance(body["detail"], str)
    assert body["detail"]
    for name, value in answer_of(error).headers.items():
        assert response.headers[name] == value
