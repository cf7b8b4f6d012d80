"""Per request: a request id, one access-log line and the HTTP metrics.

The id is the client's `X-Request-ID` when it is a sane token, else a new one;
it is echoed on the response and carried by every log line of the request.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from quart import Quart, Response, g, request

from app.logs import begin_request
from app.metrics import Metrics

REQUEST_ID_HEADER = "X-Request-ID"
# What we accept from a client: short, and nothing that could forge a log line.
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# The route label of a request no URL rule matched (404, 405): never the path,
# which is the client's choice and would grow the series without bound.
UNMATCHED = "unmatched"

access_log = logging.getLogger("qari.access")


def request_id_for(presented: str | None) -> str:
    if presented and _SANE_ID.fullmatch(presented):
        return presented
    return uuid.uuid4().hex


def install_access_log(app: Quart, metrics: Metrics) -> None:
    """Register the hooks; call before any other before_request, so they time everything."""

    @app.before_request
    async def begin() -> None:
        # Also where the request's database budget starts (app/http/database_budget.py).
        g.qari_started = time.perf_counter()
        g.qari_request = begin_request(request_id_for(request.headers.get(REQUEST_ID_HEADER)))

    @app.after_request
    async def finish(response: Response) -> Response:
        scope = getattr(g, "qari_request", None)
        started = getattr(g, "qari_started", None)
        if scope is None or started is None:
            return response  # before_request never ran (cannot happen for a routed request)
        seconds = time.perf_counter() - started
        route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
        response.headers[REQUEST_ID_HEADER] = scope.request_id
        metrics.observe_request(request.method, route, response.status_code, seconds)
        access_log.info(
            "%s %s %d %.1fms route=%s",
            request.method,
            request.path,
            response.status_code,
            seconds * 1000,
            route,
            extra={
                "method": request.method,
                "path": request.path,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 3),
            },
        )
        return response

    @app.teardown_request
    async def end(_: BaseException | None) -> None:
        scope = getattr(g, "qari_request", None)
        if scope is not None:
            scope.active = False
