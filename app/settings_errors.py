"""Telling people which settings are wrong: one line per variable, secrets never echoed."""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

from pydantic import ValidationError

# Values never echoed in a start-up error.
_SECRET_FIELDS = {"livekit_api_secret", "app_secret_key", "app_api_keys", "chain_rpc_urls"}

# `python -m app` and its helper commands exit with this on a wrong setting.
EXIT_SETTINGS = 2


class SettingsError(Exception):
    """Settings that cannot be used: one line per wrong variable, for people."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def _shown(field: str, value: object) -> str:
    if field in _SECRET_FIELDS:
        return ""
    text = str(value)
    if field == "database_url":
        password = urlsplit(text).password if "://" in text else None
        if password:
            text = text.replace(password, "***")
    return f"={text[:80]!r}"


def describe(error: ValidationError) -> list[str]:
    """One line per wrong setting in `error`, naming its variable."""
    lines = []
    for item in error.errors(include_url=False):
        message = item["msg"].removeprefix("Value error, ")
        if not item["loc"]:
            # A check across settings: its message names them (and echoes no input,
            # which here would be every setting).
            lines.append(message)
            continue
        field = str(item["loc"][0])
        lines.append(
            f"{field.upper()}{_shown(field, item.get('input', ''))} is not valid: {message}"
        )
    return lines


def report_settings_error(error: SettingsError) -> int:
    """Print one `qari:` line per wrong variable on stderr; the exit status to use.

    Plain prints: logging is not set up yet (its own settings may be the wrong ones).
    """
    for line in error.lines:
        print(f"qari: {line}", file=sys.stderr)
    return EXIT_SETTINGS
