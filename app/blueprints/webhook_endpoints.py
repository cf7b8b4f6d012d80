"""Outbound webhook endpoints: /v1/webhook-endpoints (DESIGN.md section 7)."""

from quart import Blueprint

blueprint = Blueprint("webhook_endpoints", __name__)
