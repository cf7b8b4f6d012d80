"""Settings and the database config built from them."""

from __future__ import annotations

from pydantic import SecretStr

from app.database import tortoise_config
from app.settings import Settings


def test_postgresql_urls_are_accepted_and_tuned() -> None:
    settings = Settings(_env_file=None, database_url="postgresql://u:p@db:5432/qari")  # type: ignore[call-arg]
    assert settings.database_url == "postgres://u:p@db:5432/qari"
    url = tortoise_config(settings.database_url)["connections"]["default"]
    assert url == "postgres://u:p@db:5432/qari?maxsize=20&statement_cache_size=16"


def test_a_url_keeps_its_own_pool_settings() -> None:
    url = tortoise_config("postgres://db/qari?maxsize=5&statement_cache_size=0")
    assert url["connections"]["default"] == "postgres://db/qari?maxsize=5&statement_cache_size=0"
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
