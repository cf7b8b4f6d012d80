"""The lobby (DESIGN.md section 8): knockers poll their ticket, hosts let them in.

A knock is the token route's 202 (app/blueprints/tokens.py). Decisions go
through the room's actor (actors/room/lobbying.py), one at a time. A poll
reads the node's LobbyBoard, where the room's actor publishes each ticket once
its change is durable, and waits there: no database query, no message in the
room's mailbox, per waiting poll. With several nodes, a poll that reaches
another node is forwarded to the room's owner like any room request, for as
long as it may wait (app/cluster/routing.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from quart import Blueprint
from quart_schema import document_request, validate_querystring, validate_response

from actors.room.errors import TicketNotFoundError
from actors.room.lobby_board import TicketView
from actors.room.protocol import (
    AdmitAll,
    AdmitTicket,
    DenyTicket,
    ListLobby,
    ReadEntry,
    ReadTicket,
)
from app.blueprints.tokens import TokenOut
from app.http.auth import current_caller, wallet_allowed
from app.http.errors import documents_errors
from app.http.openapi import documents_plain_response
from app.http.room_access import acting_manager
from app.http.schemas import RequestBody, reject_impossible_room_names
from app.http.validation import optional_json_body
from app.services import Services, services
from models.lobby import MAX_REASON_LENGTH

blueprint = Blueprint("lobby", __name__)
blueprint.before_request(reject_impossible_room_names)

LOBBY = "/v1/rooms/<string:name>/lobby"
TICKET = LOBBY + "/<string:ticket>"
# The longest a poll holds its answer (a larger `wait` counts as this).
MAX_WAIT_SECONDS = 30.0


class TicketQuery(BaseModel):
    # A misspelt parameter is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid")

    # Seconds to hold the answer while the ticket waits (above 30: 30).
    wait: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0


class TicketOut(BaseModel):
    """A ticket as its knocker sees it: `token` once admitted (the same each time)."""

    status: str
    token: TokenOut | None
    reason: str | None


class LobbyItemOut(BaseModel):
    ticket: str
    identity: str
    name: str | None
    since: dt.datetime


class LobbyOut(BaseModel):
    items: list[LobbyItemOut]


class DenyBody(RequestBody):
    reason: Annotated[str, StringConstraints(max_length=MAX_REASON_LENGTH)] | None = None


class AdmittedOut(BaseModel):
    admitted: int


@blueprint.get(TICKET)
@wallet_allowed
@validate_querystring(TicketQuery)
@validate_response(TicketOut)
@documents_errors(401, 404, 422, 503)
async def get_ticket(name: str, ticket: str, query_args: TicketQuery) -> TicketOut:
    """Poll a lobby ticket.

    `waiting`, `admitted` (with the token, the same each time it is asked:
    its seat is held `SEAT_HOLD_SECONDS` from the admission), `denied` (with
    the host's reason, or `banned`) or `expired` (after `LOBBY_WAIT_SECONDS`).
    With `?wait=N` a waiting ticket's answer is held until it changes or N
    seconds pass (at most 30). Only the wallet that knocked and the room's
    managers may read it: anyone else gets 404 `ticket_not_found`. The token
    is the knocker's alone: a service reads it too, but the room's owner
    reading another wallet's ticket gets `token: null` (the status and the
    reason as they are).
    """
    app_services = services()
    view = await _ticket(app_services, name, ticket)
    await _require_reader(app_services, name, view)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(query_args.wait, MAX_WAIT_SECONDS)
    board = app_services.lobby_board
    while True:
        # Read again just before taking the change's event, with nothing awaited in
        # between: a decision published while the reads above awaited (an ask of
        # the actor) is seen here, not waited for in vain.
        latest = board.get(ticket)
        if latest is None:
            # Withdrawn: its room's actor stopped (another node may serve it now).
            # The answer is the ticket as last known; the next poll asks anew.
            break
        view = latest
        left = deadline - loop.time()
        if view.status != "waiting" or board.closed or left <= 0:
            break
        change = board.change(ticket)
        try:
            async with asyncio.timeout(left):
                await change.wait()
        except TimeoutError:
            break
    return _out(app_services, view)


@blueprint.get(LOBBY)
@wallet_allowed
@validate_response(LobbyOut)
@documents_errors(401, 403, 404, 503)
async def get_lobby(name: str) -> LobbyOut:
    """List the room's lobby.

    The tickets waiting, in knock order. For the room's managers (a service,
    the owner).
    """
    waiting = await services().rooms.ask(name, ListLobby(acting_manager()))
    return LobbyOut(
        items=[
            LobbyItemOut(ticket=v.ticket, identity=v.identity, name=v.name, since=v.since)
            for v in waiting
        ]
    )


@blueprint.post(LOBBY + "/admit-all")
@wallet_allowed
@validate_response(AdmittedOut)
@documents_errors(401, 403, 404, 503)
async def post_admit_all(name: str) -> AdmittedOut:
    """Admit everyone waiting, in knock order, as far as places go.

    Each admitted ticket takes a seat by the room's rules now; the rest keep
    waiting once the room is full. Tickets whose knock was checked under
    another access condition than the room's now are denied
    (`access_changed`: their knockers knock again). Answers how many were
    admitted.
    """
    admitted = await services().rooms.ask(name, AdmitAll(acting_manager()))
    return AdmittedOut(admitted=admitted)


@blueprint.post(TICKET + "/admit")
@wallet_allowed
@documents_plain_response(204, "Admitted.")
@documents_errors(401, 403, 404, 409, 503)
async def post_admit(name: str, ticket: str) -> tuple[str, int]:
    """Admit a lobby ticket.

    Takes a seat by the room's rules at this moment (409 `room_full` when
    there is none) and mints the knocker's token, which its poll then
    carries. 409 `ticket_closed` when the ticket was denied or has expired
    (or its identity is banned: it is denied now); admitting an admitted
    ticket again changes nothing. 409 `access_changed` when the knock was
    checked under another access condition than the room's now (changed, or
    added since): the ticket is denied with that reason and its knocker must
    knock again, to be checked against the condition as it is.
    """
    await services().rooms.ask(name, AdmitTicket(ticket, acting_manager()))
    return "", 204


@blueprint.post(TICKET + "/deny")
@wallet_allowed
@document_request(DenyBody)
@documents_plain_response(204, "Denied.")
@documents_errors(400, 401, 403, 404, 409, 413, 422, 503)
async def post_deny(name: str, ticket: str) -> tuple[str, int]:
    """Deny a lobby ticket.

    The knocker's poll answers `denied` with the `reason` given (optional).
    409 `ticket_closed` when the ticket was already decided or has expired.
    """
    data = await optional_json_body(DenyBody)
    await services().rooms.ask(name, DenyTicket(ticket, data.reason, acting_manager()))
    return "", 204


async def _ticket(app_services: Services, name: str, ticket: str) -> TicketView:
    """The ticket from the board (no query, no mailbox), else asked of the room's
    actor (which loads the room); another room's ticket is not found here."""
    view = app_services.lobby_board.get(ticket)
    if view is None:
        view = await app_services.rooms.ask(name, ReadTicket(ticket))
    if view.room != name:
        raise TicketNotFoundError(ticket)
    return view


async def _require_reader(app_services: Services, name: str, view: TicketView) -> None:
    """The wallet that knocked, or a manager (a service, the room's owner); anyone
    else is told there is no such ticket (its existence is not theirs to learn)."""
    caller = current_caller()
    if caller.is_service or caller.address == view.identity:
        return
    entry = app_services.directory.get(name)
    if entry is None:
        entry = await app_services.rooms.ask(name, ReadEntry())
    if caller.address is None or entry.owner != caller.address:
        raise TicketNotFoundError(view.ticket)


def _out(app_services: Services, view: TicketView) -> TicketOut:
    """The ticket for its reader: the token only for the knocker and services (a
    join token is a credential of the identity it names)."""
    caller = current_caller()
    token = None
    if (
        view.token is not None
        and view.token_expires_at is not None
        and (caller.is_service or caller.address == view.identity)
    ):
        token = TokenOut(
            token=view.token,
            url=app_services.settings.livekit_client_url,
            identity=view.identity,
            room=view.room,
            expires_at=view.token_expires_at,
        )
    return TicketOut(status=view.status, token=token, reason=view.reason)
