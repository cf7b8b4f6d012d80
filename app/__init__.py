"""Qari backend: the Quart app, its routes, settings and LiveKit gateway."""

from app.factory import create_app

__all__ = ["create_app"]
