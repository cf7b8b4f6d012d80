"""Settings and the database config built from them."""

from __future__ import annotations

from pydantic import SecretStr

from app.database import _keep_session, tortoise_config
from app.settings import Settings


def postgres_credentials(url: str) -> dict[str, object]:
    connection = tortoise_config(url)["connections"]["default"]
    assert connection["engine"] == "tortoise.backends.asyncpg"
    credentials: dict[str, object] = connection["credentials"]
    return credentials


def test_postgresql_urls_are_accepted_and_tuned() -> None:
    settings = Settings(_env_file=None, database_url="postgresql://u:p@db:5432/qari")  # type: ignore[call-arg]
    assert settings.database_url == "postgres://u:p@db:5432/qari"
    credentials = postgres_credentials(settings.database_url)
    assert (credentials["host"], credentials["port"], credentials["database"]) == (
        "db",
        5432,
        "qari",
    )
    assert (credentials["user"], credentials["password"]) == ("u", "p")
    assert int(str(credentials["maxsize"])) == 20
    assert credentials["statement_cache_size"] == 16
    # Connections given back to the pool skip asyncpg's reset query (see app/database.py).
    assert credentials["reset"] is _keep_session


def test_database_timeout_defaults_to_five_seconds() -> None:
    assert Settings(_env_file=None).database_timeout_seconds == 5.0  # type: ignore[call-arg]


def test_a_url_keeps_its_own_pool_settings() -> None:
    credentials = postgres_credentials("postgres://db/qari?maxsize=5&statement_cache_size=0")
    assert int(str(credentials["maxsize"])) == 5
    assert credentials["statement_cache_size"] == 0
    sqlite = tortoise_config("sqlite://data/x.sqlite3")["connections"]["default"]
    assert sqlite["credentials"]["file_path"] == "data/x.sqlite3"


def test_every_statement_is_bounded_by_the_database_timeout() -> None:
    credentials = postgres_credentials_with("postgres://db/qari", 1.5)
    server = credentials["server_settings"]
    assert isinstance(server, dict)
    assert server["statement_timeout"] == "1500"
    assert credentials["command_timeout"] == 2.5  # a connection that does not answer at all
    sqlite = tortoise_config("sqlite://data/x.sqlite3", 1.5)["connections"]["default"]
    assert sqlite["credentials"]["busy_timeout"] == 1500
    # Migrations (aerich) may rewrite large tables: unbounded.
    unbounded = tortoise_config("postgres://db/qari", None)["connections"]["default"]
    assert "command_timeout" not in unbounded["credentials"]


def postgres_credentials_with(url: str, timeout: float) -> dict[str, object]:
    credentials: dict[str, object] = tortoise_config(url, timeout)["connections"]["default"][
        "credentials"
    ]
    return credentials


def test_api_keys_and_secrets() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        app_api_keys=SecretStr(" k1 , k2,,"),
        livekit_api_secret=SecretStr("lk-secret"),
        database_url="postgres://user:db-pass@db/qari",
    )
    assert settings.api_keys == ("k1", "k2")
    assert set(settings.secrets()) >= {"k1", "k2", "lk-secret", "db-pass"}
    assert "lk-secret" not in repr(settings)
