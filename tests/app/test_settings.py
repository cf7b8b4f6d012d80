"""Settings and the database config built from them."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from app.database import _keep_session, tortoise_config
from app.settings import Settings
from app.settings_errors import describe


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


def settings_of(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def refusal_of(**values: object) -> str:
    """The one start-up line a wrong setting gives (as `python -m app` prints it)."""
    with pytest.raises(ValidationError) as caught:
        settings_of(**values)
    [line] = describe(caught.value)
    return line


@pytest.mark.parametrize(
    "url", ["", "ws://127.0.0.1:7880", "wss://lk.example.com", "http://livekit:7880", "https://x"]
)
def test_livekit_urls_are_ws_or_http(url: str) -> None:
    assert settings_of(livekit_url=url).livekit_url == url
    assert settings_of(livekit_public_url=url).livekit_public_url == url


@pytest.mark.parametrize("url", ["not-a-url", "livekit:7880", "ftp://x", "ws://"])
def test_a_livekit_url_that_is_not_one_is_refused_naming_what_it_accepts(url: str) -> None:
    line = refusal_of(livekit_url=url)
    assert line.startswith("LIVEKIT_URL=")
    assert "ws(s)://" in line
    assert "http(s)://" in line
    assert "empty" in line


def test_tokens_carry_the_public_livekit_url_else_livekit_url() -> None:
    assert settings_of(livekit_url="ws://livekit:7880").livekit_client_url == "ws://livekit:7880"
    both = settings_of(livekit_url="ws://livekit:7880", livekit_public_url="wss://lk.example.com")
    assert both.livekit_client_url == "wss://lk.example.com"
    assert both.livekit_url == "ws://livekit:7880"  # the server's own calls stay internal


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "[::]"])
def test_every_interface_needs_siwe_domain(host: str) -> None:
    line = refusal_of(host=host)
    assert line.startswith("SIWE_DOMAIN must be set")
    assert "dApp" in line
    assert settings_of(host=host, siwe_domain="app.example.com").siwe_authority == (
        "app.example.com"
    )
    # One interface: HOST:PORT is a host a browser can be on.
    assert settings_of(host="127.0.0.1").siwe_authority == "127.0.0.1:8000"


def test_cors_origins_must_be_origins() -> None:
    allowed = settings_of(cors_origins=" http://localhost:3000/, https://app.example ")
    assert allowed.cors_allowed_origins == {"http://localhost:3000", "https://app.example"}
    for wrong in ("localhost:3000", "https://app.example/path", "app.example", "ws://x"):
        line = refusal_of(cors_origins=f"https://ok.example,{wrong}")
        assert line.startswith("CORS_ORIGINS=")
        assert "scheme://host[:port]" in line
        assert repr(wrong) in line


def test_a_wrong_chain_rpc_urls_is_not_echoed() -> None:
    """A provider's key often sits in the URL: the line names the variable, not its value."""
    line = refusal_of(chain_rpc_urls=SecretStr("1=ftp://rpc.example/key-abc123"))
    assert line.startswith("CHAIN_RPC_URLS is not valid")
    assert "key-abc123" not in line
