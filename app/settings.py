"""Typed settings, read once from the environment (and `.env` when present).

What each value must look like is app/settings_checks.py; telling people which
are wrong is app/settings_errors.py.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

from app.settings_checks import (
    any_case,
    check_cors_origins,
    check_livekit_url,
    check_nodes,
    normalise_database_url,
    parse_chain_rpc_urls,
    parse_networks,
    parse_rate_limit,
    require_siwe_domain_on_every_interface,
)
from app.settings_errors import SettingsError, describe

DEFAULT_DATABASE_URL = "sqlite://data/qari.sqlite3"


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

    # Recordings (DESIGN.md section 9): the S3 bucket LiveKit's egress writes
    # files to; no bucket: LiveKit's own storage settings. Sent only to LiveKit.
    recording_s3_bucket: str = ""
    recording_s3_region: str = ""
    recording_s3_endpoint: str = ""
    recording_s3_access_key: SecretStr = SecretStr("")
    recording_s3_secret: SecretStr = SecretStr("")

    # No query waits longer than this (then 503 database_unavailable).
    database_timeout_seconds: float = Field(default=5.0, gt=0, le=300)

    # Room actors.
    seat_hold_seconds: float = Field(default=120.0, gt=0)
    # How long a lobby ticket waits for a host's decision (then `expired`).
    lobby_wait_seconds: float = Field(default=600.0, gt=0)
    actor_idle_seconds: float = Field(default=60.0, gt=0)
    actor_mailbox_size: int = Field(default=1024, ge=1)
    actor_ask_timeout_seconds: float = Field(default=10.0, gt=0)
    shutdown_drain_seconds: float = Field(default=10.0, ge=0)
    webhook_max_attempts: int = Field(default=5, ge=1)
    webhook_concurrency: int = Field(default=16, ge=1)
    webhook_sweep_seconds: float = Field(default=5.0, gt=0)
    # Processed webhook payloads are blanked after this; their event ids stay for dedupe.
    webhook_retention_days: float = Field(default=7.0, gt=0)
    # How often a live room's presence is reconciled with LiveKit's ListParticipants
    # (DESIGN.md section 13), with LIVEKIT_URL set.
    reconcile_seconds: float = Field(default=60.0, gt=0)

    # Many nodes on one PostgreSQL database (DESIGN.md section 6; README "Running
    # several nodes"). NODE_ID: empty means hostname and PID; NODE_URL: how the
    # other nodes reach this one, empty means http://HOST:PORT. WORKERS: node
    # processes this command starts behind HOST:PORT (PostgreSQL only).
    node_id: str = Field(default="", max_length=128, pattern=r"^[A-Za-z0-9._:-]*$")
    node_url: str = ""
    lease_seconds: float = Field(default=10.0, ge=1, le=300)
    forward_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    workers: int = Field(default=1, ge=1, le=64)

    # Events out (DESIGN.md section 7): outbound webhooks and the live feed.
    # OUTBOUND_RETRY_SECONDS: the delays between a failed attempt and the next
    # (comma-separated seconds), after the last of which a delivery is failed.
    outbound_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    outbound_retry_seconds: str = Field(
        default="5,300,1800,7200,18000,36000,36000",
        pattern=r"^\s*[0-9]+(\.[0-9]+)?\s*(,\s*[0-9]+(\.[0-9]+)?\s*)*$",
    )
    # Endpoints in loopback, private, link-local... networks (development, tests).
    outbound_allow_private: bool = False
    events_retention_hours: float = Field(default=24.0, gt=0)

    # Operability.
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        return any_case(value)

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
    # delegate.xyz v2's registry (the same address on every chain it is on): where
    # rooms with `delegation` read which vaults delegated to a wallet.
    delegate_registry_address: str = Field(
        default="0x00000000000000447e69651d841bd8d104bed493", pattern=r"^0x[0-9a-fA-F]{40}$"
    )

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
        return normalise_database_url(value)

    @field_validator("livekit_url", "livekit_public_url")
    @classmethod
    def _check_livekit_url(cls, value: str) -> str:
        return check_livekit_url(value)

    @field_validator("cors_origins")
    @classmethod
    def _check_cors_origins(cls, value: str) -> str:
        return check_cors_origins(value)

    @model_validator(mode="after")
    def _require_siwe_domain_on_every_interface(self) -> Settings:
        require_siwe_domain_on_every_interface(self.host, self.siwe_domain)
        return self

    @model_validator(mode="after")
    def _check_nodes(self) -> Settings:
        check_nodes(self.is_sqlite, self.workers, self.host, self.node_url)
        return self

    @property
    def this_node_id(self) -> str:
        """NODE_ID, or this host's name and this process's id."""
        return self.node_id or f"{socket.gethostname()}-{os.getpid()}"

    @property
    def this_node_url(self) -> str:
        """How the other nodes reach this one."""
        return (self.node_url or f"http://{self.host}:{self.port}").rstrip("/")

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
    def outbound_retry_delays(self) -> tuple[float, ...]:
        """OUTBOUND_RETRY_SECONDS as seconds, in order."""
        return tuple(float(part) for part in self.outbound_retry_seconds.split(",") if part.strip())

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
            self.recording_s3_access_key.get_secret_value(),
            self.recording_s3_secret.get_secret_value(),
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


def load_settings() -> Settings:
    """Settings from the environment and `.env`; SettingsError names each wrong variable."""
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError(describe(error)) from None
    except SourceError as error:
        # pydantic-settings could not even decode a value (a complex field's JSON).
        raise SettingsError([str(error)]) from None
