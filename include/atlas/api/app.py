"""The connectors API as a FastAPI app, mounted by ``plugins/atlas_plugin.py`` at ``/atlas``.

Errors Atlas raises on purpose become JSON answers with the right status: an unknown connector is
404, a duplicate name 409, an invalid definition 422 with one entry per bad field, an unreachable
registry 503. Their messages never carry a secret (specs hold none; intake masks what it echoes).
"""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from atlas.api.docs import install_docs
from atlas.api.routes import router
from atlas.api.ui import install_ui
from atlas.exceptions import (
    AtlasError,
    ConnectorConfigError,
    ConnectorNotFound,
    DuplicateConnector,
    RegistryUnavailable,
)

_STATUS = {
    ConnectorNotFound: status.HTTP_404_NOT_FOUND,
    DuplicateConnector: status.HTTP_409_CONFLICT,
    RegistryUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    AtlasError: status.HTTP_400_BAD_REQUEST,
}


def _config_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ConnectorConfigError)
    detail = [{"loc": path.split(".") if path else [], "msg": msg} for path, msg in exc.errors]
    return JSONResponse(
        {"detail": detail, "connector": exc.connector, "message": str(exc)},
        status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
    )


def _request_error(_: Request, exc: Exception) -> JSONResponse:
    # FastAPI's default answer echoes the offending input, which may be a credential: keep the paths only.
    assert isinstance(exc, RequestValidationError)
    detail = [{"loc": [str(p) for p in err["loc"]], "msg": err["msg"]} for err in exc.errors()]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_ENTITY)


def _atlas_error(_: Request, exc: Exception) -> JSONResponse:
    code = next(code for cls, code in _STATUS.items() if isinstance(exc, cls))
    return JSONResponse({"detail": str(exc)}, status_code=code)


def create_app() -> FastAPI:
    app = FastAPI(
        title="Atlas connectors",
        summary="Create, test, sync and inspect Atlas connectors (one Airflow DAG each).",
        description=(
            "Served by Airflow's API server under `/atlas`. Authenticate like `/api/v2`: "
            "`POST /auth/token` and send `Authorization: Bearer <token>`, or use the UI's session."
        ),
        version="1",
        # Served from local assets by install_docs: FastAPI's default pages load them from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(router)
    install_docs(app)
    install_ui(app)
    app.add_exception_handler(RequestValidationError, _request_error)
    app.add_exception_handler(ConnectorConfigError, _config_error)
    app.add_exception_handler(AtlasError, _atlas_error)
    return app
