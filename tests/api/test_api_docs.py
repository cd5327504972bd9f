"""docs/api.md's walkthrough (the seed's curl session plus the token step) runs as written."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess

import pytest

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
