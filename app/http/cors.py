"""CORS for the dApp: the origins in `CORS_ORIGINS` may call the API from a browser.

Preflights are answered here, before authentication (browsers send them
without credentials). Credentials travel in `Authorization`, never in
cookies, so `Access-Control-Allow-Credentials` is not needed. With
`CORS_ORIGINS` empty nothing here runs: no CORS headers at all.
"""

from __future__ import annotations

from quart import Quart, Response, request

ALLOWED_METHODS = "GET, POST, PATCH, DELETE, OPTIONS"
# X-Request-ID: a dApp may send its own, to find its request in the service's log.
ALLOWED_HEADERS = "Authorization, Content-Type, X-Request-ID"
# What a browser script may read besides the simple headers (X-Request-ID: to
# quote the request when reporting a problem).
EXPOSED_HEADERS = "Retry-After, WWW-Authenticate, X-Request-ID"
PREFLIGHT_MAX_AGE = "600"


def install_cors(app: Quart, origins: frozenset[str]) -> None:
    """Answer preflights and add CORS headers for the allowed origins."""
    if not origins:
        return

    @app.before_request
    async def answer_preflight() -> Response | None:
        is_preflight = request.method == "OPTIONS" and (
            "Access-Control-Request-Method" in request.headers
        )
        if not is_preflight:
            return None
        # Answered for any origin, so no preflight reaches the auth guard; only
        # an allowed origin gets the headers that let the browser go on.
        response = Response("", status=204)
        origin = request.headers.get("Origin", "")
        if origin in origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        response.vary.add("Origin")
        return response

    @app.after_request
    async def add_cors_headers(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if origin in origins and "Access-Control-Allow-Origin" not in response.headers:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        response.vary.add("Origin")
        return response
