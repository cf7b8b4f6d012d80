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


def test_a_url_keeps_its_own_pool_settings() -> None:
    credentials = postgres_credentials("postgres://db/qari?maxsize=5&statement_cache_size=0")
    assert int(str(credentials["maxsize"])) == 5
    assert credentials["statement_cache_size"] == 0
    assert tortoise_config("sqlite://data/x.sqlite3")["connections"]["default"] == (
        "sqlite://data/x.sqlite3"
    )


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
