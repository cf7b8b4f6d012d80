"""Per request: a request id, one access-log line and the HTTP metrics.

The id is the client's `X-Request-ID` when it is a sane token, else a new one;
it is echoed on the response and carried by every log line of the request.

These hooks run on every request, so they are kept cheap (py-spy put them at
a tenth of a token request): the request and `g` are looked up once, the
metric series come from one cached lookup (`Metrics.observe_request`), and
the access line's record is made without `Logger.info`'s search of the
stack for the caller (`AccessLine`); its text is still formatted only by
the handler, when it is written.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import sys
import threading
import time
from typing import Any

from quart import Quart, Response, g, request

from app.logs import begin_request
from app.metrics import Metrics

REQUEST_ID_HEADER = "X-Request-ID"
# What we accept from a client: short, and nothing that could forge a log line.
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# The route label of a request no URL rule matched (404, 405): never the path,
# which is the client's choice and would grow the series without bound.
UNMATCHED = "unmatched"
ACCESS_FORMAT = "%s %s %d %.1fms route=%s"

access_log = logging.getLogger("qari.access")
# The LogRecord attributes that change from one access line to the next.
_VARYING = frozenset(
    {"msg", "args", "created", "msecs", "relativeCreated"}
    | {"thread", "threadName", "processName", "process"}
)


def request_id_for(presented: str | None) -> str:
    if presented and _SANE_ID.fullmatch(presented):
        return presented
    # 32 hex digits (as a uuid4's hex) of 128 random bits. A request id names a
    # request in the logs, it guards nothing (a client may choose its own), so
    # `random` serves: no system call per request, as os.urandom makes. (The
    # module's generator is reseeded in a forked child, so workers differ.)
    return f"{random.getrandbits(128):032x}"


class AccessLine:
    """The access line's LogRecord, made as `Logger.info` makes it, minus the caller.

    `Logger._log` walks the stack to find the calling function and line, and
    `LogRecord.__init__` works out the same file name, module and level name
    every time. Here those are worked out once (the caller is this module's
    hook, whatever the stack), and each record copies them and adds what
    changes: the message's arguments, the `extra` fields, the time, the thread
    and the process. The record has exactly a LogRecord's attributes plus the
    extra fields, and goes through the logger's filters and handlers as usual.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        fixed = logging.LogRecord(
            logger.name, logging.INFO, __file__, 0, ACCESS_FORMAT, (), None, "finish"
        ).__dict__
        # logging's start time, as LogRecord measures `relativeCreated` from it.
        self._start = fixed["created"] - fixed["relativeCreated"] / 1000
        self._fixed = {key: value for key, value in fixed.items() if key not in _VARYING}

    def enabled(self) -> bool:
        return self._logger.isEnabledFor(logging.INFO)

    def emit(self, args: tuple[Any, ...], extra: dict[str, Any]) -> None:
        record = logging.LogRecord.__new__(logging.LogRecord)
        fields = record.__dict__
        fields.update(self._fixed)
        created = time.time()
        fields["msg"] = ACCESS_FORMAT
        fields["args"] = args
        fields["created"] = created
        fields["msecs"] = int((created - int(created)) * 1000) + 0.0
        fields["relativeCreated"] = (created - self._start) * 1000
        if logging.logThreads:
            fields["thread"] = threading.get_ident()
            fields["threadName"] = threading.current_thread().name
        else:  # pragma: no cover - as LogRecord does
            fields["thread"] = fields["threadName"] = None
        fields["processName"] = _process_name()
        fields["process"] = os.getpid() if logging.logProcesses else None
        fields.update(extra)
        self._logger.handle(record)


def _process_name() -> str | None:
    """LogRecord's `processName`, worked out the same way."""
    if not logging.logMultiprocessing:  # pragma: no cover
        return None
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is not None:
        with contextlib.suppress(Exception):  # as LogRecord does
            name: str = multiprocessing.current_process().name
            return name
    return "MainProcess"


def install_access_log(app: Quart, metrics: Metrics) -> None:
    """Register the hooks; call before any other before_request, so they time everything."""
    line = AccessLine(access_log)

    @app.before_request
    async def begin() -> None:
        # Also where the request's database budget starts (app/http/database_budget.py).
        here = g._get_current_object()
        here.qari_started = time.perf_counter()
        presented = request.headers.get(REQUEST_ID_HEADER)
        here.qari_request = begin_request(request_id_for(presented))

    @app.after_request
    async def finish(response: Response) -> Response:
        here = g._get_current_object()
        scope = getattr(here, "qari_request", None)
        started = getattr(here, "qari_started", None)
        if scope is None or started is None:
            return response  # before_request never ran (cannot happen for a routed request)
        seconds = time.perf_counter() - started
        answered = request._get_current_object()  # type: ignore[attr-defined]
        rule = answered.url_rule
        route = rule.rule if rule is not None else UNMATCHED
        method = answered.method
        status = response.status_code
        response.headers[REQUEST_ID_HEADER] = scope.request_id
        metrics.observe_request(method, route, status, seconds)
        if line.enabled():
            path = answered.path
            line.emit(
                (method, path, status, seconds * 1000, route),
                {
                    "method": method,
                    "path": path,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                },
            )
        return response

    @app.teardown_request
    async def end(_: BaseException | None) -> None:
        scope = getattr(g, "qari_request", None)
        if scope is not None:
            scope.active = False
