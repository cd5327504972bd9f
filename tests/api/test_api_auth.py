"""Authentication and authorization of the connectors API, decided by Airflow's own auth manager."""

from __future__ import annotations

import pytest

from tests.support.api_client import inline_body, new_secret

pytestmark = pytest.mark.airflow_server

#: Every endpoint, with a connector path filled in later.
ENDPOINTS = [
    ("GET", "/connectors/types"),
    ("GET", "/connectors/"),
    ("POST", "/connectors/"),
    ("GET", "/connectors/{c}"),
    ("PUT", "/connectors/{c}"),
    ("DELETE", "/connectors/{c}"),
    ("POST", "/connectors/{c}/test"),
    ("POST", "/connectors/{c}/sync"),
    ("GET", "/connectors/{c}/history"),
    ("GET", "/connectors/{c}/schema"),
]


@pytest.fixture(scope="module")
def connector(admin) -> str:
    """A connector owned by admin, with inline credentials (so an Airflow Connection exists)."""
    body = inline_body(
        "postgresql",
        "auth_probe",
        table="public.nothing",
        host="127.0.0.1",
        port=5432,
        database="postgres",
        username="postgres",
        password=new_secret("auth-probe-pw"),
    )
    resp = admin.post("/connectors/", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()["connector_id"]


def test_openapi_lists_every_endpoint(client_for) -> None:
    resp = client_for(None).get("/atlas/openapi.json")
    assert resp.status_code == 200
    paths = resp.json()["paths"]
    for method, path in ENDPOINTS:
        assert method.lower() in paths[path.replace("{c}", "{connector}")], (method, path)
    # The Swagger page is served too, under the same prefix.
    assert "swagger-ui" in client_for(None).get("/atlas/docs").text


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_no_credentials_is_401(client_for, connector, method, path) -> None:
    resp = client_for(None).request(method, path.format(c=connector), json={})
    assert resp.status_code == 401, resp.text


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_invalid_token_is_403(client_for, connector, method, path) -> None:
    resp = client_for(token="not.a.jwt").request(method, path.format(c=connector), json={})
    assert resp.status_code == 403, resp.text


def test_ui_session_cookie_is_accepted(client_for, tokens, connector) -> None:
    resp = client_for(cookie=tokens["viewer"]).get(f"/connectors/{connector}")
    assert resp.status_code == 200, resp.text
    assert resp.json()["connector_id"] == connector


def test_viewer_reads_but_cannot_change(client_for, connector) -> None:
    viewer = client_for("viewer")
    for path in ("/connectors/types", "/connectors/", f"/connectors/{connector}", f"/connectors/{connector}/history"):
        assert viewer.get(path).status_code == 200, path
    denied = [
        viewer.post("/connectors/", json={"source_type": "postgresql", "source_name": "x", "conn_id": "y"}),
        viewer.put(f"/connectors/{connector}", json={"schedule_cron": "0 * * * *"}),
        viewer.delete(f"/connectors/{connector}"),
        viewer.post(f"/connectors/{connector}/test"),
        viewer.post(f"/connectors/{connector}/sync"),
    ]
    assert [r.status_code for r in denied] == [403] * len(denied), [r.text for r in denied]
    assert viewer.get(f"/connectors/{connector}").status_code == 200  # still there, unchanged


def test_writing_credentials_needs_connection_access(client_for, admin) -> None:
    """Role 'user' may edit DAGs but not connections: inline credentials are refused, conn_id is not."""
    editor = client_for("editor")
    inline = inline_body(
        "mysql",
        "editor_inline",
        table="user",
        host="127.0.0.1",
        port=3306,
        database="mysql",
        username="root",
        password=new_secret("editor-pw"),
    )
    resp = editor.post("/connectors/", json=inline)
    assert resp.status_code == 403, resp.text
    assert "connection" in resp.json()["detail"]
    assert admin.get("/connectors/editor_inline").status_code == 404  # nothing was written

    by_reference = {
        "source_type": "mysql",
        "source_name": "editor_ref",
        "conn_id": "atlas_auth_probe",
        "config": {"table": "user"},
    }
    resp = editor.post("/connectors/", json=by_reference)
    assert resp.status_code == 201, resp.text
    # Changing its credentials is refused; changing its schedule is not; purging needs connection access.
    assert editor.put("/connectors/editor_ref", json={"config": {"password": "x"}}).status_code == 403
    assert editor.put("/connectors/editor_ref", json={"schedule_cron": "0 3 * * *"}).status_code == 200
    assert editor.delete("/connectors/editor_ref?purge=true").status_code == 403
    assert editor.delete("/connectors/editor_ref").status_code == 200
    # An operator may write credentials.
    inline["source_name"] = "operator_inline"
    assert client_for("operator").post("/connectors/", json=inline).status_code == 201
