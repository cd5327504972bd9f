"""A real Airflow (API server, scheduler, dag-processor) serving the connectors API, for the API tests."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Database, _create_database, _drop_database
from tests.support.airflow_server import AirflowServer, start_airflow
from tests.support.api_client import ApiClient

#: Users of the simple auth manager and their roles: what each may do is Airflow's decision.
USERS = {"admin": "admin", "viewer": "viewer", "editor": "user", "operator": "op"}
#: Playwright cannot download a browser of its own here: it drives the Debian package's.
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def airflow_metadata_db() -> Iterator[Database]:
    """Airflow's metadata DB on the real PostgreSQL: SQLite's single writer stalls task starts for tens of
    seconds when the scheduler, the dag-processor and the API server all write on a loaded machine."""
    db = _create_database("postgres")
    yield db
    _drop_database(db)


@pytest.fixture(scope="session")
def airflow_server(airflow_metadata_db: Database) -> Iterator[AirflowServer]:
    server = start_airflow(
        users=USERS,
        sql_alchemy_conn=airflow_metadata_db.sqlalchemy_url,
        # ATLAS_TEST_PARSE_INTERVAL=30 reproduces Airflow's default parse interval (see docs/api.md).
        parse_interval_seconds=int(os.environ.get("ATLAS_TEST_PARSE_INTERVAL", "2")),
    )
    try:
        server.run("atlas", "registry", "init")
        yield server
    finally:
        server.stop()
        if not os.environ.get("ATLAS_KEEP_AIRFLOW_HOME"):
            server.remove()


@pytest.fixture(scope="session")
def tokens(airflow_server: AirflowServer) -> dict[str, str]:
    return {user: airflow_server.token(user) for user in USERS}


@pytest.fixture(scope="session")
def client_for(airflow_server: AirflowServer, tokens: dict[str, str]) -> Callable[..., ApiClient]:
    """``client_for("viewer")``: that user's token; ``client_for(None)``: anonymous;
    ``client_for(token="…")`` or ``client_for(cookie="…")``: explicit credentials."""

    def make(user: str | None = None, *, token: str | None = None, cookie: str | None = None) -> ApiClient:
        return ApiClient(airflow_server, token or (tokens[user] if user else None), cookie)

    return make


@pytest.fixture(scope="session")
def admin(client_for) -> ApiClient:
    return client_for("admin")


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium (scripts/system-deps.sh installs it), driven by Playwright."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/system-deps.sh (make install does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()
