"""The Connectors page: a status page of every connector, shown inside the Airflow UI, behind its login.

``plugins/atlas_plugin.py`` registers the page as an Airflow ``external_views`` entry in the nav, so the
Airflow UI shows it in an iframe at ``/plugin/atlas-connectors``. The page's HTML goes only to an
authenticated caller — the UI session's ``_token`` cookie reaches the iframe, which is on the same
origin — and anyone else is redirected to Airflow's login page. Everything the page shows it fetches
from the connectors API (``/connectors/…``), which checks the same credentials and the caller's
permissions per connector. The script and the stylesheet hold no data and are served without login,
like Airflow's own UI assets. No build step and no CDN: plain HTML, CSS and JavaScript, offline.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Annotated

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.core_api.security import bearer_scheme, get_user
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.staticfiles import StaticFiles

#: Where the page is, under the app's mount point (``/atlas``).
PAGE_PATH = "/ui/connectors"
ASSETS_PATH = "/static/ui"
_HERE = Path(__file__).parent
_PAGE = _HERE / "pages" / "connectors.html"


async def _user_or_none(
    request: Request, bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> BaseUser | None:
    """The caller as Airflow authenticates API requests (bearer token, else the UI's cookie), or None."""
    try:
        return await get_user(request, None, bearer)
    except HTTPException:
        return None


def install_ui(app: FastAPI) -> None:
    """Add the Connectors page and its assets to ``app``."""
    app.mount(ASSETS_PATH, StaticFiles(directory=_HERE / "static" / "ui"), name="ui-assets")

    @app.get(PAGE_PATH, include_in_schema=False, response_class=HTMLResponse)
    def connectors_page(request: Request, user: Annotated[BaseUser | None, Depends(_user_or_none)]) -> Response:
        if user is None:
            login = get_auth_manager().get_url_login(next_url=str(request.url))
            return RedirectResponse(login, status_code=303)
        root = html.escape(request.scope.get("root_path", "").rstrip("/"))
        page = _PAGE.read_text().replace("{{root}}", root).replace("{{user}}", html.escape(user.get_name()))
        # A page naming the user must not be cached for anyone else.
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})
