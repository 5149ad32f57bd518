"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) served with the API's own copies of their
scripts and styles, so the documentation needs no internet (FastAPI's pages use CDNs).

Swagger UI's validator badge, which would send the document to validator.swagger.io, is
switched off; ReDoc runs without Google Fonts.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/static/api-docs"

router = APIRouter(include_in_schema=False)


def static_files() -> StaticFiles:
    """The vendored files, mounted at ``STATIC_PATH``."""
    return StaticFiles(directory=STATIC_DIR)


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=_root(request) + request.app.openapi_url,
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{_root(request)}{STATIC_PATH}/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{_root(request)}{STATIC_PATH}/swagger-ui/swagger-ui.css",
        swagger_favicon_url=f"{_root(request)}{STATIC_PATH}/swagger-ui/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/redoc", response_class=HTMLResponse)
async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=_root(request) + request.app.openapi_url,
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{_root(request)}{STATIC_PATH}/redoc/redoc.standalone.js",
        redoc_favicon_url=f"{_root(request)}{STATIC_PATH}/swagger-ui/favicon-32x32.png",
        with_google_fonts=False,
    )


def _root(request: Request) -> str:
    """The path the API is mounted under behind a proxy (``root_path``), or nothing."""
    return request.scope.get("root_path", "").rstrip("/")
