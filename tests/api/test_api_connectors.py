"""The connectors API over HTTP against a real Airflow: the seed's bodies, every endpoint, every error code.

The seed's example bodies are sent verbatim; only the values that must point at this machine (host,
database, credentials, base URL) are changed: PostgreSQL and MariaDB are the real local servers, the
REST API is a local HTTP server started by the test.
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from urllib.parse import urlparse

import MySQLdb
import pytest
import sqlalchemy as sa
from werkzeug import Request, Response

from tests.conftest import MYSQL_HOST, MYSQL_PORT, PG_HOST, PG_PORT
from tests.support.api_client import new_secret
from tests.test_intake import SEED_POSTGRES, SEED_REST  # the seed's bodies, verbatim

pytestmark = pytest.mark.airflow_server

# The seed's MySQL example ("Connector Types"), verbatim: it has no name and no table.
SEED_MYSQL = {
    "source_type": "mysql",
    "config": {"host": "localhost", "port": 3306, "database": "mydb", "username": "user", "password": "password"},
}


def seed_body(body: dict, **config) -> dict:
    """A seed body with ``config`` values replaced (and kept consistent with the top level)."""
    out = copy.deepcopy(body)
    out["config"].update(config)
    return out


def by_reference(name: str, **fields) -> dict:
    """A connector using an existing (here: absent) Airflow Connection; enough for API-only checks."""
    return {"source_type": "postgresql", "source_name": name, "conn_id": "atlas_nowhere", "table": "t", **fields}


def unique(name: str) -> str:
    return f"{name}_{secrets.token_hex(3)}"


def history(admin, connector: str, **params) -> dict:
    resp = admin.get(f"/connectors/{connector}/history", params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def runs_of(admin, connector: str, dag_run_id: str) -> list[dict]:
    return [r for r in history(admin, connector, limit=500)["runs"] if r["dag_run_id"] == dag_run_id]


def unpause(admin, dag_id: str) -> None:
    resp = admin.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False})
    assert resp.status_code == 200, resp.text


# ----------------------------------------------------------------------------------- fixtures
@pytest.fixture
def users_table(pg_database):
    """``users`` with a primary key and an ``updated_at`` cursor, 3 rows."""
    with pg_database.connect() as conn:
        conn.execute("CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, updated_at timestamptz NOT NULL)")
        conn.execute(
            "INSERT INTO users VALUES (1, 'ada', '2026-01-01T00:00:00Z'), (2, 'bob', '2026-01-02T00:00:00Z'),"
            " (3, 'cy', '2026-01-03T00:00:00Z')"
        )
    return pg_database


@pytest.fixture
def mysql_user(mysql_database):
    """A MariaDB user with a password, owning a database with an ``orders`` table."""
    user, password = f"atlas_{secrets.token_hex(4)}", new_secret("mysql-pw")
    conn = MySQLdb.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root")
    cur = conn.cursor()
    cur.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (password,))
    cur.execute(f"GRANT ALL ON `{mysql_database.name}`.* TO '{user}'@'%'")
    cur.execute(
        f"CREATE TABLE `{mysql_database.name}`.orders (id int PRIMARY KEY AUTO_INCREMENT, total decimal(10,2),"
        " updated_at datetime(6) NOT NULL)"
    )
    cur.execute(f"INSERT INTO `{mysql_database.name}`.orders (total, updated_at) VALUES (9.5, NOW(6))")
    conn.commit()
    yield mysql_database, user, password
    cur.execute(f"DROP USER '{user}'@'%'")
    conn.close()


@pytest.fixture
def rest_api(httpserver):
    """A local JSON API answering like GitHub's search, only with the right bearer token."""
    token = new_secret("ghp")
    records = [{"id": i, "full_name": f"org/repo{i}", "stars": i * 10} for i in range(1, 4)]

    def handler(request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {token}":
            return Response(json.dumps({"message": "Bad credentials"}), status=401, content_type="application/json")
        return Response(json.dumps(records), content_type="application/json")

    httpserver.expect_request("/search/repositories").respond_with_handler(handler)
    return httpserver, token


# -------------------------------------------------------------------------------------- tests
def test_types_describe_every_source_type(admin) -> None:
    resp = admin.get("/connectors/types")
    assert resp.status_code == 200
    types = {t["source_type"]: t for t in resp.json()}
    assert {"postgresql", "mysql", "rest_api"} <= set(types)
    assert types["postgresql"]["config_schema"]["properties"]["source_name"]["pattern"]
    assert "endpoint" in json.dumps(types["rest_api"]["config_schema"])
    assert all(t["description"] for t in types.values())


def test_seed_postgresql_walkthrough(admin, airflow_server, tokens, users_table, record_property) -> None:
    """Create -> DAG parsed -> test -> schema -> sync via the API, the CLI and the official client -> history."""
    password = new_secret("pg-pw")  # trust auth: the password travels everywhere but is not checked
    body = seed_body(
        SEED_POSTGRES, host=PG_HOST, port=PG_PORT, database=users_table.name, username="postgres", password=password
    )

    created_at = time.monotonic()
    resp = admin.post("/connectors/", json=body)
    assert resp.status_code == 201, resp.text
    created = resp.json()
    connector_id, dag_id = created["connector_id"], created["dag_id"]
    assert dag_id == "atlas__my_database"
    assert created["connection"]["conn_id"] == "atlas_my_database"
    assert created["connection"]["password"] == "***"
    assert created["connector"]["config"]["table"] == "users"
    assert created["connector"]["conn_id"] == "atlas_my_database"

    # The DAG appears after the next parse: measured, not asserted (see docs/api.md).
    airflow_server.wait_for_dag(dag_id, token=tokens["admin"], timeout=120)
    latency = time.monotonic() - created_at
    record_property("parse_latency_seconds", round(latency, 2))
    print(f"\nparse latency (create -> DAG in /api/v2/dags): {latency:.2f}s")

    resp = admin.post(f"/connectors/{connector_id}/test")
    assert resp.status_code == 200, resp.text
    assert resp.json()["ok"] is True, resp.json()

    resp = admin.get("/connectors/my_database/schema")
    assert resp.status_code == 200, resp.text
    (stream,) = resp.json()["streams"]
    assert stream["primary_key"] == ["id"]
    assert [(c["name"], c["type"]) for c in stream["columns"]] == [
        ("id", "int32"),
        ("name", "text"),
        ("updated_at", "timestamptz"),
    ]

    # 1. Through the connectors API (a full refresh).
    unpause(admin, dag_id)
    resp = admin.post(f"/connectors/{connector_id}/sync", json={"full_refresh": True})
    assert resp.status_code == 200, resp.text
    started = resp.json()
    assert started["conf"] == {"full_refresh": True, "since": None}
    assert started["dag_paused"] is False
    run = airflow_server.wait_for_run(dag_id, started["dag_run_id"], token=tokens["admin"])
    assert run["state"] == "success", airflow_server.tail_logs()
    (item,) = runs_of(admin, connector_id, started["dag_run_id"])
    assert (item["origin"], item["state"], item["rows_written"], item["full_refresh"]) == (
        "sync_run",
        "success",
        3,
        True,
    )
    assert item["watermark_after"]["value"].startswith("2026-01-03")
    assert item["duration_seconds"] >= 0

    # 2. Through Airflow's CLI: an incremental run picks up the new row only.
    with users_table.connect() as conn:
        conn.execute("INSERT INTO users VALUES (4, 'dee', '2026-01-04T00:00:00Z')")
    out = airflow_server.cli("dags", "trigger", dag_id, "--conf", '{"full_refresh": false}', "--output", "json")
    # Airflow may log warnings on stdout before the JSON.
    cli_run_id = json.loads(out.stdout[out.stdout.index("[{") :])[0]["dag_run_id"]
    assert airflow_server.wait_for_run(dag_id, cli_run_id, token=tokens["admin"])["state"] == "success"
    (item,) = runs_of(admin, connector_id, cli_run_id)
    # The lower bound is inclusive (rows tied with the watermark are never skipped): row 3 is re-read
    # and merged by its primary key, row 4 is new.
    assert (item["state"], item["rows_read"], item["full_refresh"]) == ("success", 2, False)
    assert item["watermark_before"]["value"].startswith("2026-01-03")
    assert item["watermark_after"]["value"].startswith("2026-01-04")

    # 3. Through the official apache-airflow-client (POST /api/v2/dags/{dag_id}/dagRuns).
    import airflow_client.client as af

    config = af.Configuration(host=airflow_server.base_url, access_token=tokens["admin"])
    with af.ApiClient(config) as api:
        client_run = af.DagRunApi(api).trigger_dag_run(
            dag_id, af.TriggerDAGRunPostBody(logical_date=None, conf={"full_refresh": True})
        )
    assert airflow_server.wait_for_run(dag_id, client_run.dag_run_id, token=tokens["admin"])["state"] == "success"
    (item,) = runs_of(admin, connector_id, client_run.dag_run_id)
    assert (item["state"], item["rows_written"], item["full_refresh"]) == ("success", 4, True)

    # History: newest first, paginated; the list shows the last run.
    page = history(admin, "my_database", limit=2, offset=0)
    assert page["total"] >= 3
    assert [r["dag_run_id"] for r in page["runs"]][:1] == [client_run.dag_run_id]
    second = history(admin, "my_database", limit=2, offset=1)["runs"]
    assert second[0] == page["runs"][1]
    listed = {c["source_name"]: c for c in admin.get("/connectors/").json()}["my_database"]
    assert listed["last_run"]["state"] == "success"
    assert listed["last_run"]["dag_run_id"] == client_run.dag_run_id
    assert (listed["dag_parsed"], listed["dag_paused"], listed["enabled"]) == (True, False, True)
    # The recent runs (the Connectors page's sparkline): one per DAG run, oldest first, rows summed.
    recent = [(r["dag_run_id"], r["state"], r["rows_written"]) for r in listed["recent_runs"]]
    assert recent[-3:] == [
        (started["dag_run_id"], "success", 3),
        (cli_run_id, "success", 2),
        (client_run.dag_run_id, "success", 4),
    ]
    assert all(r["duration_seconds"] >= 0 for r in listed["recent_runs"])
    limited = {c["source_name"]: c for c in admin.get("/connectors/", params={"recent_runs": 1}).json()}
    assert [r["dag_run_id"] for r in limited["my_database"]["recent_runs"]] == [client_run.dag_run_id]

    # Removing with purge takes the connection and the watermarks along.
    resp = admin.delete(f"/connectors/{connector_id}", params={"purge": "true"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["connection_deleted"] is True
    assert resp.json()["watermarks_deleted"] >= 1
    assert admin.get("/api/v2/connections/atlas_my_database").status_code == 404
    assert admin.get(f"/connectors/{connector_id}").status_code == 404


def test_seed_mysql_body_against_mariadb(admin, mysql_user) -> None:
    database, user, password = mysql_user
    name = unique("legacy")
    body = seed_body(SEED_MYSQL, host=MYSQL_HOST, database=database.name, username=user, password=password)

    resp = admin.post("/connectors/", json=body)  # verbatim: no name, no table
    assert resp.status_code == 422
    assert {tuple(e["loc"]) for e in resp.json()["detail"]} >= {("source_name",)}

    body |= {"source_name": name, "table": "orders"}
    resp = admin.post("/connectors/", json=body)
    assert resp.status_code == 201, resp.text
    assert resp.json()["connection"]["password"] == "***"
    resp = admin.post(f"/connectors/{name}/test")
    assert resp.status_code == 200 and resp.json()["ok"] is True, resp.text
    resp = admin.get(f"/connectors/{name}/schema")
    assert resp.status_code == 200, resp.text
    assert resp.json()["streams"][0]["primary_key"] == ["id"]

    # A wrong password: the test says so, without echoing either password.
    wrong = new_secret("wrong-pw")
    resp = admin.put(
        f"/connectors/{name}",
        json={
            "config": {
                "host": MYSQL_HOST,
                "port": MYSQL_PORT,
                "database": database.name,
                "username": user,
                "password": wrong,
            }
        },
    )
    assert resp.status_code == 200, resp.text
    result = admin.post(f"/connectors/{name}/test").json()
    assert result["ok"] is False
    assert "denied" in result["message"].lower(), result
    assert admin.delete(f"/connectors/{name}?purge=true").status_code == 200


def test_seed_rest_body_against_local_api(admin, rest_api) -> None:
    server, token = rest_api
    body = seed_body(SEED_REST, base_url=server.url_for("/").rstrip("/"), auth_token=token)
    body["source_name"] = name = unique("github_repos")

    resp = admin.post("/connectors/", json=body)
    assert resp.status_code == 201, resp.text
    detail = resp.json()
    assert detail["connector"]["config"]["endpoint"] == "/search/repositories?q=python"
    assert detail["connection"]["host"] == urlparse(server.url_for("/")).geturl().rstrip("/")
    assert detail["connection"]["password"] == "***"

    result = admin.post(f"/connectors/{name}/test").json()
    assert result["ok"] is True, result
    assert "3 records" in result["message"]
    columns = admin.get(f"/connectors/{name}/schema").json()["streams"][0]["columns"]
    assert [c["name"] for c in columns] == ["id", "full_name", "stars"]

    # The token is what the local API checks: a wrong one fails the test.
    assert (
        admin.put(
            f"/connectors/{name}",
            json={"config": {"base_url": body["config"]["base_url"], "auth_token": new_secret("bad-token")}},
        ).status_code
        == 200
    )
    result = admin.post(f"/connectors/{name}/test").json()
    assert result["ok"] is False and "401" in result["message"], result


def test_sync_before_the_dag_is_parsed_is_409(admin) -> None:
    name = unique("fresh")
    body = by_reference(name)
    assert admin.post("/connectors/", json=body).status_code == 201
    resp = admin.post(f"/connectors/{name}/sync")  # a parse takes longer than this round trip
    assert resp.status_code == 409, resp.text
    assert "not parsed yet" in resp.json()["detail"]


def test_history_shows_dag_runs_without_a_sync_row(admin, airflow_server, tokens) -> None:
    """A run queued on a paused DAG has no sync_runs row yet: history shows it from Airflow's DagRun table."""
    name = unique("paused")
    body = by_reference(name)
    assert admin.post("/connectors/", json=body).status_code == 201
    airflow_server.wait_for_dag(f"atlas__{name}", token=tokens["admin"])
    # Atlas DAGs start unpaused; an operator pausing one is how a run comes to wait in the queue.
    assert admin.patch(f"/api/v2/dags/atlas__{name}", json={"is_paused": True}).status_code == 200
    resp = admin.post(f"/connectors/{name}/sync", json={"since": "2026-01-01T00:00:00Z"})
    assert resp.status_code == 200, resp.text
    started = resp.json()
    assert started["dag_paused"] is True and "paused" in started["message"]
    (item,) = history(admin, name)["runs"]
    assert (item["origin"], item["dag_run_id"], item["state"]) == ("dag_run", started["dag_run_id"], "queued")
    listed = admin.get(f"/connectors/{name}").json()
    assert listed["last_run"]["state"] == "queued"
    # `since` is checked before Airflow sees it.
    resp = admin.post(f"/connectors/{name}/sync", json={"since": "last tuesday"})
    assert resp.status_code == 422 and "since" in resp.text


def test_create_errors(admin) -> None:
    name = unique("dup")
    body = by_reference(name)
    assert admin.post("/connectors/", json=body).status_code == 201
    resp = admin.post("/connectors/", json=body)
    assert resp.status_code == 409 and name in resp.json()["detail"]
    # A duplicate with inline credentials is refused before any connection is written.
    inline = seed_body(SEED_POSTGRES, password=new_secret("dup-pw")) | {"source_name": name}
    inline["config"]["source_name"] = name
    assert admin.post("/connectors/", json=inline).status_code == 409
    assert admin.get(f"/api/v2/connections/atlas_{name}").status_code == 404

    secret = new_secret("bad-body-pw")
    cases = {  # the field each error must name (in its path or, for cross-field rules, its message)
        "schedule_cron": seed_body(SEED_POSTGRES, password=secret) | {"schedule_cron": "every hour"},
        "source_type": {"source_type": "oracle", "source_name": "x", "conn_id": "c", "table": "t"},
        "table": {"source_type": "postgresql", "source_name": "x", "conn_id": "c"},
        "config.table": {"source_type": "postgresql", "source_name": "x", "conn_id": "c", "table": "a;b"},
        "config.endpoint": {
            "source_type": "rest_api",
            "source_name": "x",
            "conn_id": "c",
            "query": "https://elsewhere.example/x",
        },
        "source_name": {"source_type": "postgresql", "source_name": "Bad Name", "conn_id": "c", "table": "t"},
        "timestamp_column": {
            "source_type": "postgresql",
            "source_name": "x",
            "conn_id": "c",
            "table": "t",
            "incremental": True,
        },
    }
    for field, bad in cases.items():
        resp = admin.post("/connectors/", json=bad)
        assert resp.status_code == 422, (field, resp.text)
        errors = resp.json()["detail"]
        assert any(".".join(e["loc"]) == field or field in e["msg"] for e in errors), (field, errors)
    assert admin.post("/connectors/", data="not json", headers={"Content-Type": "application/json"}).status_code == 422


def test_get_update_delete(admin, airflow_server) -> None:
    name = unique("crud")
    body = by_reference(name, schedule_cron="0 * * * *")
    connector_id = admin.post("/connectors/", json=body).json()["connector_id"]

    by_id, by_name = admin.get(f"/connectors/{connector_id}").json(), admin.get(f"/connectors/{name}").json()
    assert by_id == by_name
    assert by_id["connection"] == {
        "conn_id": "atlas_nowhere",
        "exists": False,
        "conn_type": None,
        "host": None,
        "port": None,
        "schema": None,
        "login": None,
        "password": None,
        "extra": None,
    }

    resp = admin.put(f"/connectors/{name}", json={"schedule_cron": "*/15 * * * *", "config": {"batch_size": 500}})
    assert resp.status_code == 200, resp.text
    updated = resp.json()
    assert updated["schedule_cron"] == "*/15 * * * *"
    assert updated["connector"]["config"]["table"] == "t"  # kept: the update was partial
    assert updated["connector"]["config"]["batch_size"] == 500
    assert updated["connector_id"] == connector_id

    resp = admin.put(f"/connectors/{name}", json={"schedule_cron": "61 * * * *"})
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["schedule_cron"]
    assert admin.get(f"/connectors/{name}").json()["schedule_cron"] == "*/15 * * * *"  # unchanged

    assert admin.delete(f"/connectors/{name}").json() == {
        "connector_id": connector_id,
        "source_name": name,
        "watermarks_deleted": None,
        "connection_deleted": None,
    }
    for method, path in [
        ("GET", ""),
        ("PUT", ""),
        ("DELETE", ""),
        ("POST", "/test"),
        ("POST", "/sync"),
        ("GET", "/history"),
        ("GET", "/schema"),
    ]:
        resp = admin.request(method, f"/connectors/{name}{path}", json={})
        assert resp.status_code == 404, (method, path, resp.text)


def test_invalid_rows_are_listed_with_their_errors(admin, airflow_server) -> None:
    """A row broken outside the API (an old version, a hand edit) is listed and explained, not hidden."""
    from atlas.registry import make_engine
    from atlas.registry.tables import connectors

    name, neighbour = unique("broken"), unique("fine")
    body = by_reference(neighbour)
    assert admin.post("/connectors/", json=body).status_code == 201
    engine = make_engine(f"sqlite:///{airflow_server.home / 'atlas' / 'registry.db'}")
    with engine.begin() as conn:
        conn.execute(
            connectors.insert().values(
                connector_id=name,
                source_type="postgresql",
                source_name=name,
                conn_id="c",
                config={"table": "t"},
                schedule_cron="not a cron",
                enabled=True,
                incremental=False,
                options={},
                created_at=sa.func.now(),
                updated_at=sa.func.now(),
            )
        )
    listed = {c["source_name"]: c for c in admin.get("/connectors/").json()}
    assert listed[name]["valid"] is False
    assert listed[name]["errors"][0]["loc"] == ["schedule_cron"]
    assert listed[neighbour]["valid"] is True and listed[neighbour]["errors"] == []  # unaffected
    detail = admin.get(f"/connectors/{name}").json()
    assert detail["valid"] is False and detail["connector"]["schedule_cron"] == "not a cron"
    for action in ("test", "sync"):
        resp = admin.post(f"/connectors/{name}/{action}")
        assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["schedule_cron"], action
    repaired = admin.put(f"/connectors/{name}", json={"schedule_cron": "0 * * * *"})  # as the error DAG says
    assert repaired.status_code == 200, repaired.text
    assert admin.get(f"/connectors/{name}").json()["valid"] is True
    assert admin.delete(f"/connectors/{name}").status_code == 200


def test_dags_follow_creates_and_updates_on_the_next_parse(admin, airflow_server, tokens, record_property) -> None:
    """Measured, not asserted: how long until a created connector is a DAG, and an update shows in it.

    The dag-processor re-parses dags/atlas_connectors.py every ``min_file_process_interval`` seconds
    (``parse_interval_seconds`` of the harness; 30 s by default in Airflow), which bounds both latencies.
    """
    created, updated = [], []
    for _ in range(3):
        name = unique("latency")
        dag_id = f"atlas__{name}"
        start = time.monotonic()
        body = by_reference(name, schedule_cron="0 * * * *")
        assert admin.post("/connectors/", json=body).status_code == 201
        airflow_server.wait_for_dag(dag_id, token=tokens["admin"])
        created.append(time.monotonic() - start)

        start = time.monotonic()
        assert admin.put(f"/connectors/{name}", json={"schedule_cron": "*/5 * * * *"}).status_code == 200
        while admin.get(f"/api/v2/dags/{dag_id}").json()["timetable_summary"] != "*/5 * * * *":
            assert time.monotonic() - start < 300, "the update never reached the DAG"
            time.sleep(0.25)
        updated.append(time.monotonic() - start)
        assert admin.delete(f"/connectors/{name}").status_code == 200
    record_property("create_to_dag_seconds", [round(x, 2) for x in created])
    record_property("update_to_dag_seconds", [round(x, 2) for x in updated])
    print(
        f"\ncreate -> DAG: {', '.join(f'{x:.2f}s' for x in created)}; "
        f"update -> DAG: {', '.join(f'{x:.2f}s' for x in updated)}"
    )


def test_list_shows_freshness_and_stale_connectors(admin, airflow_server) -> None:
    """``stale`` compares the synced data's age (its time watermark) with ``max_staleness_minutes``."""
    from datetime import UTC, datetime, timedelta

    from atlas.registry import ConnectorRegistry, make_engine

    stale, fresh, unlimited = unique("stale"), unique("fresh"), unique("unlimited")
    for name, limit in ((stale, 30), (fresh, 30), (unlimited, None)):
        body = by_reference(name, **({"max_staleness_minutes": limit} if limit else {}))
        assert admin.post("/connectors/", json=body).status_code == 201
    registry = ConnectorRegistry(make_engine(f"sqlite:///{airflow_server.home / 'atlas' / 'registry.db'}"))
    now = datetime.now(UTC)
    for name, age in ((stale, timedelta(hours=2)), (fresh, timedelta(minutes=5)), (unlimited, timedelta(days=9))):
        watermark = {"cursor": "updated_at", "type": "timestamp", "value": (now - age).isoformat()}
        run_id = registry.start_run(registry.get(name), "t", dag_run_id="manual__1")
        registry.finish_run(run_id, "success", watermark_after=watermark)

    listed = {c["source_name"]: c for c in admin.get("/connectors/").json()}
    assert listed[stale]["stale"] is True and listed[stale]["max_staleness_minutes"] == 30
    assert 2 * 3600 <= listed[stale]["freshness_lag_seconds"] < 2 * 3600 + 120
    assert listed[fresh]["stale"] is False and listed[fresh]["freshness_lag_seconds"] < 30 * 60
    assert listed[unlimited]["stale"] is False and listed[unlimited]["max_staleness_minutes"] is None
    assert listed[stale]["last_success_at"] is not None
    assert admin.get(f"/connectors/{stale}").json()["stale"] is True
    for name in (stale, fresh, unlimited):
        assert admin.delete(f"/connectors/{name}").status_code == 200
