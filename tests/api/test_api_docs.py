"""docs/api.md's walkthrough runs as written, and the API's docs pages work without internet."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from playwright.sync_api import Route, expect

from tests.conftest import REPO

pytestmark = pytest.mark.airflow_server


def walkthrough() -> str:
    text = (REPO / "docs" / "api.md").read_text()
    match = re.search(r"<!-- walkthrough.*?-->\n```bash\n(.*?)```", text, re.DOTALL)
    assert match, "docs/api.md lost its walkthrough block"
    return match.group(1)


def test_walkthrough_runs_against_a_real_server(airflow_server) -> None:
    # The doc is written for `make demo`; only where it runs and the names (unique per test) change.
    suffix = secrets.token_hex(3)
    database, name = f"atlas_doc_{suffix}", f"doc_walk_{suffix}"
    script = (
        walkthrough()
        .replace("BASE=http://localhost:8080", f"BASE={airflow_server.base_url}")
        .replace("mydb", database)
        .replace("my_database", name)
    )
    # Standalone writes the admin password there; the harness knows its users' passwords already.
    shutil.copy(
        airflow_server.home / "passwords.json", airflow_server.home / "simple_auth_manager_passwords.json.generated"
    )
    try:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            env=airflow_server.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'],
            capture_output=True,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"ok":true' in done.stdout.replace(" ", ""), done.stdout
    assert '"dag_run_id"' in done.stdout
    # The last command prints the newest history entry: the sync of both rows.
    assert '"state": "success"' in done.stdout and '"rows_written": 2' in done.stdout, done.stdout + done.stderr


class _Urls(HTMLParser):
    """Every URL an HTML page makes the browser load (src/href attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def test_docs_page_loads_every_asset_from_this_server(airflow_server) -> None:
    """FastAPI's default page loads swagger-ui from a CDN: blank offline. Ours must not."""
    resp = requests.get(airflow_server.base_url + "/atlas/docs", timeout=30)
    assert resp.status_code == 200
    parser = _Urls()
    parser.feed(resp.text)
    assets = [urljoin(resp.url, url) for url in parser.urls]
    assert any(a.endswith(".js") for a in assets), assets
    # No other host anywhere in the page, not even in its inline script (fonts, validator badge, CDN).
    local = urlsplit(airflow_server.base_url).netloc
    assert [u for u in re.findall(r"https?://[^\s'\"<>)]+", resp.text) if urlsplit(u).netloc != local] == []
    for asset in assets:
        assert urlsplit(asset).netloc == local, asset
        fetched = requests.get(asset, timeout=30)
        assert fetched.status_code == 200, asset
        assert len(fetched.content) > 1000, asset


@pytest.mark.browser
def test_swagger_ui_renders_with_the_network_cut_off(browser, airflow_server) -> None:
    """In Chromium, with every request to another host refused, the page renders the endpoints."""
    local = urlsplit(airflow_server.base_url).netloc
    refused: list[str] = []

    def only_local(route: Route) -> None:
        if urlsplit(route.request.url).netloc == local:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context = browser.new_context()
    try:
        context.route("**/*", only_local)
        page = context.new_page()
        page.goto(airflow_server.base_url + "/atlas/docs")
        expect(page.locator(".opblock-summary-path").filter(has_text="/connectors/{connector}/sync")).to_be_visible()
        assert page.locator(".opblock").count() >= 10
    finally:
        context.close()
    assert refused == []
