"""`python -m app.dev_env`: make sure a dev machine has an API key, kept in `.env`.

Run by `make run` before the server starts. It never overwrites a key already
set in the environment or in `.env`.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from app.settings import load_settings
from app.settings_errors import SettingsError, report_settings_error

ENV_FILE = Path(".env")
# The shell line that sets KEY (the README's examples use it) from `.env`.
KEY_FROM_ENV_FILE = "KEY=$(sed -n 's/^APP_API_KEYS=//p' .env | cut -d, -f1)"


def ensure_api_key(env_file: Path = ENV_FILE) -> str | None:
    """Generate `APP_API_KEYS` into `env_file` if it is set nowhere; return the new key."""
    if os.environ.get("APP_API_KEYS"):
        return None
    text = env_file.read_text() if env_file.exists() else ""
    for line in text.splitlines():
        if line.strip().startswith("APP_API_KEYS=") and line.split("=", 1)[1].strip():
            return None
    key = secrets.token_urlsafe(32)
    prefix = "" if not text or text.endswith("\n") else "\n"
    env_file.write_text(f"{text}{prefix}APP_API_KEYS={key}\n")
    env_file.chmod(0o600)
    return key


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as error:
        return report_settings_error(error)
    key = ensure_api_key()
    base = f"http://{settings.host}:{settings.port}"
    if key is not None:
        print(f"Generated an API key and saved it in {ENV_FILE} (APP_API_KEYS).")
        print(f'Use it as:  curl -H "Authorization: Bearer {key}" {base}/v1/rooms')
        print(f"For the README's examples:  KEY={key}")
    elif os.environ.get("APP_API_KEYS"):
        print("Using APP_API_KEYS from the environment.")
    else:
        # Every start, not only the first: the README's examples need $KEY.
        print(f"Using APP_API_KEYS from {ENV_FILE}.")
        print(f"For the README's examples:  {KEY_FROM_ENV_FILE}")
    print(f"API docs:   {base}/docs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
