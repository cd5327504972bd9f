"""No secret leaves the server: not in a response, not in a log, not in the registry, not in plain text at rest.

Runs after the other API tests of the session (file order) and checks everything they sent and received;
it also sends its own secrets through every path that handles them, so it is meaningful when run alone.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import PG_HOST, PG_PORT
from tests.support.api_client import SECRETS, TRANSCRIPT, inline_body, new_secret

pytestmark = pytest.mark.airflow_server


@pytest.fixture(scope="module")
def own_traffic(admin, client_for) -> None:
    """Secrets through create, read, list, update, test (failing), and every error path."""
    password = new_secret("leak-probe-pw")
    body = inline_body(
        "postgresql",
        "leak_probe",
        host="127.0.0.1",
        port=5432,
        database="atlas_no_such_db",
        username="postgres",
        password=password,
    )
    assert admin.post("/connectors/", json=body).status_code == 201
    assert admin.post("/connectors/", json=body).status_code == 409
    assert admin.post("/connectors/", json=body | {"schedule_cron": "nope"}).status_code == 422
    assert client_for("editor").post("/connectors/", json=body | {"source_name": "leak_probe2"}).status_code == 403
    assert admin.get("/connectors/leak_probe").json()["connection"]["password"] == "***"
    admin.get("/connectors/")
    token = new_secret("leak-probe-token")
    body_rest = {
        "source_type": "rest_api",
        "source_name": "leak_probe_rest",
        "config": {"base_url": "http://127.0.0.1:9", "auth_type": "bearer", "auth_token": token},
        "query": "/x",
    }
    assert admin.post("/connectors/", json=body_rest).status_code == 201
    # Both fail to connect: their messages explain why, without the credentials.
    assert admin.post("/connectors/leak_probe/test").json()["ok"] is False
    assert admin.post("/connectors/leak_probe_rest/test").json()["ok"] is False
    assert (
        admin.put(
            "/connectors/leak_probe", json={"config": {"password": new_secret("leak-probe-pw2"), "host": "127.0.0.1"}}
        ).status_code
        == 200
    )
    admin.get("/connectors/leak_probe_rest")
    # A malformed body is refused without echoing it.
    resp = admin.post("/connectors/leak_probe/sync", json={"full_refresh": new_secret("leak-probe-flag")})
    assert resp.status_code == 422


def test_responses_never_contain_a_secret(own_traffic) -> None:
    assert SECRETS and TRANSCRIPT
    leaks = [(m, url, code) for m, url, code, text in TRANSCRIPT for s in SECRETS if s in text]
    assert not leaks, leaks
    assert any('"password":"***"' in text for *_, text in TRANSCRIPT)  # masking was exercised


def test_logs_never_contain_a_secret(own_traffic, airflow_server) -> None:
    files = airflow_server.log_files()
    assert any(f.name == "api-server.log" for f in files)
    leaks = [(str(f), s) for f in files for s in SECRETS if s.encode() in f.read_bytes()]
    assert not leaks, leaks


def test_secrets_are_not_stored_in_plain_text(own_traffic, airflow_server, airflow_metadata_db) -> None:
    """The registry holds no secret; the Airflow metadata DB holds them encrypted (Fernet)."""
    registry = [p for p in (airflow_server.home / "atlas").glob("registry.db*")]
    assert registry
    leaks = [(str(p), s) for p in registry for s in SECRETS if s.encode() in p.read_bytes()]
    metadata = subprocess.run(
        ["pg_dump", "-h", PG_HOST, "-p", str(PG_PORT), "-U", "postgres", "--data-only", airflow_metadata_db.name],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "atlas_leak_probe" in metadata  # the dump does hold the connections
    leaks += [("airflow metadata DB", s) for s in SECRETS if s in metadata]
    assert not leaks, leaks
