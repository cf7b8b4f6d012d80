"""Settings every test app shares: known secrets, long enough for HS256."""

from __future__ import annotations

from pydantic import SecretStr

from app.settings import Settings

API_KEY = "test-api-key-0123456789abcdef"
LIVEKIT_KEY = "test-livekit-key"
LIVEKIT_SECRET = "test-livekit-secret-0123456789abcdef-0123"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
GENEROUS_RATE_LIMIT = "1000000/second"


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "app_api_keys": SecretStr(API_KEY),
        "livekit_api_key": LIVEKIT_KEY,
        "livekit_api_secret": SecretStr(LIVEKIT_SECRET),
        "app_secret_key": SecretStr("test-app-secret-key-0123456789"),
        "livekit_url": "",
        # Limits no test reaches by accident (the defaults are per client address,
        # and every test's requests come from one); tests of the limits set their own.
        "rate_limit_signin": GENEROUS_RATE_LIMIT,
        "rate_limit_rooms": GENEROUS_RATE_LIMIT,
        "rate_limit_tokens": GENEROUS_RATE_LIMIT,
    }
    values.update(overrides)
    # _env_file=None: a developer's .env must not leak into tests.
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]
