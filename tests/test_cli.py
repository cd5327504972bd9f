"""The `atlas` command line, run as a real process against real servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from atlas.cli import main
from tests.test_intake import SEED_POSTGRES

ATLAS = [sys.executable, "-m", "atlas.cli"]


@pytest.fixture
def atlas(atlas_home, airflow_db):
    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([*ATLAS, *args], capture_output=True, text=True, input=input, env=os.environ.copy())

    assert run("registry", "init").returncode == 0
    return run


@pytest.fixture
def source_db(pg_database):
    with pg_database.connect() as conn:
        conn.execute(
            "CREATE TABLE users (id int PRIMARY KEY, name text, updated_at timestamptz NOT NULL);"
            "INSERT INTO users SELECT g, 'user ' || g, now() FROM generate_series(1, 250) g"
        )
    return pg_database


def seed_body(db, **overrides) -> dict:
    body = json.loads(json.dumps(SEED_POSTGRES)) | overrides
    body["config"] |= {"host": "127.0.0.1", "database": db.name, "username": "postgres", "password": "pw-SECRET-42"}
    body["config"]["source_name"] = body["source_name"]
    return body


def test_connector_lifecycle_and_sync(atlas, source_db, tmp_path):
    body_file = tmp_path / "users.json"
    body_file.write_text(json.dumps(seed_body(source_db)))
    added = atlas("connectors", "add", str(body_file))
    assert added.returncode == 0, added.stderr
    assert "atlas__my_database" in added.stdout

    listed = atlas("connectors", "list", "--json")
    assert [c["source_name"] for c in json.loads(listed.stdout)] == ["my_database"]

    shown = atlas("connectors", "show", "my_database")
    assert '"password": "***"' in shown.stdout
    assert "pw-SECRET-42" not in shown.stdout + shown.stderr

    tested = atlas("connectors", "test", "my_database")
    assert tested.returncode == 0, tested.stdout + tested.stderr

    synced = atlas("sync", "my_database")
    assert synced.returncode == 0, synced.stderr
    summary = json.loads(synced.stdout)
    assert (summary["rows_read"], summary["rows_written"], summary["mode"]) == (250, 250, "replace")
    again = json.loads(atlas("sync", "my_database").stdout)
    assert again["mode"] == "merge"
    assert again["watermark_before"] == summary["watermark_after"]

    yaml_update = tmp_path / "update.yaml"
    yaml_update.write_text("schedule_cron: '*/5 * * * *'\nconfig:\n  batch_size: 100\n")
    assert atlas("connectors", "update", "my_database", str(yaml_update)).returncode == 0
    assert json.loads(atlas("connectors", "show", "my_database").stdout)["row"]["schedule_cron"] == "*/5 * * * *"

    removed = atlas("connectors", "remove", "my_database", "--purge")
    assert json.loads(removed.stdout)["connection_deleted"] is True
    assert atlas("connectors", "show", "my_database").returncode == 2


def test_bad_input_exits_2_naming_connector_and_field(atlas, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "source_type": "postgresql",
                "source_name": "oops",
                "conn_id": "c",
                "schedule_cron": "61 * * * *",
                "table": "t",
            }
        )
    )
    result = atlas("connectors", "add", str(bad))
    assert result.returncode == 2
    assert "connector 'oops'" in result.stderr and "schedule_cron" in result.stderr
    assert atlas("sync", "missing").returncode == 2


def test_failed_connection_test_exits_1_without_secret(atlas, source_db, tmp_path):
    body = seed_body(source_db, source_name="wrong_port")
    body["config"]["port"] = 1
    (tmp_path / "b.json").write_text(json.dumps(body))
    assert atlas("connectors", "add", str(tmp_path / "b.json")).returncode == 0
    tested = atlas("connectors", "test", "wrong_port")
    assert tested.returncode == 1
    assert tested.stdout.startswith("failed: ")
    assert "pw-SECRET-42" not in tested.stdout + tested.stderr


def test_sync_rejects_a_bad_since_before_touching_anything(atlas, source_db, tmp_path):
    (tmp_path / "users.json").write_text(json.dumps(seed_body(source_db)))
    assert atlas("connectors", "add", str(tmp_path / "users.json")).returncode == 0
    result = atlas("sync", "my_database", "--since", "junk")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("atlas: --since: since='junk' is neither an integer")
    assert atlas("sync", "my_database", "--since", "2026-01-01T00:00:00Z").returncode == 0


BAD_BODY_FILES = {
    "missing.json": (None, "cannot read body file {path}: No such file or directory"),
    "directory.json": ("<dir>", "cannot read body file {path}: Is a directory"),
    "latin1.json": (b'{"source_name": "caf\xe9"}', "cannot read body file {path}: not UTF-8 text"),
    "broken.json": (b'{"source_type": ', "body file {path} is not valid JSON: Expecting value: line 1 column 17"),
    "broken.yaml": (b"source_type: [postgresql\n", "body file {path} is not valid YAML: while parsing a flow sequence"),
}


def test_unreadable_body_file_exits_2_naming_the_file(tmp_path, capsys):
    """In this process (the console script's own ``main``): the file is read before anything else happens."""

    def last_line(*args: str) -> str:
        assert main(list(args)) == 2
        stderr = capsys.readouterr().err
        assert "Traceback" not in stderr, stderr
        return stderr.strip().splitlines()[-1]

    for name, (content, message) in BAD_BODY_FILES.items():
        path = tmp_path / name
        if content == "<dir>":
            path.mkdir()
        elif content is not None:
            path.write_bytes(content)
        assert last_line("connectors", "add", str(path)).startswith("atlas: " + message.format(path=path))
    missing = tmp_path / "missing.json"
    expected = f"atlas: cannot read body file {missing}: No such file or directory"
    assert last_line("connectors", "update", "x", str(missing)) == expected
