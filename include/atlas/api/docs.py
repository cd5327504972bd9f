"""Swagger UI (``/docs``) of the connectors API, with assets this app serves itself.

FastAPI's default page loads swagger-ui from a CDN, so on a machine without internet it stays blank.
The bundle here is the one packaged in ``fastapi_offline`` (swagger-ui 5, which renders the OpenAPI
3.1 document FastAPI writes), mounted under ``/static/docs``. There is no ReDoc page: its bundle
fetches its logo from cdn.redoc.ly, whatever its options. Every URL a page references
is relative to where the app is mounted (``/atlas`` in Airflow's API server), taken from the request's
``root_path``.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
ASSETS_PATH = "/static/docs"


def _root(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/")


def install_docs(app: FastAPI) -> None:
    """Add ``/docs`` and ``/docs/oauth2-redirect`` to ``app`` (created with both docs URLs None)."""
    assert app.openapi_url and app.docs_url is None and app.redoc_url is None
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    openapi_url, oauth2_redirect_url = app.openapi_url, "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=root + oauth2_redirect_url,
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            # The validator badge would send the document to validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(oauth2_redirect_url, include_in_schema=False)
    def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
