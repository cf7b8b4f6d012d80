"""The live feed: GET /v1/events (DESIGN.md section 7)."""

from quart import Blueprint

blueprint = Blueprint("events", __name__)
