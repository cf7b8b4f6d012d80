"""Logging for the service: one format, and known secrets never reach a log line."""

from __future__ import annotations

import logging
from collections.abc import Iterable

REDACTED = "[redacted]"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then blanks every known secret, tracebacks included.

    Library exceptions can carry a DSN, a header or a token in their text; the
    formatter is the one place every line passes, so redaction happens here.
    """

    def __init__(self, secrets: Iterable[str], fmt: str = LOG_FORMAT) -> None:
        super().__init__(fmt)
        # Longest first, so a secret containing another is blanked whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


def configure_logging(secrets: Iterable[str], level: int = logging.INFO) -> None:
    """Route every logger through one stderr handler with the redacting formatter."""
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter(secrets))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "qari", False):
            root.removeHandler(existing)
    handler.qari = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # Hypercorn's loggers get their own handlers; send them through ours instead.
    for name in ("hypercorn.error", "hypercorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
