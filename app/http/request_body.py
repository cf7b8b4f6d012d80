"""The request class: a JSON body that cannot be used is a 422 `validation_error`.

Quart answers Werkzeug's bare 400 for JSON it cannot parse, and a 500 for JSON
nested deeper than the parser's recursion limit; the contract (and the earlier
FastAPI service) says 422 for both. A body sent without `Content-Type:
application/json` is not read as JSON at all: that is said too, instead of
"not an object". And no text in a body may hold NUL, checked here once for
every route: PostgreSQL cannot store it, and a token must not carry it.
"""

from __future__ import annotations

from typing import Any

from quart.wrappers import Request

from app.http.errors import BODY, APIError, field_error, invalid_request


def _not_json(detail: str, kind: str) -> APIError:
    return invalid_request(field_error([BODY], detail, kind))


def nul_at(value: Any) -> list[str] | None:
    """Where a NUL is in a JSON value (keys included), as a path; None when nowhere.

    Iterative: a body may be nested as deep as the JSON parser allows.
    """
    stack: list[tuple[list[str], Any]] = [([], value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    return path  # the key itself cannot be named
                stack.append(([*path, key], child))
        elif isinstance(item, list):
            stack.extend(([*path, str(index)], child) for index, child in enumerate(item))
    return None


class ApiRequest(Request):
    """Quart's request, with a body that fails to parse as JSON reported as the client's error."""

    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        if not (force or silent or self.is_json) and await self.get_data(cache=True):
            raise _not_json(
                "The body must be JSON, sent with Content-Type: application/json.",
                "content_type",
            )
        try:
            data = await super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            raise _not_json("The JSON body is nested too deeply.", "json_too_deep") from None
        except UnicodeDecodeError:
            raise _not_json("The body is not UTF-8 JSON.", "json_invalid") from None
        where = nul_at(data)
        if where is not None and not silent:
            raise invalid_request(
                field_error([BODY, *where], "NUL (\\u0000) is not allowed in text", "string_nul")
            )
        return data

    def on_json_loading_failed(self, error: Exception) -> Any:
        # The parser's message names the position only, never the body's content.
        raise _not_json(f"The body is not valid JSON: {error}", "json_invalid")
