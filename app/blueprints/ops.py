"""What ops look at: the room actors alive now, the webhook inbox's backlog and failures,
and the nodes of the cluster."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel
from quart import Blueprint
from quart_schema import validate_response

from app.http.auth import service_only
from app.http.database_budget import database_work
from app.http.errors import documents_errors
from app.services import services
from models.db import connection
from models.leases import list_nodes
from models.webhook_inbox_ops import inbox_backlog

blueprint = Blueprint("ops", __name__)

TOP_MAILBOXES = 20
FAILED_SHOWN = 50


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
@service_only
@validate_response(ActorsReport)
@documents_errors(401, 403)
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


class FailedEvent(BaseModel):
    event_id: str
    event_type: str
    room_name: str | None
    attempts: int
    last_error: str | None
    received_at: dt.datetime


class WebhooksReport(BaseModel):
    pending: int
    failed: int
    failed_events: list[FailedEvent]


@blueprint.get("/v1/ops/webhooks")
@service_only
@validate_response(WebhooksReport)
@documents_errors(401, 503)
async def get_webhook_stats() -> WebhooksReport:
    """Webhook inbox.

    Events stored but not yet applied, and those that failed to apply
    `WEBHOOK_MAX_ATTEMPTS` times and are kept with their error (newest 50).
    """
    async with database_work():
        backlog = await inbox_backlog(services().settings.webhook_max_attempts, FAILED_SHOWN)
    return WebhooksReport(
        pending=backlog.pending,
        failed=backlog.failed,
        failed_events=[
            FailedEvent.model_validate(row, from_attributes=True) for row in backlog.newest_failed
        ],
    )


class ReconciledReport(BaseModel):
    ghosts_closed: int
    joins_found: int
    sessions_ended: int


class AdmissionReport(BaseModel):
    refused: dict[str, int]
    removed: int
    removals_failed: int
    kept_without_livekit: int
    reconciled: ReconciledReport


@blueprint.get("/v1/ops/admission")
@service_only
@validate_response(AdmissionReport)
@documents_errors(401, 403)
async def get_admission_stats() -> AdmissionReport:
    """Joins Qari did not admit.

    Since start: joins refused by reason (`not_issued`, `revoked`,
    `token_expired`, `no_place`, `banned`), participants removed through LiveKit, removals
    that failed, and refused joins kept because `LIVEKIT_URL` is empty; and what
    reconciling presence with LiveKit changed: ghosts closed, joins found, sessions
    ended.
    """
    stats = services().admission
    reconciled = stats.reconciled
    return AdmissionReport(
        refused=dict(stats.refused),
        removed=stats.removed,
        removals_failed=stats.removals_failed,
        kept_without_livekit=stats.kept_without_livekit,
        reconciled=ReconciledReport(
            ghosts_closed=reconciled["ghosts_closed"],
            joins_found=reconciled["joins_found"],
            sessions_ended=reconciled["sessions_ended"],
        ),
    )


class NodeReport(BaseModel):
    id: str
    url: str
    heartbeat_at: dt.datetime
    # Its heartbeat is within LEASE_SECONDS.
    alive: bool
    # Rooms whose lease it holds now.
    rooms: int


class ClusterReport(BaseModel):
    node: str
    nodes: list[NodeReport]


@blueprint.get("/v1/ops/cluster")
@service_only
@validate_response(ClusterReport)
@documents_errors(401, 403, 503)
async def get_cluster() -> ClusterReport:
    """The cluster.

    This node's id, and every node whose heartbeat is under 3 x LEASE_SECONDS
    old: its URL, its last heartbeat (the database's clock), whether it is
    alive, and how many rooms it owns. On SQLite, this node alone.
    """
    app_services = services()
    settings = app_services.settings
    node_id = app_services.ownership.node_id
    if app_services.leases is None:
        me = NodeReport(
            id=node_id,
            url=settings.this_node_url,
            heartbeat_at=app_services.now(),
            alive=True,
            rooms=len(app_services.rooms),
        )
        return ClusterReport(node=node_id, nodes=[me])
    async with database_work():
        rows = await list_nodes(connection(), settings.lease_seconds)
    return ClusterReport(
        node=node_id,
        nodes=[
            NodeReport(
                id=r.id, url=r.url, heartbeat_at=r.heartbeat_at, alive=r.alive, rooms=r.rooms
            )
            for r in rows
        ],
    )
