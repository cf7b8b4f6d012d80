"""What each setting's value must look like: the parsers and checks behind `Settings`.

Each raises ValueError naming what is accepted, which pydantic reports as the
setting's error (app/settings_errors.py turns that into one line for people).
The parsers are used again where the values are: the rate limiter reads
`parse_rate_limit` and `parse_networks`, the chain client `parse_chain_rpc_urls`.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Literal, NamedTuple, cast
from urllib.parse import urlsplit

DATABASE_SCHEMES = ("sqlite://", "postgres://", "postgresql://")
LIVEKIT_SCHEMES = ("ws", "wss", "http", "https")
# HOST values that listen on every interface (an empty host does too).
ALL_INTERFACES = ("0.0.0.0", "::", "[::]", "")  # noqa: S104 - recognised, not bound
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def any_case(value: object) -> object:
    """A LOG_FORMAT or LOG_LEVEL in the case its choices are written in."""
    # `LOG_LEVEL=debug` is what people type.
    if not isinstance(value, str):
        return value
    return value.strip().upper() if value.strip().upper() in LEVELS else value.strip().lower()


def normalise_database_url(value: str) -> str:
    """A `DATABASE_URL` Tortoise can open; ValueError naming the accepted forms."""
    if not value.startswith(DATABASE_SCHEMES):
        raise ValueError(
            "use sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE (postgresql:// too)"
        )
    # Tortoise knows `postgres://`; ops paste `postgresql://` from everywhere else.
    if value.startswith("postgresql://"):
        return "postgres://" + value.removeprefix("postgresql://")
    return value


def check_livekit_url(value: str) -> str:
    """A LiveKit URL, stripped: ws(s):// or http(s):// with a host, or empty."""
    value = value.strip()
    parts = urlsplit(value)
    if value and (parts.scheme not in LIVEKIT_SCHEMES or not parts.netloc):
        raise ValueError("use ws(s)://HOST:PORT or http(s)://HOST:PORT, or leave it empty")
    return value


def check_cors_origins(value: str) -> str:
    """`CORS_ORIGINS` as given, once each origin is scheme://host[:port]."""
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


def require_siwe_domain_on_every_interface(host: str, siwe_domain: str) -> None:
    """ValueError when HOST listens on every interface and SIWE_DOMAIN is empty."""
    # Listening on every interface, HOST:PORT (0.0.0.0:8000) is no host a
    # dApp is served from: every sign-in would fail with siwe_wrong_domain.
    if host.strip() in ALL_INTERFACES and not siwe_domain.strip():
        raise ValueError(
            f"SIWE_DOMAIN must be set when HOST is {host.strip() or 'empty'}:"
            " set it to the host (and port) your dApp is served from,"
            " e.g. SIWE_DOMAIN=app.example.com"
        )


def check_nodes(is_sqlite: bool, workers: int, host: str, node_url: str) -> None:
    """ValueError for a cluster SQLite cannot be, or one whose nodes cannot reach this one.

    WORKERS > 1 (PostgreSQL) runs that many nodes behind HOST:PORT
    (app/cluster/workers.py), each reached by the others on a port of its own:
    at NODE_URL's host when NODE_URL is given (so it must be plain http://, as
    the workers serve), else at HOST.
    """
    if is_sqlite and workers > 1:
        raise ValueError(
            f"WORKERS={workers} needs PostgreSQL: a SQLite database is served by one"
            " process; set DATABASE_URL to PostgreSQL or WORKERS=1"
        )
    if not is_sqlite and host.strip() in ALL_INTERFACES and not node_url.strip():
        raise ValueError(
            f"NODE_URL must be set when HOST is {host.strip() or 'empty'} on PostgreSQL:"
            " the other nodes forward requests to it, e.g. NODE_URL=http://10.0.0.5:8000"
        )
    if node_url.strip() and not node_url.strip().startswith(("http://", "https://")):
        raise ValueError("NODE_URL must be an http:// or https:// URL")
    if workers > 1 and node_url.strip().startswith("https://"):
        raise ValueError(
            f"NODE_URL must be http:// with WORKERS={workers}: each worker is reached"
            " over plain HTTP at NODE_URL's host on a port of its own"
        )


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
