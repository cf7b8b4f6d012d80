"""Typed settings, read once from the environment (and `.env` when present)."""

from __future__ import annotations

import re
import sys
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal, NamedTuple, cast
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

DEFAULT_DATABASE_URL = "sqlite://data/qari.sqlite3"
DATABASE_SCHEMES = ("sqlite://", "postgres://", "postgresql://")
LIVEKIT_SCHEMES = ("ws", "wss", "http", "https")
# HOST values that listen on every interface (an empty host does too).
ALL_INTERFACES = ("0.0.0.0", "::", "[::]", "")  # noqa: S104 - recognised, not bound


class Settings(BaseSettings):
    """Everything the service can be told; nothing else reads the environment."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    # The server's RoomService calls use LIVEKIT_URL; browsers get LIVEKIT_PUBLIC_URL
    # with each token (empty: LIVEKIT_URL), as the two are often different addresses.
    livekit_url: str = ""
    livekit_public_url: str = ""
    livekit_api_key: str = "devkey"
    livekit_api_secret: SecretStr = SecretStr("secret")
    # LiveKit calls sit on the request path, so they get a short budget of their own.
    livekit_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    app_secret_key: SecretStr = SecretStr("")
    app_api_keys: SecretStr = SecretStr("")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)

    # No query waits longer than this (then 503 database_unavailable).
    database_timeout_seconds: float = Field(default=5.0, gt=0, le=300)

    # Room actors.
    seat_hold_seconds: float = Field(default=120.0, gt=0)
    actor_idle_seconds: float = Field(default=60.0, gt=0)
    actor_mailbox_size: int = Field(default=1024, ge=1)
    actor_ask_timeout_seconds: float = Field(default=10.0, gt=0)
    shutdown_drain_seconds: float = Field(default=10.0, ge=0)
    webhook_max_attempts: int = Field(default=5, ge=1)
    webhook_concurrency: int = Field(default=16, ge=1)
    webhook_sweep_seconds: float = Field(default=5.0, gt=0)
    # Processed webhook payloads are blanked after this; their event ids stay for dedupe.
    webhook_retention_days: float = Field(default=7.0, gt=0)

    # Operability.
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        # `LOG_LEVEL=debug` is what people type.
        if not isinstance(value, str):
            return value
        return value.strip().upper() if value.strip().upper() in _LEVELS else value.strip().lower()

    # Chains: `1=https://...,137=https://...`. Reads sit on request paths, so
    # they get a short budget of their own (one try, no retries).
    chain_rpc_urls: SecretStr = SecretStr("")
    chain_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    # Gas caps of every eth_call (a node otherwise allows ~30M, which a contract
    # that loops spends in full): access reads (a balanceOf needs under 50k) and
    # contract-wallet sign-in checks. Below 21,000 no call can run at all.
    chain_call_gas: int = Field(default=1_000_000, ge=21_000, le=1_000_000_000)
    siwe_call_gas: int = Field(default=3_000_000, ge=21_000, le=1_000_000_000)
    # The chain of a gated room created without `chain_id`. Bounded like a room's
    # chain_id: past 2**53 JavaScript clients could not tell two apart.
    default_chain_id: int = Field(default=1, ge=1, le=2**53 - 1)

    # Gated rooms: how long a yes from the chain is trusted (a no at most 5 s,
    # so someone who just bought in is not kept out long), and how often the
    # live participants of gated rooms are checked again.
    gating_cache_seconds: float = Field(default=60.0, ge=0)
    gating_recheck_seconds: float = Field(default=120.0, gt=0)

    # Wallet sign-in (SIWE). Empty SIWE_DOMAIN means HOST:PORT (refused when
    # HOST is every interface); empty SIWE_CHAIN_IDS means the chains of
    # CHAIN_RPC_URLS, else 1.
    siwe_domain: str = ""
    siwe_chain_ids: str = Field(default="", pattern=r"^\s*([0-9]+\s*(,\s*[0-9]+\s*)*)?$")
    wallet_session_seconds: int = Field(default=43_200, ge=60, le=30 * 86_400)
    wallet_max_rooms: int = Field(default=20, ge=0)
    # Origins of the dApp, comma-separated (`https://app.example`); empty: no CORS headers.
    cors_origins: str = ""

    # Rate limits (DESIGN.md section 12; app/http/rate_limits.py), each `N/second`,
    # `N/minute`, `N/hour` or `N/day`: sign-in (nonce and SIWE, one budget) per
    # client address; room creation and token requests per wallet and per client
    # address. Services are not limited. The client address is the peer's, or the
    # last X-Forwarded-For hop added by a peer in TRUSTED_PROXIES (IPs or CIDRs,
    # comma-separated; none by default, as anyone can write that header).
    rate_limit_signin: str = "20/minute"
    rate_limit_rooms: str = "10/hour"
    rate_limit_tokens: str = "120/minute"
    trusted_proxies: str = ""

    @field_validator("rate_limit_signin", "rate_limit_rooms", "rate_limit_tokens")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        parse_rate_limit(value)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: str) -> str:
        parse_networks(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        if not value.startswith(DATABASE_SCHEMES):
            raise ValueError(
                "use sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE"
                " (postgresql:// too)"
            )
        # Tortoise knows `postgres://`; ops paste `postgresql://` from everywhere else.
        if value.startswith("postgresql://"):
            return "postgres://" + value.removeprefix("postgresql://")
        return value

    @field_validator("livekit_url", "livekit_public_url")
    @classmethod
    def _check_livekit_url(cls, value: str) -> str:
        value = value.strip()
        parts = urlsplit(value)
        if value and (parts.scheme not in LIVEKIT_SCHEMES or not parts.netloc):
            raise ValueError("use ws(s)://HOST:PORT or http(s)://HOST:PORT, or leave it empty")
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_cors_origins(cls, value: str) -> str:
        # A browser's Origin is scheme://host[:port]; anything else can never match.
        for origin in (o.strip().rstrip("/") for o in value.split(",")):
            parts = urlsplit(origin)
            if origin and (
                parts.scheme not in ("http", "https")
                or not parts.netloc
                or parts.path
                or parts.query
                or parts.fragment
            ):
                raise ValueError(
                    "each origin must be scheme://host[:port], e.g. http://localhost:3000"
                    f" ({origin[:60]!r} is not)"
                )
        return value

    @model_validator(mode="after")
    def _require_siwe_domain_on_every_interface(self) -> Settings:
        # Listening on every interface, HOST:PORT (0.0.0.0:8000) is no host a
        # dApp is served from: every sign-in would fail with siwe_wrong_domain.
        if self.host.strip() in ALL_INTERFACES and not self.siwe_domain.strip():
            raise ValueError(
                f"SIWE_DOMAIN must be set when HOST is {self.host.strip() or 'empty'}:"
                " set it to the host (and port) your dApp is served from,"
                " e.g. SIWE_DOMAIN=app.example.com"
            )
        return self

    @field_validator("chain_rpc_urls")
    @classmethod
    def _check_chain_rpc_urls(cls, value: SecretStr) -> SecretStr:
        parse_chain_rpc_urls(value.get_secret_value())
        return value

    @property
    def rpc_urls(self) -> dict[int, str]:
        """`CHAIN_RPC_URLS` as chain id -> URL."""
        return parse_chain_rpc_urls(self.chain_rpc_urls.get_secret_value())

    @property
    def siwe_authority(self) -> str:
        """The `domain` a SIWE message must name (and its `uri`'s authority)."""
        return self.siwe_domain.strip() or f"{self.host}:{self.port}"

    @property
    def siwe_chains(self) -> frozenset[int]:
        """The chains a wallet may sign in on."""
        listed = {int(part) for part in self.siwe_chain_ids.split(",") if part.strip()}
        return frozenset(listed or self.rpc_urls or {1})

    @property
    def cors_allowed_origins(self) -> frozenset[str]:
        return frozenset(o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip())

    @property
    def api_keys(self) -> tuple[str, ...]:
        """The accepted API keys, from the comma-separated `APP_API_KEYS`."""
        raw = self.app_api_keys.get_secret_value()
        return tuple(key.strip() for key in raw.split(",") if key.strip())

    def secrets(self) -> list[str]:
        """Every configured secret, for log redaction."""
        values = [
            self.livekit_api_secret.get_secret_value(),
            self.app_secret_key.get_secret_value(),
            *self.api_keys,
            # A provider's key often sits in the URL's path or query.
            *self.rpc_urls.values(),
        ]
        password = urlsplit(self.database_url).password
        if password:
            values.append(password)
        return [v for v in values if v]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite://")

    @property
    def livekit_client_url(self) -> str:
        """The LiveKit URL handed to clients with their tokens."""
        return self.livekit_public_url or self.livekit_url

    def sqlite_path(self) -> Path | None:
        """The SQLite file, so start-up can create its folder."""
        if not self.is_sqlite:
            return None
        path = self.database_url.removeprefix("sqlite://").split("?", 1)[0]
        return None if path in ("", ":memory:") else Path(path)


def parse_chain_rpc_urls(raw: str) -> dict[int, str]:
    """`1=https://a,137=https://b` -> {1: "https://a", 137: "https://b"}.

    Raises ValueError, naming what is accepted, when an entry is malformed.
    """
    urls: dict[int, str] = {}
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        chain, separator, url = entry.partition("=")
        chain, url = chain.strip(), url.strip()
        if not separator or not chain.isdigit() or int(chain) < 1:
            raise ValueError("expected CHAIN_ID=URL entries, comma-separated (1=https://...)")
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise ValueError(f"the URL of chain {chain} must be http(s)://...")
        if int(chain) in urls:
            raise ValueError(f"chain {chain} is given twice")
        urls[int(chain)] = url
    return urls


class RateLimit(NamedTuple):
    """A rate limit setting: at most `amount` per one `unit`."""

    amount: int
    unit: Literal["second", "minute", "hour", "day"]


_RATE_LIMIT = re.compile(r"\s*([0-9]{1,9})\s*/\s*(second|minute|hour|day)\s*", re.IGNORECASE)


def parse_rate_limit(raw: str) -> RateLimit:
    """`20/minute` -> RateLimit(20, "minute"); ValueError naming what is accepted."""
    match = _RATE_LIMIT.fullmatch(raw)
    if match is None or int(match[1]) < 1:
        raise ValueError("write N/second, N/minute, N/hour or N/day, with N at least 1")
    unit = cast(Literal["second", "minute", "hour", "day"], match[2].lower())
    return RateLimit(int(match[1]), unit)


def parse_networks(raw: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """`10.0.0.1, 192.168.0.0/16, ::1` -> networks; ValueError naming a bad entry."""
    networks = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        try:
            networks.append(ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry[:60]!r} is not an IP address or CIDR network") from None
    return tuple(networks)


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Values never echoed in a start-up error.
_SECRET_FIELDS = {"livekit_api_secret", "app_secret_key", "app_api_keys", "chain_rpc_urls"}


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


def _describe(error: ValidationError) -> list[str]:
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


# `python -m app` and its helper commands exit with this on a wrong setting.
EXIT_SETTINGS = 2


def report_settings_error(error: SettingsError) -> int:
    """Print one `qari:` line per wrong variable on stderr; the exit status to use.

    Plain prints: logging is not set up yet (its own settings may be the wrong ones).
    """
    for line in error.lines:
        print(f"qari: {line}", file=sys.stderr)
    return EXIT_SETTINGS


def load_settings() -> Settings:
    """Settings from the environment and `.env`; SettingsError names each wrong variable."""
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError(_describe(error)) from None
    except SourceError as error:
        # pydantic-settings could not even decode a value (a complex field's JSON).
        raise SettingsError([str(error)]) from None
