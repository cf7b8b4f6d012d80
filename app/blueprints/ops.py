"""What ops look at: the room actors alive now, their mailboxes and restarts."""

from __future__ import annotations

from pydantic import BaseModel
from quart import Blueprint
from quart_schema import validate_response

from app.errors import documents_errors
from app.services import services

blueprint = Blueprint("ops", __name__)

TOP_MAILBOXES = 20


class ActorStat(BaseModel):
    room: str
    mailbox_depth: int
    restarts: int
    busy: bool


class ActorsReport(BaseModel):
    actors_alive: int
    activations: int
    restarts: int
    mailbox_depth_total: int
    deepest: list[ActorStat]


@blueprint.get("/v1/ops/actors")
@validate_response(ActorsReport)
@documents_errors(401)
async def get_actor_stats() -> ActorsReport:
    """Room actors.

    How many are alive, activations and restarts since start, and the
    deepest mailboxes (the rooms under most load right now).
    """
    rooms = services().rooms
    snapshot = rooms.snapshot()
    deepest = sorted(snapshot, key=lambda info: info.mailbox_depth, reverse=True)
    return ActorsReport(
        actors_alive=len(snapshot),
        activations=rooms.total_activations,
        restarts=rooms.total_restarts,
        mailbox_depth_total=sum(info.mailbox_depth for info in snapshot),
        deepest=[
            ActorStat(
                room=str(info.key),
                mailbox_depth=info.mailbox_depth,
                restarts=info.restarts,
                busy=info.busy,
            )
            for info in deepest[:TOP_MAILBOXES]
        ],
    )
