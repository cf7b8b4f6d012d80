"""Qari backend: the Quart app, its routes, settings and LiveKit gateway."""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # `hypercorn app:create_app()` still finds the factory, but importing the
    # package (as `python -m app` and `python -m app.upgrade` do) does not load
    # the whole app: a wrong setting is reported in a fraction of the time.
    if name == "create_app":
        from app.factory import create_app

        return create_app
    raise AttributeError(name)
