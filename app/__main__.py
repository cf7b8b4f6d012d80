"""`python -m app`: serve with Hypercorn, `hypercorn.toml` plus HOST and PORT from settings."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from hypercorn.asyncio import serve
from hypercorn.config import Config

from app.factory import create_app
from app.settings import Settings

CONFIG_FILE = Path(__file__).resolve().parent.parent / "hypercorn.toml"


async def main() -> None:
    settings = Settings()
    config = Config.from_toml(CONFIG_FILE)
    config.bind = [f"{settings.host}:{settings.port}"]
    # Hypercorn's own lines go through the app's redacting handler too.
    config.errorlog = logging.getLogger("hypercorn.error")
    shutdown = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, shutdown.set)
    await serve(create_app(settings), config, shutdown_trigger=shutdown.wait)


if __name__ == "__main__":
    asyncio.run(main())
