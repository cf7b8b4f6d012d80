"""Logging for the service: one handler, text or JSON lines, and no known secret in any line.

Every line passes one formatter, so redaction happens there, tracebacks
included: library exceptions can carry a DSN, a header or a token in their text.
A line logged while a request is being handled carries its request id.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

REDACTED = "[redacted]"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# Attributes every LogRecord has; anything else was passed in `extra=` and is a field.
_RECORD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


@dataclass
class RequestScope:
    """The request being handled in this context, while it is."""

    request_id: str
    active: bool = True


# Tasks started during a request (a room actor's, the inbox writer's) copy this
# context and outlive the request: `active` is cleared when the request ends, so
# their later lines do not claim a request that is over.
_current: contextvars.ContextVar[RequestScope | None] = contextvars.ContextVar(
    "qari_request", default=None
)


def begin_request(request_id: str) -> RequestScope:
    scope = RequestScope(request_id)
    _current.set(scope)
    return scope


def current_request_id() -> str | None:
    scope = _current.get()
    return scope.request_id if scope is not None and scope.active else None


class _Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret containing another is blanked whole. Very
        # short values would blank ordinary words, so they are not treated as secrets.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


class RedactingFormatter(logging.Formatter):
    """Text lines: the usual format plus ` request_id=...`, then every known secret blanked."""

    def __init__(self, secrets: Iterable[str], fmt: str = LOG_FORMAT) -> None:
        super().__init__(fmt)
        self._redact = _Redactor(secrets)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = current_request_id()
        if request_id:
            text = f"{text} request_id={request_id}"
        return self._redact(text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, the `extra` fields.

    Values are redacted before encoding (a secret escaped by JSON would no
    longer match in the encoded text).
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._redact = _Redactor(secrets)

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id:
            line["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(self._redacted(line), default=str, ensure_ascii=False)

    def _redacted(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._redact(value)
        if isinstance(value, dict):
            return {key: self._redacted(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._redacted(item) for item in value]
        if isinstance(value, int | float | bool) or value is None:
            return value
        return self._redact(str(value))


def configure_logging(
    secrets: Iterable[str], level: int | str = logging.INFO, fmt: str = "text"
) -> None:
    """Route every logger through one stderr handler with a redacting formatter."""
    secrets = list(secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(secrets) if fmt == "json" else RedactingFormatter(secrets))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "qari", False):
            root.removeHandler(existing)
    handler.qari = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # Hypercorn's loggers get their own handlers; send them through ours instead,
    # so each of its lines appears once, redacted.
    for name in ("hypercorn.error", "hypercorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
