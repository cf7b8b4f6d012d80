"""Which webhook URLs and addresses Qari may call: none inside the private network.

An endpoint's URL is chosen by whoever registers it; without this check it
would let them make Qari call the cloud metadata service (169.254.169.254),
a database on loopback or any host on the private network (SSRF). So, unless
OUTBOUND_ALLOW_PRIVATE (development and tests: `allow_private`), a URL must be
https and every address it leads to public. `check_url` says so at
registration; `client.py` enforces `refusal` again on the address actually
connected, since DNS may answer differently by then (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import socket
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from yarl import URL

Address = IPv4Address | IPv6Address

# Named so a refusal says which rule it met. Listed explicitly rather than left
# to ipaddress.is_private/is_global, whose tables change between Python patch
# releases (and call neither 100.64/10 private nor multicast non-global).
_IPV4_REFUSED: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(network), name)
    for network, name in (
        ("0.0.0.0/8", "unspecified"),
        ("127.0.0.0/8", "loopback"),
        ("10.0.0.0/8", "RFC 1918 private"),
        ("172.16.0.0/12", "RFC 1918 private"),
        ("192.168.0.0/16", "RFC 1918 private"),
        ("169.254.0.0/16", "link-local"),
        ("100.64.0.0/10", "RFC 6598 shared"),
        ("224.0.0.0/4", "multicast"),
    )
)
_IPV6_REFUSED: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(network), name)
    for network, name in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("fe80::/10", "link-local"),
        ("fc00::/7", "unique-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
        # Local-use NAT64 (RFC 8215): translates into the operator's own IPv4 network.
        ("64:ff9b:1::/48", "local NAT64"),
    )
)
# IPv6 forms that reach an IPv4 address: judged by that address, or
# ::ffff:127.0.0.1 would be a way to loopback on a dual-stack socket.
_NAT64 = IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = IPv6Network("::/96")


class ForbiddenURLError(ValueError):
    """A webhook URL Qari will not call (a 422 at registration)."""


class UnresolvableHostError(ForbiddenURLError):
    """The URL's host name did not resolve (in time), so its addresses could not be checked."""


def _embedded_ipv4(address: IPv6Address) -> tuple[IPv4Address, str] | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, "IPv4-mapped"
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF), "NAT64"
    if address.sixtofour is not None:
        return address.sixtofour, "6to4"
    if address in _IPV4_COMPATIBLE:
        return IPv4Address(int(address) & 0xFFFFFFFF), "IPv4-compatible"
    return None


def refusal(address: Address) -> str | None:
    """Why `address` is not a public one Qari may call, or None when it is."""
    if isinstance(address, IPv4Address):
        for network, name in _IPV4_REFUSED:
            if address in network:
                return f"{name} ({network})"
    else:
        for network6, name in _IPV6_REFUSED:
            if address in network6:
                return f"{name} ({network6})"
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner, form = embedded
            reason = refusal(inner)
            return None if reason is None else f"the {form} form of {inner}, {reason}"
    if not address.is_global:
        # The rest ipaddress knows is not routable on the internet: documentation,
        # benchmarking, 240/4, broadcast, Teredo and the like.
        return "not a global address"
    return None


def address_error(address: Address, host: str | None = None) -> str | None:
    """A message for refusing `address` (reached through `host`), or None if it is allowed."""
    reason = refusal(address)
    if reason is None:
        return None
    via = f"{host} resolves to " if host is not None and host != str(address) else ""
    return f"{via}{address}, which is {reason}; only OUTBOUND_ALLOW_PRIVATE=true allows it"


def literal_address(host: str) -> Address | None:
    """`host` as an IP address when it is one (yarl's form: no brackets, maybe a zone)."""
    try:
        return ip_address(host)
    except ValueError:
        return None


def check_url_form(url: str, allow_private: bool) -> URL:
    """`url` parsed, if its scheme and any literal address are allowed; no DNS.

    Raises ForbiddenURLError. A host name still needs its addresses checked:
    `check_url` does that at registration, the client at each connection.
    """
    try:
        parsed = URL(url)
    except (ValueError, TypeError) as error:
        raise ForbiddenURLError(f"not a URL: {error}") from None
    allowed = ("https", "http") if allow_private else ("https",)
    if parsed.scheme not in allowed:
        reason = "" if parsed.scheme != "http" else " (plain http only with OUTBOUND_ALLOW_PRIVATE)"
        raise ForbiddenURLError(f"the URL must be https{reason}, not {parsed.scheme or 'relative'}")
    if not parsed.host:
        raise ForbiddenURLError("the URL has no host")
    address = literal_address(parsed.host)
    if address is not None and not allow_private:
        message = address_error(address)
        if message is not None:
            raise ForbiddenURLError(message)
    return parsed


async def resolve(host: str, port: int | None, within: float) -> list[Address]:
    """Every address `host` resolves to (both families), within `within` seconds."""
    loop = asyncio.get_running_loop()
    try:
        # getaddrinfo runs in a thread that cannot be cancelled: the timeout
        # bounds how long the caller waits, not the lookup itself.
        async with asyncio.timeout(within):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise UnresolvableHostError(f"{host} did not resolve within {within:g} s") from None
    except (OSError, UnicodeError) as error:
        raise UnresolvableHostError(f"{host} does not resolve: {error}") from None
    addresses: list[Address] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = literal_address(str(sockaddr[0]))
        if address is None:
            # Not an address we can judge, so not one we let through.
            raise UnresolvableHostError(f"{host} resolved to {sockaddr[0]!r}, not an address")
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnresolvableHostError(f"{host} resolves to no address")
    return addresses


async def check_url(url: str, allow_private: bool, *, resolve_timeout: float = 2.0) -> None:
    """Refuse (ForbiddenURLError) a webhook URL Qari must not call; for registration.

    Without `allow_private`: https only, and the host's addresses, every one
    of them, public (one private record is enough to refuse: DNS round-robin
    would reach it sooner or later). A name that does not resolve within
    `resolve_timeout` is refused too (UnresolvableHostError), since nothing
    about it could be checked. With `allow_private`, http and any address are
    allowed, so nothing is resolved.
    """
    parsed = check_url_form(url, allow_private)
    if allow_private or literal_address(parsed.host or "") is not None:
        return
    # raw_host: the IDNA (punycode) form DNS knows.
    host = parsed.raw_host or ""
    for address in await resolve(host, parsed.port, resolve_timeout):
        message = address_error(address, host)
        if message is not None:
            raise ForbiddenURLError(message)
