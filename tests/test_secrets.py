"""Known secrets never appear in a response body or a log line, whatever fails."""

from __future__ import annotations

import io
import logging
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.conftest import app_running
from tests.support.clock import FakeClock
from tests.support.postgres import unreachable
from tests.support.server import running_server
from tests.support.settings import make_settings
from tests.support.webhooks import event, room_info, serialise, sign

LIVEKIT_SECRET = "lk-secret-Zq8vN1wX4yB7cD0eF3gH6jK9mP2rS5tU"
API_KEY = "api-key-Vb2nM5qW8eR1tY4uI7oP0aS3dF6gH9jK"
APP_SECRET = "app-secret-Lk4jH7gF0dS3aP6oI9uY2tR5eW8qZ1xC"
DB_PASSWORD = "db-password-Mn3bV6cX9zL2kJ5hG8fD1sA4"
SECRETS = (LIVEKIT_SECRET, API_KEY, APP_SECRET, DB_PASSWORD)


def call(
    url: str, method: str = "GET", body: bytes | None = None, **headers: str
) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def with_password(url: str) -> str:
    scheme, rest = url.split("://", 1)
    credentials, host = rest.split("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:{DB_PASSWORD}@{host}"


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
async def test_secrets_stay_out_of_bodies_and_logs(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if database == "sqlite":
        database_url = f"sqlite://{tmp_path}/secrets.sqlite3"
    else:
        # Trust auth ignores the password, but the app still holds and must hide it.
        database_url = with_password(request.getfixturevalue("postgres_url"))
    log_file = tmp_path / "server.log"
    bodies: list[str] = []
    with running_server(
        database_url,
        tmp_path,
        log_file=log_file,
        APP_API_KEYS=API_KEY,
        LIVEKIT_API_SECRET=LIVEKIT_SECRET,
        APP_SECRET_KEY=APP_SECRET,
        LIVEKIT_URL="http://127.0.0.1:9",  # nothing listens: LiveKit unreachable
    ) as url:
        good = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
        # A bad key, and the right key in the wrong scheme.
        for auth in ("Bearer wrong-key", f"Basic {API_KEY}", API_KEY):
            bodies.append(call(f"{url}/v1/rooms", Authorization=auth)[1])
        # A bad webhook: signed with another secret, and one with the API key as its JWT.
        body = serialise(event("room_started", room_info("secret-room", "RM_s")))
        for auth in (sign(body, secret="another-secret-0123456789-abcdefghij"), API_KEY):
            status, text = call(
                f"{url}/v1/livekit/webhook",
                "POST",
                body,
                Authorization=auth,
                **{"Content-Type": "application/webhook+json"},
            )
            assert status == 401
            bodies.append(text)
        # LiveKit unreachable while creating a room, then a token.
        status, text = call(f"{url}/v1/rooms", "POST", b'{"name": "secret-room"}', **good)
        assert status == 201, text
        bodies.append(text)
        bodies.append(
            call(f"{url}/v1/rooms/secret-room/token", "POST", b'{"identity": "a"}', **good)[1]
        )
        # A handler that fails inside: a body that is not JSON, one that is not UTF-8.
        for raw in (b"{", b"\xff\xfe"):
            bodies.append(call(f"{url}/v1/rooms", "POST", raw, **good)[1])
        if database == "postgres":
            async with unreachable(database_url):
                for path in ("/v1/rooms", "/v1/rooms/secret-room", "/v1/health/ready"):
                    status, text = call(f"{url}{path}", **good)
                    assert status == 503, (path, status, text)
                    bodies.append(text)
                status, text = call(
                    f"{url}/v1/livekit/webhook",
                    "POST",
                    body,
                    Authorization=sign(body, secret=LIVEKIT_SECRET),
                    **{"Content-Type": "application/webhook+json"},
                )
                assert status == 503
                bodies.append(text)
    logs = log_file.read_text()
    assert "Running on" in logs  # the log was captured at all
    for secret in SECRETS:
        for text in bodies:
            assert secret not in text
        assert secret not in logs


async def test_a_crash_inside_a_handler_is_logged_without_secrets(
    database_url: str, clock: FakeClock
) -> None:
    settings = make_settings(
        database_url,
        livekit_api_secret=SecretStr(LIVEKIT_SECRET),
        app_api_keys=SecretStr(API_KEY),
        app_secret_key=SecretStr(APP_SECRET),
    )
    async with app_running(settings, clock) as running:

        @running.app.get("/v1/test-crash")
        async def crash() -> str:
            raise RuntimeError(f"connect failed: {LIVEKIT_SECRET} {API_KEY} {APP_SECRET}")

        handler = next(h for h in logging.getLogger().handlers if getattr(h, "qari", False))
        captured = io.StringIO()
        assert isinstance(handler, logging.StreamHandler)
        previous = handler.setStream(captured)
        try:
            response = await running.client().get(
                "/v1/test-crash", headers={"Authorization": f"Bearer {API_KEY}"}
            )
        finally:
            handler.setStream(previous)
        assert response.status_code == 500
        text = await response.get_data(as_text=True)
        logged = captured.getvalue()
        assert "RuntimeError" in logged
        for secret in (LIVEKIT_SECRET, API_KEY, APP_SECRET):
            assert secret not in text
            assert secret not in logged
