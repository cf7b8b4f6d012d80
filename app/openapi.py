"""The OpenAPI document, as quart-schema builds it plus what it leaves out."""

from __future__ import annotations

from typing import Any

from quart_schema.openapi import OpenAPIProvider
from quart_schema.typing import Model
from quart_schema.validation import DataSource


class QariOpenAPIProvider(OpenAPIProvider):
    """Marks JSON request bodies as required, as the routes treat them."""

    def build_request_body(
        self, model: type[Model], source: DataSource
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        request_body, components = super().build_request_body(model, source)
        request_body["required"] = True
        return request_body, components
