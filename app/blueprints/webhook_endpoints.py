"""Outbound webhook endpoints: /v1/webhook-endpoints (DESIGN.md section 7).

A service registers the URLs that receive events, signed with the endpoint's
secret (shown only at creation and at rotation). Sending is the delivery
worker's (app/events/delivery.py); here endpoints are stored, changed, tested
with a `ping`, and their attempts listed. Services only: wallets get 403.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from quart import Blueprint
from quart_schema import validate_querystring, validate_request, validate_response
from tortoise.backends.base.client import BaseDBAsyncClient

from app.events import endpoints
from app.events.endpoints import AttemptRow, Endpoint
from app.http.auth import service_only
from app.http.database_budget import budget_left, database_work
from app.http.errors import BODY, APIError, documents_errors, field_error, invalid_request
from app.http.openapi import documents_plain_response
from app.http.schemas import RequestBody, RoomName
from app.outbound.addresses import ForbiddenURLError, check_url
from app.services import services
from models.db import transaction
from models.outbox import EventType, WebhookEndpoint

blueprint = Blueprint("webhook_endpoints", __name__)

ENDPOINTS = "/v1/webhook-endpoints"
ENDPOINT = f"{ENDPOINTS}/<string:endpoint_id>"

Url = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
# A list names at least one: null is "every type" (or room), and [] would be nothing.
EventTypes = Annotated[list[EventType], Field(min_length=1, max_length=len(get_args(EventType)))]
RoomNames = Annotated[list[RoomName], Field(min_length=1, max_length=1000)]
Description = Annotated[str, StringConstraints(max_length=512, pattern=r"^[^\x00]*$")]


class EndpointIn(RequestBody):
    url: Url
    events: EventTypes | None = None
    rooms: RoomNames | None = None
    description: Description | None = None


class EndpointPatch(RequestBody):
    """Fields to change; the rest stay as they are (`events` or `rooms` null: all)."""

    url: Url | None = None
    events: EventTypes | None = None
    rooms: RoomNames | None = None
    description: Description | None = None
    enabled: bool | None = None


class EndpointOut(BaseModel):
    id: str
    url: str
    events: list[str] | None
    rooms: list[str] | None
    description: str | None
    enabled: bool
    disabled_reason: str | None
    created_at: dt.datetime

    @classmethod
    def of(cls, endpoint: Endpoint) -> EndpointOut:
        return cls.model_validate(endpoint, from_attributes=True)


class EndpointCreated(EndpointOut):
    """The endpoint, with its secret: shown only now."""

    secret: str


class EndpointList(BaseModel):
    items: list[EndpointOut]


class SecretOut(BaseModel):
    secret: str


class PingOut(BaseModel):
    status_code: int | None
    error: str | None


class AttemptOut(BaseModel):
    event_id: str
    type: str
    attempt: int
    status_code: int | None
    error: str | None
    attempted_at: dt.datetime
    next_attempt_at: dt.datetime | None

    @classmethod
    def of(cls, row: AttemptRow) -> AttemptOut:
        return cls.model_validate(row, from_attributes=True)


class AttemptPage(BaseModel):
    items: list[AttemptOut]
    next_cursor: str | None


class AttemptQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, Field(ge=1, le=200)] = 50
    # Opaque to clients: the attempt the previous page ended at.
    cursor: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}$")] | None = None


def _not_found() -> APIError:
    return APIError(404, "endpoint_not_found", "No webhook endpoint with that id.")


@contextlib.asynccontextmanager
async def _writing() -> AsyncIterator[BaseDBAsyncClient]:
    """A transaction within what is left of the request's database budget."""
    async with transaction(budget_left(services().database)) as conn:
        yield conn


async def _checked(url: str) -> str:
    try:
        await check_url(url, services().settings.outbound_allow_private)
    except ForbiddenURLError as error:
        raise invalid_request(field_error([BODY, "url"], str(error))) from None
    return url


async def _stored(endpoint_id: str) -> WebhookEndpoint:
    async with database_work():
        row = await endpoints.get_endpoint_row(endpoint_id)
    if row is None:
        raise _not_found()
    return row


@blueprint.post(ENDPOINTS)
@service_only
@validate_request(EndpointIn)
@validate_response(EndpointCreated, 201)
@documents_errors(400, 401, 403, 413, 422, 503)
async def create_webhook_endpoint(data: EndpointIn) -> tuple[EndpointCreated, int]:
    """Register a webhook endpoint.

    It receives the events of the types in `events` (null: all) in the rooms in
    `rooms` (null: all), from now on, signed as Standard Webhooks. The URL must
    be https to a public address (422 otherwise, unless OUTBOUND_ALLOW_PRIVATE).
    The `secret` is shown only here and at rotation.
    """
    url = await _checked(data.url)
    async with _writing() as conn:
        endpoint, secret = await endpoints.create_endpoint(
            conn, url, data.events, data.rooms, data.description, services().now()
        )
    return EndpointCreated(**EndpointOut.of(endpoint).model_dump(), secret=secret), 201


@blueprint.get(ENDPOINTS)
@service_only
@validate_response(EndpointList)
@documents_errors(401, 403, 503)
async def list_webhook_endpoints() -> EndpointList:
    """List webhook endpoints.

    Oldest first, without their secrets.
    """
    async with database_work():
        found = await endpoints.list_endpoints()
    return EndpointList(items=[EndpointOut.of(endpoint) for endpoint in found])


@blueprint.get(ENDPOINT)
@service_only
@validate_response(EndpointOut)
@documents_errors(401, 403, 404, 503)
async def get_webhook_endpoint(endpoint_id: str) -> EndpointOut:
    """Get a webhook endpoint.

    Without its secret; `disabled_reason` says why it is disabled (a 410 answer).
    """
    return EndpointOut.of(Endpoint.of(await _stored(endpoint_id)))


@blueprint.patch(ENDPOINT)
@service_only
@validate_request(EndpointPatch)
@validate_response(EndpointOut)
@documents_errors(400, 401, 403, 404, 413, 422, 503)
async def update_webhook_endpoint(endpoint_id: str, data: EndpointPatch) -> EndpointOut:
    """Change a webhook endpoint.

    Only the fields sent change. Disabling skips its undelivered events;
    enabling again clears `disabled_reason`, and it gets the events made from
    then on.
    """
    changes = data.model_dump(exclude_unset=True)
    for name in ("url", "enabled"):
        if name in changes and changes[name] is None:
            raise invalid_request(field_error([BODY, name], "may be left out, not set to null"))
    if "url" in changes:
        await _checked(changes["url"])
    async with _writing() as conn:
        endpoint = await endpoints.change_endpoint(conn, endpoint_id, changes)
    if endpoint is None:
        raise _not_found()
    return EndpointOut.of(endpoint)


@blueprint.delete(ENDPOINT)
@service_only
@documents_plain_response(204, "Deleted.")
@documents_errors(401, 403, 404, 503)
async def delete_webhook_endpoint(endpoint_id: str) -> tuple[str, int]:
    """Delete a webhook endpoint.

    With its undelivered events and its delivery history.
    """
    async with _writing() as conn:
        deleted = await endpoints.delete_endpoint(conn, endpoint_id)
    if not deleted:
        raise _not_found()
    return "", 204


@blueprint.post(f"{ENDPOINT}/rotate-secret")
@service_only
@validate_response(SecretOut)
@documents_errors(401, 403, 404, 503)
async def rotate_webhook_secret(endpoint_id: str) -> SecretOut:
    """Rotate a webhook endpoint's secret.

    The new secret signs from now on; for 24 h the previous one signs too (two
    `v1,` entries), so receivers can switch without losing a delivery.
    """
    async with _writing() as conn:
        secret = await endpoints.rotate_secret(conn, endpoint_id, services().now())
    if secret is None:
        raise _not_found()
    return SecretOut(secret=secret)


@blueprint.post(f"{ENDPOINT}/test")
@service_only
@validate_response(PingOut)
@documents_errors(401, 403, 404, 503)
async def test_webhook_endpoint(endpoint_id: str) -> PingOut:
    """Send a test event.

    A `ping`, signed like any delivery, sent now to this endpoint only, once:
    not stored, not retried. The answer's status, or why there was none
    (within OUTBOUND_TIMEOUT_SECONDS).
    """
    app_services = services()
    row = await _stored(endpoint_id)
    signing = endpoints.signing_secrets(
        row.secret, row.previous_secret, row.previous_until, app_services.now()
    )
    outcome = await app_services.events.delivery.ping(row.url, signing)
    return PingOut(status_code=outcome.status_code, error=outcome.error)


@blueprint.get(f"{ENDPOINT}/deliveries")
@service_only
@validate_querystring(AttemptQuery)
@validate_response(AttemptPage)
@documents_errors(401, 403, 404, 422, 503)
async def list_webhook_deliveries(endpoint_id: str, query_args: AttemptQuery) -> AttemptPage:
    """List a webhook endpoint's delivery attempts.

    One item per attempt, newest first, in pages: pass `next_cursor` back as
    `cursor` for the next page. `next_attempt_at` is when a failed attempt is
    tried again (null: delivered, or given up).
    """
    before = int(query_args.cursor) if query_args.cursor else None
    async with database_work():
        if await endpoints.get_endpoint_row(endpoint_id) is None:
            raise _not_found()
        rows = await endpoints.attempts_before(endpoint_id, before, query_args.limit + 1)
    page = rows[: query_args.limit]
    more = len(rows) > query_args.limit
    return AttemptPage(
        items=[AttemptOut.of(row) for row in page],
        next_cursor=str(page[-1].id) if more and page else None,
    )
