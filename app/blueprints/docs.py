"""The documentation pages' assets, served by the app so `/docs` and `/redocs` work offline.

Swagger UI's files come from the `swagger-ui-py` package; ReDoc's bundle is
vendored in `app/static/redoc/` with its licence.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from quart import Blueprint, Quart, Response, send_from_directory
from quart_schema import hide, security_scheme
from werkzeug.exceptions import NotFound

from app.http.auth import public

blueprint = Blueprint("docs", __name__)

ASSETS_PATH = "/docs/assets"
# Browsers may keep them a day: they change only with a new release of the app.
MAX_AGE_SECONDS = 86_400


def _swagger_ui_folder() -> Path:
    # find_spec locates the package without running it (it imports web frameworks).
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


_REDOC = Path(__file__).resolve().parent.parent / "static" / "redoc"
_SWAGGER = _swagger_ui_folder()
# Only these are served: nothing else under those folders is reachable.
ASSETS: dict[str, Path] = {
    "swagger-ui-bundle.js": _SWAGGER,
    "swagger-ui.css": _SWAGGER,
    "swagger-ui-LICENSE": _SWAGGER,
    "redoc.standalone.js": _REDOC,
    "redoc-LICENSE": _REDOC,
}
_FILE_NAMES = {"swagger-ui-LICENSE": "LICENSE", "redoc-LICENSE": "LICENSE"}


def configure_docs(app: Quart) -> None:
    """Point quart-schema's /docs and /redocs pages at the assets served here."""
    app.config["QUART_SCHEMA_SWAGGER_JS_URL"] = f"{ASSETS_PATH}/swagger-ui-bundle.js"
    app.config["QUART_SCHEMA_SWAGGER_CSS_URL"] = f"{ASSETS_PATH}/swagger-ui.css"
    app.config["QUART_SCHEMA_REDOC_JS_URL"] = f"{ASSETS_PATH}/redoc.standalone.js"


@blueprint.get(f"{ASSETS_PATH}/<string:name>")
@public
@hide
@security_scheme([])
async def get_docs_asset(name: str) -> Response:
    """A file of the documentation pages."""
    folder = ASSETS.get(name)
    if folder is None:
        raise NotFound()
    response = await send_from_directory(folder, _FILE_NAMES.get(name, name))
    if name.endswith("LICENSE"):
        response.mimetype = "text/plain"
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE_SECONDS
    return response
