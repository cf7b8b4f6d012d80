"""`GET /metrics`: Prometheus' text format, for a service key."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable

from quart import Blueprint, Response

from app.http.auth import service_only
from app.http.database_budget import database_work
from app.http.errors import documents_errors
from app.http.openapi import documents_plain_response
from app.metrics import CONTENT_TYPE
from app.services import services
from models.outbox import count_pending_deliveries
from models.webhook_inbox_ops import count_pending

log = logging.getLogger(__name__)

blueprint = Blueprint("metrics", __name__)

# A scrape must answer even when the database is slow: each backlog count gets
# this long, then is reported as NaN.
BACKLOG_COUNT_TIMEOUT = 1.0


async def _count(what: str, count: Callable[[], Awaitable[int]]) -> int | None:
    try:
        async with database_work(at_most=BACKLOG_COUNT_TIMEOUT):
            return await count()
    except asyncio.CancelledError:
        raise
    except Exception as error:  # any failure: the backlog is unknown this scrape
        log.warning("%s not counted: %s", what, type(error).__name__)
        return None


@blueprint.get("/metrics")
@service_only
@documents_plain_response(200, "Prometheus text exposition format.", CONTENT_TYPE)
@documents_errors(401)
async def get_metrics() -> Response:
    """Prometheus metrics.

    Every metric is named `qari_*`; see the README for what each means. Needs
    the API key, like `/v1`.
    """
    app_services = services()
    metrics = app_services.metrics
    max_attempts = app_services.settings.webhook_max_attempts
    metrics.set_webhook_backlog(
        await _count("webhook backlog", functools.partial(count_pending, max_attempts))
    )
    metrics.set_deliveries_pending(await _count("pending deliveries", count_pending_deliveries))
    return Response(metrics.render(), status=200, content_type=CONTENT_TYPE)
