"""The OpenAPI document, as quart-schema builds it plus what it leaves out.

- operationIds are the handlers' names (`create_room`, `list_rooms`, ...), one
  per operation: a rule that only adds a trailing slash (`/v1/rooms/`) is an
  alias of its twin and is not documented twice.
- Responses without a body model (204, `/metrics`' text) are documented too.
- JSON request bodies are required, as the routes treat them.
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

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        func = self._app.view_functions[rule.endpoint]
        plain = getattr(func, _PLAIN_RESPONSES_ATTR, {})
        for operations in paths.values():
            for operation in operations.values():
                # build_paths shares one responses dict between methods: copy before adding.
                operation["responses"] = {**operation["responses"], **plain}
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
