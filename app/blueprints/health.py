"""Liveness, readiness and the welcome page."""

from __future__ import annotations

import logging

from pydantic import BaseModel
from quart import Blueprint
from quart_schema import security_scheme, validate_response

from app.http.auth import public
from app.http.database_budget import database_work
from app.services import services
from app.version import VERSION
from models.readiness import probe_tables

log = logging.getLogger(__name__)

blueprint = Blueprint("health", __name__)


class Welcome(BaseModel):
    service: str
    docs: str
    openapi: str


class Health(BaseModel):
    status: str
    # The installed package's version, as in the OpenAPI info.
    version: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


@blueprint.get("/")
@public
@security_scheme([])
@validate_response(Welcome)
async def get_welcome() -> Welcome:
    """Welcome.

    A pointer to the interactive API documentation.
    """
    return Welcome(service="Qari backend", docs="/docs", openapi="/openapi.json")


@blueprint.get("/v1/health")
@public
@security_scheme([])
@validate_response(Health)
async def get_health() -> Health:
    """Liveness.

    Answers as long as the process serves requests, with the running version.
    """
    return Health(status="ok", version=VERSION)


async def _check_database() -> None:
    """Our tables can be read and written now; within DATABASE_TIMEOUT_SECONDS."""
    if not services().database_open:
        raise ConnectionError("database is not open")
    async with database_work():
        await probe_tables(services().database)


@blueprint.get("/v1/health/ready")
@public
@security_scheme([])
@validate_response(Readiness, 200)
@validate_response(Readiness, 503)
async def get_readiness() -> tuple[Readiness, int]:
    """Readiness.

    200 when every dependency answers, else 503; `checks` names each one.
    The database check reads and writes nothing but must be able to: it
    waits, at most DATABASE_TIMEOUT_SECONDS, for the locks our writes take on
    the service's tables, so a table locked elsewhere makes the service not
    ready.
    """
    try:
        await _check_database()
    except Exception as error:  # any failure means "not ready"; the reason stays in our logs
        log.warning("not ready: database: %s", type(error).__name__)
        checks = {"database": "unavailable"}
    else:
        checks = {"database": "ok"}
    ready = all(value == "ok" for value in checks.values())
    status = 200 if ready else 503
    return Readiness(status="ok" if ready else "unavailable", checks=checks), status
