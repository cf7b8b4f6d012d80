"""How the WORKERS supervisor (app/cluster/workers.py) names and addresses its
children: node ids, bind hosts, NODE_URLs, the sockets they inherit."""

from __future__ import annotations

import os
import re
import socket
from urllib.parse import urlsplit

from app.settings_checks import ALL_INTERFACES

LISTEN_FDS = "--listen-fds="
NODE_ID_MAX = 128  # Settings.node_id
_NOT_IN_NODE_ID = re.compile(r"[^A-Za-z0-9._:-]")


def base_node_id(node_id: str) -> str:
    """NODE_ID, or this host's name and the supervisor's PID (as a node's default)."""
    return node_id or _NOT_IN_NODE_ID.sub("-", f"{socket.gethostname()}-{os.getpid()}")


def bind_host(host: str) -> str:
    """HOST as `socket.bind` takes it (Hypercorn's reading: `[::]` -> `::`)."""
    return host.strip().replace("[", "").replace("]", "")


def url_host(host: str) -> str:
    """A host as a URL writes it (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host else host


def private_bind_host(host: str, node_url: str) -> str:
    """Where a child's private listener binds: HOST; 127.0.0.1 when HOST is every
    interface and no NODE_URL says how other machines reach this one."""
    if host.strip() in ALL_INTERFACES and not node_url.strip():
        return "127.0.0.1"
    return bind_host(host)


def worker_node_url(node_url: str, private_host: str, port: int) -> str:
    """A child's NODE_URL: NODE_URL's scheme, host and path with the child's own
    port; without NODE_URL, http://<private host>:<port>."""
    if not node_url.strip():
        return f"http://{url_host(private_host)}:{port}"
    parts = urlsplit(node_url.strip())
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{url_host(parts.hostname or private_host)}:{port}{path}"


def listener(host: str, port: int, *, shared: bool) -> socket.socket:
    """A bound TCP socket, not listening yet (the child's Hypercorn listens once started)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def public_port(host: str, port: int) -> int:
    """PORT, checked free (OSError if not); PORT=0: the one port the kernel picks."""
    with listener(host, port, shared=False) as probe:
        return int(probe.getsockname()[1])


def listen_fds(argv: list[str]) -> list[int] | None:
    """The sockets a worker inherited (`--listen-fds=3,4`), or None; ValueError if malformed."""
    for arg in argv:
        if arg.startswith(LISTEN_FDS):
            try:
                fds = [int(part) for part in arg.removeprefix(LISTEN_FDS).split(",")]
            except ValueError:
                raise ValueError(arg) from None
            if any(fd < 3 for fd in fds):  # 0-2 are stdin, stdout and stderr
                raise ValueError(arg)
            return fds
    return None
