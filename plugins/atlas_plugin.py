"""Serves the Atlas connectors API inside Airflow's API server, at ``/atlas``, and puts its Connectors page
in the Airflow UI's nav (see docs/api.md)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from atlas.api.app import create_app
from atlas.api.ui import ASSETS_PATH, PAGE_PATH

_PREFIX = "/atlas"


class AtlasPlugin(AirflowPlugin):
    name = "atlas"
    fastapi_apps = [{"app": create_app(), "url_prefix": _PREFIX, "name": "Atlas connectors API"}]
    # A nav entry whose page the Airflow UI shows in an iframe at /plugin/atlas-connectors.
    external_views = [
        {
            "name": "Connectors",
            "href": _PREFIX + PAGE_PATH,
            "url_route": "atlas-connectors",
            "destination": "nav",
            "nav_top_level": True,
            "icon": f"{_PREFIX}{ASSETS_PATH}/connectors.svg",
        }
    ]
