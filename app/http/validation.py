"""Request and response bodies for hot routes, validated by the model itself.

quart-schema's `validate_request` builds a pydantic `TypeAdapter` for the
model on every request, and `validate_response` dumps the reply through
another layer; on the token route, py-spy put the two at about a tenth of the
request's CPU. The model's own `model_validate` and `model_dump_json` do the
same checks and the same JSON without that. Routes using these still declare
their bodies with quart-schema's `document_request` / `document_response`, so
the OpenAPI document is unchanged, and a bad body is the same 422.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from quart import Response, request
from quart_schema import RequestSchemaValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


async def json_body(model: type[ModelT]) -> ModelT:
    """The request's JSON body as `model`; RequestSchemaValidationError (422) if it is not."""
    data = await request.get_json()
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise RequestSchemaValidationError(error) from None


async def optional_json_body(model: type[ModelT]) -> ModelT:
    """As `json_body`, but no body at all means every field at its default."""
    if not await request.get_data(cache=True):
        return model()
    return await json_body(model)


def json_response(body: BaseModel, status: int = 200) -> Response:
    # content_type, not mimetype: the same header, without working out a charset.
    return Response(body.model_dump_json(), status=status, content_type="application/json")
