"""Serves the Atlas connectors API inside Airflow's API server, at ``/atlas`` (see docs/api.md)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from atlas.api.app import create_app


class AtlasPlugin(AirflowPlugin):
    name = "atlas"
    fastapi_apps = [{"app": create_app(), "url_prefix": "/atlas", "name": "Atlas connectors API"}]
