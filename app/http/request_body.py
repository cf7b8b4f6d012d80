"""The request class: a JSON body that cannot be used is a 422 `validation_error`.

Quart answers Werkzeug's bare 400 for JSON it cannot parse, and a 500 for JSON
nested deeper than the parser's recursion limit; the contract (and the earlier
FastAPI service) says 422 for both. A body sent without `Content-Type:
application/json` is not read as JSON at all: that is said too, instead of
"not an object". And no text in a body may hold NUL, checked here once for
every route: PostgreSQL cannot store it, and a token must not carry it.

A body that has fully arrived is read without Quart's `asyncio.wait_for`
(a task and a turn of the event loop per request, on the token and webhook
routes alike); one still arriving is waited for as Quart waits.
"""

from __future__ import annotations

import functools
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


@functools.lru_cache(maxsize=1024)
def _blueprints_of(endpoint: str) -> list[str]:
    """The blueprint of `endpoint` and its parents, innermost first (Quart's order).
    Endpoints are the app's URL rules' (a fixed set), so the cache stays small."""
    if "." not in endpoint:
        return []
    names = [endpoint.rpartition(".")[0]]
    while "." in names[-1]:
        names.append(names[-1].rpartition(".")[0])
    return names


class ApiRequest(Request):
    """Quart's request, with a body that fails to parse as JSON reported as the client's error."""

    @property
    def blueprints(self) -> list[str]:
        """Quart's, worked out once per endpoint (it is asked twice a request, each
        time importing and splitting); the list is shared, as Flask's, never changed."""
        endpoint = self.endpoint
        if endpoint is None:
            return []
        return _blueprints_of(endpoint)

    async def get_data(  # type: ignore[override]
        self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False
    ) -> str | bytes:
        body = self.body
        # Quart's Body keeps the bytes until `_complete` is set, and an error to
        # raise (a body over the limit) in `_must_raise`; awaiting a complete body
        # returns `bytes(_data)`. Anything else (or another Quart) takes its path.
        complete = getattr(body, "_complete", None)
        if (
            parse_form_data
            or complete is None
            or not complete.is_set()
            or getattr(body, "_must_raise", True) is not None
        ):
            return await super().get_data(cache, as_text, parse_form_data)
        raw_data = bytes(body._data)
        if not cache:
            body.clear()
        return raw_data.decode() if as_text else raw_data

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
