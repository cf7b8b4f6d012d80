"""`python -m app`: serve with Hypercorn, `hypercorn.toml` plus HOST and PORT from settings.

What stops start-up is said in one line each, with no traceback: wrong
settings (exit status 2), a database that cannot be used as it is, or an
address that cannot be bound (exit status 1).

With WORKERS > 1 (PostgreSQL) this process is instead the supervisor of that
many node processes behind HOST:PORT (app/cluster/workers.py); each of them is
`python -m app --listen-fds=PUBLIC,PRIVATE`, serving the sockets it inherited.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

# Only settings before they are known good: a wrong one is reported without
# first importing the whole app (Quart, Tortoise, LiveKit), in a fraction of the time.
from app.settings import Settings, load_settings
from app.settings_errors import SettingsError, report_settings_error

if TYPE_CHECKING:
    from hypercorn.config import Config

CONFIG_FILE = Path(__file__).resolve().parent.parent / "hypercorn.toml"
EXIT_STARTUP = 1
EXIT_SETTINGS = 2

log = logging.getLogger("qari.startup")


def hypercorn_config(settings: Settings, fds: list[int] | None = None) -> Config:
    """`fds`: sockets already bound (a worker's, from its supervisor), served instead."""
    from hypercorn.config import Config

    config = Config.from_toml(CONFIG_FILE)
    config.bind = [f"fd://{fd}" for fd in fds] if fds else [f"{settings.host}:{settings.port}"]
    # Hypercorn's own lines go through the app's redacting handler, once: a
    # Logger here makes Hypercorn log to it instead of adding a handler of its own.
    config.errorlog = logging.getLogger("hypercorn.error")
    # One access line per request comes from the app (it knows the route and the
    # request id); Hypercorn's would be a second, unredacted one.
    config.accesslog = None
    return config


async def main(settings: Settings, fds: list[int] | None = None) -> None:
    from hypercorn.asyncio import serve

    from app.factory import create_app
    from app.lifecycle import note_shutdown_requested

    app = create_app(settings)
    shutdown = asyncio.Event()
    loop = asyncio.get_running_loop()

    def request_shutdown() -> None:
        # Shutdown's bound (SHUTDOWN_DRAIN_SECONDS + DATABASE_TIMEOUT_SECONDS)
        # counts from the signal.
        if not shutdown.is_set():
            note_shutdown_requested(app)
        shutdown.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, request_shutdown)
    await serve(app, hypercorn_config(settings, fds), shutdown_trigger=shutdown.wait)
    # Stopped: a signal repeated now (a supervisor passing on the one its service
    # manager also sent here) changes nothing, rather than killing the process as
    # it exits once the loop has given the signals back to their defaults.
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(signum)
        signal.signal(signum, signal.SIG_IGN)


def run() -> int:
    try:
        settings = load_settings()
    except SettingsError as error:
        return report_settings_error(error)
    from app.cluster.worker_addresses import listen_fds
    from app.cluster.workers import supervise

    try:
        fds = listen_fds(sys.argv[1:])
    except ValueError as error:
        print(f"qari: {error} is not --listen-fds=FD,FD (a worker's sockets)", file=sys.stderr)
        return EXIT_SETTINGS
    if settings.workers > 1:
        return supervise(settings)
    from hypercorn.utils import LifespanFailureError

    try:
        asyncio.run(main(settings, fds))
    except LifespanFailureError:
        return EXIT_STARTUP  # the lifecycle (or, for a bug, Quart) has logged why

    except OSError as error:  # the address is taken, or not ours to bind
        log.error("cannot listen on %s:%s: %s", settings.host, settings.port, error.strerror)
        return EXIT_STARTUP
    return 0


if __name__ == "__main__":
    sys.exit(run())
