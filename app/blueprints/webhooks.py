"""LiveKit webhooks: verify, store durably, acknowledge, then hand to the room's actor.

LiveKit retries only on connection errors, 429 and 5xx and takes any 4xx as
delivered, so a failure to store must be a 5xx, and a duplicate must be a 200.
"""

from __future__ import annotations

import asyncio
import logging

from livekit.protocol.webhook import WebhookEvent
from pydantic import BaseModel
from quart import Blueprint, Response, request
from quart_schema import document_headers, document_response, security_scheme

from app.http.auth import public
from app.http.database_budget import database_deadline
from app.http.errors import APIError, documents_errors
from app.inbox_writer import InboxEntry
from app.livekit_gateway import WebhookPayloadError, WebhookSignatureError
from app.services import Services, services
from models.webhook_inbox import MAX_EVENT_ID, MAX_EVENT_TYPE, MAX_ROOM_NAME, MAX_SID

log = logging.getLogger(__name__)

blueprint = Blueprint("webhooks", __name__)


class WebhookAck(BaseModel):
    status: str


# The answer's body, as Quart would write `{"status": "ok"}`. Returned as a
# ready Response: a dict would go through quart-schema's conversion, which
# builds a pydantic TypeAdapter for it on every delivery (7 % of the server's
# CPU under load, in py-spy).
ACK_BODY = b'{"status":"ok"}\n'


def _ack() -> Response:
    # A new Response each time: the after-request hooks add headers to it.
    return Response(ACK_BODY, status=200, content_type="application/json")


def _not_stored() -> APIError:
    # 5xx, so LiveKit retries.
    return APIError(
        503,
        "storage_unavailable",
        "The event could not be stored; retry later.",
        headers={"Retry-After": "2"},
    )


class WebhookHeaders(BaseModel):
    authorization: str


def _reason(error: Exception) -> str:
    if isinstance(error, TimeoutError):
        return "not committed within the database timeout"
    return f"{type(error).__name__}: {' '.join(str(error).split())[:200]}"


def room_name_of(event: WebhookEvent) -> str | None:
    """The room an event belongs to (egress and ingress name it in their own info)."""
    if event.room.name:
        return event.room.name
    if event.egress_info.room_name:
        return event.egress_info.room_name
    if event.ingress_info.room_name:
        return event.ingress_info.room_name
    return None


def _fits_the_inbox(event: WebhookEvent, room_name: str | None) -> bool:
    """LiveKit's ids and names are short text; anything else would fail to store forever."""
    fields = (event.id, event.event, room_name or "", event.room.sid)
    return (
        0 < len(event.id) <= MAX_EVENT_ID
        and 0 < len(event.event) <= MAX_EVENT_TYPE
        and len(room_name or "") <= MAX_ROOM_NAME
        and len(event.room.sid) <= MAX_SID
        # PostgreSQL text cannot hold NUL.
        and not any("\x00" in value for value in fields)
    )


@blueprint.post("/v1/livekit/webhook")
@public
@security_scheme([])
@document_headers(WebhookHeaders)
# Documented, not validated: this is the hottest route and its answer is fixed.
@document_response(WebhookAck)
@documents_errors(400, 401, 413, 503)
async def receive_livekit_webhook() -> Response:
    """Receive a LiveKit webhook.

    Authenticated by LiveKit's signature (the bare JWT in `Authorization`,
    whose `sha256` claim covers the raw body). The event is stored before the
    200; a duplicate event id is acknowledged and not applied again; 503 when
    it cannot be stored, so LiveKit retries.
    """
    # The app's body limit (MAX_BODY_BYTES) already bounds what is read here.
    body = await request.get_data(cache=False, as_text=False, parse_form_data=False)
    app_services = services()
    # The wait to be admitted counts against the request's database budget:
    # an ack is answered (200, or 503 so LiveKit retries) within
    # DATABASE_TIMEOUT_SECONDS of arriving, however many deliveries queue.
    deadline = database_deadline()
    admission = app_services.webhook_admission
    try:
        # At most WEBHOOK_CONCURRENCY deliveries at once; the rest wait in arrival
        # order. A flood of deliveries then cannot fill every turn of the event
        # loop, and the room actors applying what was acknowledged keep up (at 64
        # concurrent senders, 16 at once halved the ack-to-applied lag p99).
        if admission.locked():
            async with asyncio.timeout_at(deadline):
                await admission.acquire()
        else:
            await admission.acquire()  # a turn is free: taken at once, no timer
    except TimeoutError:
        log.warning("webhook not admitted within the database timeout; answered 503")
        raise _not_stored() from None
    try:
        return await _store_and_tell(app_services, body, deadline)
    finally:
        admission.release()


async def _store_and_tell(app_services: Services, body: bytes, deadline: float) -> Response:
    try:
        event = app_services.gateway.verify_webhook(body, request.headers.get("Authorization"))
    except WebhookSignatureError:
        raise APIError(401, "unauthorized", "Invalid webhook signature.") from None
    except WebhookPayloadError:
        raise APIError(400, "invalid_event", "The body is not a LiveKit webhook event.") from None
    app_services.metrics.observe_webhook_received(event.event)
    room_name = room_name_of(event)
    if not _fits_the_inbox(event, room_name):
        raise APIError(400, "invalid_event", "The event lacks an id or a type, or is malformed.")
    entry = InboxEntry(
        event_id=event.id,
        event_type=event.event,
        room_name=room_name,
        room_sid=event.room.sid or None,
        livekit_created_at=event.created_at,
        payload=body.decode("utf-8"),
        # An event no room can claim has nothing to apply: it is kept, as done.
        done=room_name is None,
    )
    budget = max(0.0, deadline - asyncio.get_running_loop().time())
    try:
        # A duplicate id is stored already: ours.
        await app_services.inbox.store(entry, within=budget)
    except Exception as error:
        # One line: under a stalled database there are many, all one cause.
        log.warning("webhook %s not stored, answered 503: %s", event.id, _reason(error))
        raise _not_stored() from None

    if room_name is not None:
        app_services.parsed.remember(entry.payload, event)  # its round need not parse it
        # Stored is what was promised: waking the room's owner may fail (the sweep
        # then finds the event), and never waits for that owner.
        app_services.waker.stored(room_name)
    return _ack()
