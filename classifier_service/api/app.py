"""The FastAPI application: routes, the store connection, and how errors are answered.

Bad parameters get a 400 with a readable ``detail`` (the alerce client raises it as a
``ParseError``), unknown objects a 404, and a store that fails (down, locked, missing
tables, a statement over its time limit) a 503 with ``Retry-After`` and the cause logged,
so no request ends in a bare 500. Load is bounded by the gate (``gate.py``).
"""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from classifier_service.api import docs_routes, lsst_routes, stamp_routes, ztf_routes
from classifier_service.api.db import Limits, read_only_engine
from classifier_service.api.gate import PATTERN_MEANINGS, Gate
from classifier_service.api.objects import QueryError
from classifier_service.api.schemas import Error

log = logging.getLogger(__name__)

ERROR_RESPONSES = {
    400: {"model": Error, "description": "Bad parameters"},
    404: {"model": Error, "description": "Not found"},
    503: {"model": Error, "description": "The store is unavailable"},
}


def create_app(store: str | Engine, limits: Limits | None = None) -> FastAPI:
    """The API over the store at ``store`` (a sqlite:/// or postgresql:// URL, or an engine).

    ``limits`` default to ``Limits.from_environment()``. An engine passed in is used as it
    is: its pool should hold ``limits.concurrency`` connections, as ``read_only_engine``'s does.
    """
    limits = limits or Limits.from_environment()
    app = FastAPI(
        title="ALeRCE-compatible classifier_service API",
        description="ALeRCE's ZTF API (ztf/v1 and its stamp route) and LSST API (object_api, "
                    "lightcurve_api, probability_api, stamps_api) over a classifier_service "
                    "store; point the alerce client here with ALERCE_CONFIG_PATH.",
        version="1.0.0",
        responses=ERROR_RESPONSES,
        docs_url=None, redoc_url=None,  # docs_routes serves them with local assets
    )
    app.state.engine = read_only_engine(store, limits) if isinstance(store, str) else store
    app.state.limits = limits
    app.include_router(ztf_routes.router)
    app.include_router(ztf_routes.v2_router)
    app.include_router(stamp_routes.router)
    app.include_router(lsst_routes.object_router)
    app.include_router(lsst_routes.lightcurve_router)
    app.include_router(lsst_routes.probability_router)
    app.include_router(stamp_routes.ms_router)
    app.include_router(docs_routes.router)
    app.mount(docs_routes.STATIC_PATH, docs_routes.static_files(), name="api-docs")
    app.add_exception_handler(RequestValidationError, _bad_parameters)
    app.add_exception_handler(QueryError, _bad_query)
    app.add_exception_handler(SQLAlchemyError, _store_unavailable)
    app.add_middleware(Gate, limits=limits)
    app.openapi = lambda: _openapi_without_422(app)
    return app


def _openapi_without_422(app: FastAPI) -> dict:
    """FastAPI documents 422 for bad parameters; this API answers 400 (as ALeRCE's does)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
        for path in schema["paths"].values():
            for operation in path.values():
                operation.get("responses", {}).pop("422", None)
        app.openapi_schema = schema
    return app.openapi_schema


async def _bad_parameters(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{"loc": list(e.get("loc", ())), "msg": _in_words(e)} for e in exc.errors()]
    detail = "; ".join(f"{'.'.join(map(str, e['loc'][1:])) or 'request'}: {e['msg']}"
                       for e in errors)
    return JSONResponse(status_code=400, content={"detail": detail, "errors": errors})


def _in_words(error: dict) -> str:
    """pydantic's message, except a pattern's regex: what the parameter must be instead."""
    pattern = (error.get("ctx") or {}).get("pattern")
    return PATTERN_MEANINGS.get(pattern) or str(error.get("msg", ""))


async def _bad_query(_request: Request, exc: QueryError) -> JSONResponse:
    return JSONResponse(status_code=400, content={"detail": str(exc), "errors": []})


async def _store_unavailable(request: Request, exc: SQLAlchemyError) -> JSONResponse:
    log.error("store query failed for %s %s: %s", request.method, request.url.path, exc)
    limits: Limits = request.app.state.limits
    detail = "the store is unavailable; try again later"
    if _cancelled(exc):
        detail = (f"the query ran past its {limits.statement_timeout_s:g} s limit; "
                  "narrow it with filters")
    return JSONResponse(status_code=503, content={"detail": detail, "errors": []},
                        headers={"Retry-After": str(limits.retry_after_s)})


def _cancelled(exc: SQLAlchemyError) -> bool:
    """A statement stopped by its time limit (PostgreSQL's QueryCanceled, SQLite's interrupt)."""
    if not isinstance(exc, DBAPIError):
        return False
    return (getattr(exc.orig, "pgcode", None) == "57014"
            or str(exc.orig) == "interrupted")
