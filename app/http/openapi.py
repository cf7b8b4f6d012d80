"""The OpenAPI document, as quart-schema builds it plus what it leaves out.

- operationIds are the handlers' names (`create_room`, `list_rooms`, ...), one
  per operation: a rule that only adds a trailing slash (`/v1/rooms/`) is an
  alias of its twin and is not documented twice.
- Responses without a body model (204, `/metrics`' text) are documented too.
- JSON request bodies are required, as the routes treat them.
- Every operation is tagged with its resource, by the blueprint that serves it
  (so `/docs` groups them), here in one place rather than on each route.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from quart_schema.openapi import OpenAPIProvider
from quart_schema.typing import Model
from quart_schema.validation import DataSource
from werkzeug.routing import Rule

F = TypeVar("F", bound=Callable[..., Any])

_PLAIN_RESPONSES_ATTR = "qari_plain_responses"

# Blueprint -> (tag, description), in the order `/docs` shows them. A blueprint
# not listed is tagged with its own name.
TAGS: dict[str, tuple[str, str]] = {
    "rooms": ("rooms", "Create, list, change and delete rooms."),
    "tokens": ("tokens", "Join tokens for a room (capacity, gating, bans)."),
    "presence": ("participants", "Who is in a room now, and its past sessions."),
    "moderation": ("moderation", "Remove, ban, mute and change participants; end a meeting."),
    "lobby": ("lobby", "Knockers poll their ticket; the room's hosts admit or deny them."),
    "webhook_endpoints": (
        "webhook endpoints",
        "Outbound webhooks: where events are sent, signed (Standard Webhooks).",
    ),
    "events": ("events", "The live feed of events (server-sent events)."),
    "recordings": ("recordings", "Start, stop and list a room's recordings (LiveKit Egress)."),
    "auth": ("wallet sign-in", "Sign-In with Ethereum: nonces, wallet sessions."),
    "webhooks": ("livekit webhook", "Events from the LiveKit server (signed by LiveKit)."),
    "health": ("health", "Liveness and readiness, without a credential."),
    "ops": ("ops", "What the service is doing inside, for a service key."),
    "metrics": ("metrics", "Prometheus metrics, for a service key."),
}


def documents_plain_response(
    status: int, description: str, content_type: str | None = None
) -> Callable[[F], F]:
    """Document a response that has no JSON model: a 204, or a body of another type."""

    def decorate(view: F) -> F:
        responses: dict[int, dict[str, Any]] = dict(getattr(view, _PLAIN_RESPONSES_ATTR, {}))
        response: dict[str, Any] = {"description": description}
        if content_type is not None:
            response["content"] = {content_type: {"schema": {"type": "string"}}}
        responses[status] = response
        setattr(view, _PLAIN_RESPONSES_ATTR, responses)
        return view

    return decorate


class QariOpenAPIProvider(OpenAPIProvider):
    """quart-schema's provider with clean operationIds and every response documented."""

    def generate_rules(self) -> Iterable[Rule]:
        rules = list(super().generate_rules())
        documented = {(rule.endpoint, rule.rule) for rule in rules}
        for rule in rules:
            twin = rule.rule.rstrip("/")
            if rule.rule.endswith("/") and twin and (rule.endpoint, twin) in documented:
                continue  # an alias with a trailing slash: same operation
            yield rule

    def schema(self) -> dict[str, Any]:
        document = super().schema()
        used = {
            tag
            for operations in document["paths"].values()
            for operation in operations.values()
            for tag in operation.get("tags", [])
        }
        described = [
            {"name": tag, "description": description}
            for tag, description in TAGS.values()
            if tag in used
        ]
        listed = {entry["name"] for entry in described}
        document["tags"] = described + [{"name": tag} for tag in sorted(used - listed)]
        return document

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        func = self._app.view_functions[rule.endpoint]
        plain = getattr(func, _PLAIN_RESPONSES_ATTR, {})
        blueprint = rule.endpoint.rpartition(".")[0]
        tag = TAGS.get(blueprint, (blueprint, ""))[0] if blueprint else None
        for operations in paths.values():
            for operation in operations.values():
                # build_paths shares one responses dict between methods: copy before adding.
                operation["responses"] = {**operation["responses"], **plain}
                if tag and not operation.get("tags"):
                    operation["tags"] = [tag]
        return paths, components

    def operation_id(self, method: str, path: str, func: Callable[..., Any]) -> str | None:
        # Each handler serves one method, so its name is its operation (verb_noun).
        return func.__name__

    def build_request_body(
        self, model: type[Model], source: DataSource
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        request_body, components = super().build_request_body(model, source)
        request_body["required"] = True
        return request_body, components
