"""No webhook request into the private network unless OUTBOUND_ALLOW_PRIVATE (issue 25).

Checked twice: here `check_url`, at registration; test_client.py the
delivery session, on the address each connection actually goes to. Only
loopback is reachable here, so public names are never resolved: a fake
getaddrinfo stands in for DNS where one is needed.
"""

from __future__ import annotations

import asyncio
import socket
from ipaddress import ip_address
from typing import Any

import pytest

from app.outbound.addresses import (
    ForbiddenURLError,
    UnresolvableHostError,
    check_url,
    check_url_form,
    refusal,
)

# Each address, and the word its refusal names (None: a public one, allowed).
ADDRESSES = [
    ("1.1.1.1", None),
    ("8.8.8.8", None),
    ("2606:4700:4700::1111", None),
    ("2001:4860:4860::8888", None),
    ("::ffff:1.1.1.1", None),
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.254", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"),
    ("fe80::1%1", "link-local"),
    ("100.64.0.1", "shared"),
    ("100.127.255.254", "shared"),
    ("fc00::1", "unique-local"),
    ("fd12:3456::1", "unique-local"),
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("::ffff:127.0.0.1", "IPv4-mapped form of 127.0.0.1, loopback"),
    ("::ffff:10.0.0.1", "IPv4-mapped form of 10.0.0.1, RFC 1918 private"),
    ("::ffff:169.254.169.254", "IPv4-mapped form of 169.254.169.254, link-local"),
    ("64:ff9b::a9fe:a9fe", "NAT64 form of 169.254.169.254"),
    ("2002:7f00:1::", "6to4 form of 127.0.0.1"),
    ("::7f00:1", "IPv4-compatible form of 127.0.0.1"),
    # Neither private nor public: not routable on the internet all the same.
    ("192.0.2.1", "not a global address"),
    ("255.255.255.255", "not a global address"),
    ("2001:db8::1", "not a global address"),
    ("172.32.0.1", None),
    ("100.128.0.1", None),
]


@pytest.mark.parametrize(("address", "refused_as"), ADDRESSES)
def test_each_address_is_allowed_or_refused(address: str, refused_as: str | None) -> None:
    reason = refusal(ip_address(address))
    if refused_as is None:
        assert reason is None
    else:
        assert reason is not None
        assert refused_as in reason


@pytest.mark.parametrize(("address", "refused_as"), ADDRESSES)
async def test_a_literal_address_in_a_url(address: str, refused_as: str | None) -> None:
    host = f"[{address.replace('%', '%25')}]" if ":" in address else address
    url = f"https://{host}:8443/hooks"
    if refused_as is None:
        await check_url(url, allow_private=False)
    else:
        with pytest.raises(ForbiddenURLError, match="OUTBOUND_ALLOW_PRIVATE"):
            await check_url(url, allow_private=False)
    # Development and tests may call anything.
    await check_url(url, allow_private=True)


async def test_plain_http_only_when_private_is_allowed() -> None:
    with pytest.raises(ForbiddenURLError, match="must be https"):
        await check_url("http://1.1.1.1/hooks", allow_private=False)
    await check_url("http://1.1.1.1/hooks", allow_private=True)
    await check_url("HTTPS://1.1.1.1/hooks", allow_private=False)


@pytest.mark.parametrize("url", ["ftp://1.1.1.1/", "/hooks", "https:///hooks", "not a url"])
async def test_not_a_webhook_url(url: str) -> None:
    for allow_private in (False, True):
        with pytest.raises(ForbiddenURLError):
            await check_url(url, allow_private=allow_private)


async def test_a_name_that_resolves_to_loopback_is_refused() -> None:
    with pytest.raises(ForbiddenURLError, match=r"localhost resolves to .*loopback"):
        await check_url("https://localhost/hooks", allow_private=False)
    # A legacy numeric form getaddrinfo reads as 127.0.0.1.
    with pytest.raises(ForbiddenURLError, match="loopback"):
        await check_url("https://2130706433/hooks", allow_private=False)
    await check_url("https://localhost/hooks", allow_private=True)


def _fake_getaddrinfo(
    monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]], delay: float = 0.0
) -> None:
    async def getaddrinfo(host: str, port: Any, **_: Any) -> list[Any]:
        await asyncio.sleep(delay)
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)


async def test_every_resolved_address_must_be_public(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_getaddrinfo(
        monkeypatch,
        {
            "public.example": ["1.1.1.1", "2606:4700:4700::1111"],
            "mixed.example": ["1.1.1.1", "10.0.0.7"],
            "metadata.example": ["169.254.169.254"],
        },
    )
    await check_url("https://public.example/hooks", allow_private=False)
    # One private record in a round-robin is enough to refuse.
    with pytest.raises(ForbiddenURLError, match=r"mixed\.example resolves to 10\.0\.0\.7"):
        await check_url("https://mixed.example/hooks", allow_private=False)
    with pytest.raises(ForbiddenURLError, match="link-local"):
        await check_url("https://metadata.example/hooks", allow_private=False)
    with pytest.raises(UnresolvableHostError, match="does not resolve"):
        await check_url("https://unknown.example/hooks", allow_private=False)


async def test_resolution_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_getaddrinfo(monkeypatch, {"slow.example": ["1.1.1.1"]}, delay=30)
    started = asyncio.get_running_loop().time()
    with pytest.raises(UnresolvableHostError, match=r"within 0\.1 s"):
        await check_url("https://slow.example/", allow_private=False, resolve_timeout=0.1)
    assert asyncio.get_running_loop().time() - started < 5


def test_the_form_alone_needs_no_dns() -> None:
    assert check_url_form("https://hooks.example/x", allow_private=False).host == "hooks.example"
    with pytest.raises(ForbiddenURLError):
        check_url_form("https://[::ffff:192.168.0.1]/x", allow_private=False)
