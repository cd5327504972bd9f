"""A real distributed run: Atlas connectors synced by Airflow's CeleryExecutor, and a worker killed mid-sync.

Separate processes, as in production: ``airflow api-server``, ``scheduler``, ``dag-processor`` and
``airflow celery worker``; Airflow's metadata DB, the Atlas registry and the warehouse are throw-away
PostgreSQL databases, the broker is the local Redis (a database number claimed for this test only).
The sources are a PostgreSQL table and the MySQL demo shop (docker/mysql/seed.sql, docker/demo/) on
the local MariaDB. Everything goes through the product's interfaces: ``atlas`` CLI to register,
Airflow's REST API to unpause, trigger and inspect, the databases to compare.

Then the worker running a sync is SIGKILLed together with everything it forked (a dead machine),
a new worker starts, and the retried task must converge the warehouse to the source: the killed
attempt committed nothing, and the watermark did not move without its rows.

Select with ``pytest -m celery``.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis
import requests
from psycopg import sql

from tests.support.airflow_server import VENV_BIN, AirflowServer, start_airflow
from tests.support.mysql_demo import load_mysql_demo

if TYPE_CHECKING:
    from tests.conftest import Database

pytestmark = [pytest.mark.airflow_server, pytest.mark.celery]

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379"
HEAVY_QUEUE = "atlas_heavy"
PG_POOL = "atlas_pg_events"
PG_ROWS, PG_NEW_ROWS, PG_UPDATED_ROWS = 50_000, 400_000, 1_000
WORKER_ARGS = ("--queues", f"default,{HEAVY_QUEUE}")


# ---------------------------------------------------------------------------------------- fixtures
@pytest.fixture
def redis_broker_url() -> Iterator[str]:
    """A Redis database number nobody else uses right now, emptied afterwards.

    Two clusters on one broker database would take each other's tasks; the claim key makes
    concurrent test runs (other engineers, CI) pick different numbers.
    """
    for db in range(15, 0, -1):
        client = redis.Redis.from_url(f"{REDIS_URL}/{db}")
        if client.dbsize() == 0 and client.set("atlas:e2e:claimed", "1", nx=True, ex=900):
            break
    else:
        pytest.fail("no free Redis database (1-15) to use as the Celery broker")
    try:
        yield f"{REDIS_URL}/{db}"
    finally:
        client.flushdb()


@contextmanager
def celery_cluster(make_database, broker_url: str, connections: dict[str, str]) -> Iterator[AirflowServer]:
    """Scheduler, dag-processor and API server on a PostgreSQL metadata DB; workers are started by the test."""
    metadata = make_database("postgres")
    server = start_airflow(
        executor="CeleryExecutor",
        sql_alchemy_conn=metadata.sqlalchemy_url,
        components=("api-server", "scheduler", "dag-processor"),
        parallelism=4,
        extra_env={
            "AIRFLOW__CELERY__BROKER_URL": broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{metadata.sqlalchemy_url}",
            # Send tasks from the scheduler process itself, not from a pool of processes forked per batch.
            "AIRFLOW__CELERY__SYNC_PARALLELISM": "1",
            # A killed worker stops heartbeating: notice within seconds (default 300 s), then retry.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
            **{f"AIRFLOW_CONN_{conn_id.upper()}": uri for conn_id, uri in connections.items()},
        },
    )
    try:
        yield server
    except BaseException:
        server.stop()
        print(f"Airflow home kept for inspection: {server.home}")
        raise
    server.stop()
    server.remove()


# ----------------------------------------------------------------------------------------- sources
def fill_pg_source(db: Database) -> None:
    with db.connect() as conn:
        conn.execute(
            "CREATE TABLE events (id bigint PRIMARY KEY, payload text NOT NULL, amount numeric(12, 2),"
            " updated_at timestamptz NOT NULL)"
        )
        add_pg_rows(conn, 1, PG_ROWS, "2026-01-01")


def add_pg_rows(conn, first: int, last: int, day: str) -> None:
    conn.execute(
        "INSERT INTO events SELECT g, repeat(md5(g::text), 3), (g %% 100000) / 100.0,"
        " %s::timestamptz + g * interval '1 millisecond' FROM generate_series(%s::bigint, %s::bigint) g",
        (day, first, last),
    )


# ------------------------------------------------------------------------------------- comparisons
def pg_fingerprint(db: Database, *table: str) -> tuple[int, int, str]:
    """(rows, distinct ids, md5 of every row in id order) of a PostgreSQL table (``schema, name`` or ``name``)."""
    query = sql.SQL(
        "SELECT count(*), count(DISTINCT id), md5(string_agg(format('%s|%s|%s|%s', id, payload, amount,"
        " updated_at), ',' ORDER BY id)) FROM {}"
    ).format(sql.Identifier(*table))
    with db.connect() as conn:
        return conn.execute(query).fetchone()


def copy_in_progress(db: Database) -> bool:
    """Is a COPY into this database running right now (a load streaming its rows)?"""
    with db.connect() as conn:
        return (
            conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active'"
                " AND query ILIKE 'COPY %'"
            ).fetchone()[0]
            > 0
        )


def _as_utc(value):
    """MySQL DATETIME is naive UTC (the connector's source_timezone); compare instants, aware in UTC."""
    if not isinstance(value, datetime):
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _normalized(row: tuple) -> tuple:
    return tuple(_as_utc(value) for value in row)


def mysql_rows(db: Database, table: str, columns: tuple[str, ...]) -> list[tuple]:
    def quote(name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    conn = db.connect()
    cur = conn.cursor()
    cur.execute(f"SELECT {', '.join(map(quote, columns))} FROM {quote(table)} ORDER BY {quote(columns[0])}")
    rows = [_normalized(r) for r in cur.fetchall()]
    conn.close()
    return rows


def warehouse_rows(db: Database, schema: str, table: str, columns: tuple[str, ...]) -> list[tuple]:
    query = sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(schema, table), sql.Identifier(columns[0])
    )
    with db.connect() as conn:
        return [_normalized(r) for r in conn.execute(query).fetchall()]


# --------------------------------------------------------------------------------------- Airflow
@contextmanager
def atlas_cli_in_background(commands: list[list[str]], connections: dict[str, str]) -> Iterator[Callable[[], None]]:
    """Start ``atlas`` CLI commands (in order, in one background shell) and yield a function awaiting them.

    Registration needs only the registry and the connections, not Airflow: it runs while Airflow starts.
    """
    env = {**os.environ, **{f"AIRFLOW_CONN_{conn_id.upper()}": uri for conn_id, uri in connections.items()}}
    script = " && ".join(shlex.join([str(VENV_BIN / "atlas"), *command]) for command in commands)
    proc = subprocess.Popen(["sh", "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def finished() -> None:
        output, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0, f"{script} failed:\n{output}"

    try:
        yield finished
    finally:
        proc.kill()
        proc.wait()


def trigger(api: requests.Session, server: AirflowServer, dag_id: str) -> str:
    resp = api.post(f"{server.base_url}/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None}, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()["dag_run_id"]


def task_instances(api: requests.Session, server: AirflowServer, dag_id: str, run_id: str) -> list[dict]:
    resp = api.get(f"{server.base_url}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", timeout=60)
    resp.raise_for_status()
    return resp.json()["task_instances"]


def ran_on(server: AirflowServer, worker: str, ti: dict) -> bool:
    """The worker's own log names the task instance it executed (Celery's execute_workload)."""
    return f"id=UUID('{ti['id']}')" in (server.log_dir / f"{worker}.log").read_text(errors="replace")


def wait_for(condition, what: str, server: AirflowServer, timeout: float = 180, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"{what}: not after {timeout}s\n{server.tail_logs()}")


# ------------------------------------------------------------------------------------------- test
def test_connectors_sync_on_celery_workers_and_a_killed_worker_converges(make_database, redis_broker_url, tmp_path):
    from airflow.utils.net import get_hostname

    started = time.monotonic()

    def phase(name: str) -> None:  # shown by pytest on failure (and with -s): where the minutes go
        print(f"[{time.monotonic() - started:6.1f}s] {name}")

    registry, warehouse = make_database("postgres"), make_database("postgres")
    pg_source, mysql_source = make_database("postgres"), make_database("mysql")
    fill_pg_source(pg_source)
    load_mysql_demo(mysql_source)

    # The MySQL connector is the compose demo's, minus its schedule (this test triggers every run) and
    # with a short retry delay (a task taken for a zombie on a loaded machine retries at once).
    demo = json.loads((REPO / "docker" / "demo" / "mysql_shop.json").read_text())
    demo.pop("schedule_cron")
    demo["retry_delay_seconds"] = 1
    pg_spec = {
        "source_type": "postgresql",
        "source_name": "pg_events",
        "conn_id": "pg_events_src",
        "incremental": True,
        "timestamp_column": "updated_at",
        "retries": 3,
        "retry_delay_seconds": 1,
        "queue": HEAVY_QUEUE,
        "pool": PG_POOL,
        "config": {"table": "events", "batch_size": 2_000},
    }
    for name, spec in (("mysql.json", demo), ("pg.json", pg_spec)):
        (tmp_path / name).write_text(json.dumps(spec))
    connections = {
        "atlas_metadata": registry.airflow_uri,
        "atlas_warehouse": warehouse.airflow_uri,
        "pg_events_src": pg_source.airflow_uri,
        demo["conn_id"]: mysql_source.airflow_uri,
    }

    phase("sources filled")
    registration = [
        ["registry", "init"],
        ["connectors", "add", str(tmp_path / "pg.json")],
        ["connectors", "add", str(tmp_path / "mysql.json")],
    ]
    with ExitStack() as stack:
        registered = stack.enter_context(atlas_cli_in_background(registration, connections))
        server = stack.enter_context(celery_cluster(make_database, redis_broker_url, connections))
        server.start("worker-1", "celery-worker", args=WORKER_ARGS)
        registered()
        phase("scheduler, dag-processor, API server healthy; connectors registered; worker-1 started")
        api = server.session()
        resp = api.post(f"{server.base_url}/api/v2/pools", json={"name": PG_POOL, "slots": 1}, timeout=60)
        assert resp.status_code == 201, resp.text

        # ---- 1. both connectors sync on the Celery worker
        runs = {}
        for dag_id in ("atlas__pg_events", "atlas__mysql_shop"):
            server.wait_for_dag(dag_id, token=server.token())
            resp = api.patch(f"{server.base_url}/api/v2/dags/{dag_id}", json={"is_paused": False}, timeout=60)
            assert resp.status_code == 200, resp.text
            runs[dag_id] = trigger(api, server, dag_id)
            phase(f"{dag_id} parsed and triggered")
        for dag_id, run_id in runs.items():
            run = server.wait_for_run(dag_id, run_id, token=server.token(), timeout=240)
            assert run["state"] == "success", f"{dag_id}: {run}\n{server.tail_logs()}"
            phase(f"{dag_id} succeeded")

        for dag_id, run_id in runs.items():
            tis = task_instances(api, server, dag_id, run_id)
            assert {ti["task_id"] for ti in tis} == {"plan_streams", "sync_stream"}
            for ti in tis:
                phase(f"  {dag_id}.{ti['task_id']} try {ti['try_number']}: ran {ti['duration']:.1f}s")
                assert ti["state"] == "success", ti
                assert ran_on(server, "worker-1", ti), f"{dag_id}.{ti['task_id']} not in worker-1's log"
                assert ti["hostname"] == get_hostname()
                pg = dag_id == "atlas__pg_events"
                assert ti["queue"] == (HEAVY_QUEUE if pg else "default"), ti
                assert ti["pool"] == (PG_POOL if pg else "default_pool"), ti

        assert pg_fingerprint(warehouse, "raw", "pg_events__events") == pg_fingerprint(pg_source, "events")
        for table, columns in (
            ("customers", ("id", "name", "email", "country", "updated_at")),
            ("orders", ("id", "customer_id", "amount", "status", "note", "created_at", "updated_at")),
        ):
            source = mysql_rows(mysql_source, table, columns)
            target = warehouse_rows(warehouse, "raw", f"mysql_shop__{table}", columns)
            assert len(source) == len(target) > 0 and source == target, f"{table} differs from the source"
        assert pg_fingerprint(warehouse, "raw", "pg_events__events")[0] == PG_ROWS

        # ---- 2. new and changed source rows; the worker dies while syncing them
        with pg_source.connect() as conn:
            (watermark,) = conn.execute("SELECT max(updated_at) FROM events").fetchone()
            add_pg_rows(conn, PG_ROWS + 1, PG_ROWS + PG_NEW_ROWS, "2026-02-01")
            conn.execute(
                "UPDATE events SET payload = 'changed ' || id, updated_at = '2026-03-01' WHERE id <= %s",
                (PG_UPDATED_ROWS,),
            )
            # what an incremental run reads: the lower bound is inclusive (ties at the watermark)
            (to_read,) = conn.execute("SELECT count(*) FROM events WHERE updated_at >= %s", (watermark,)).fetchone()
        source_after = pg_fingerprint(pg_source, "events")
        phase("warehouse checked; source changed")
        run_id = trigger(api, server, "atlas__pg_events")
        # Mid-sync: rows are streaming into the warehouse (an active COPY into the staging table of the
        # load's transaction), nothing is committed yet.
        wait_for(lambda: copy_in_progress(warehouse), "the first attempt's rows to stream in", server, every=0.2)
        killed = server.kill("worker-1")
        phase(f"worker-1 killed mid-sync ({len(killed)} processes)")
        assert pg_fingerprint(warehouse, "raw", "pg_events__events")[0] == PG_ROWS, (
            "the sync committed before the worker was killed: make PG_NEW_ROWS bigger"
        )

        server.start("worker-2", "celery-worker", args=WORKER_ARGS)
        run = server.wait_for_run("atlas__pg_events", run_id, token=server.token(), timeout=300)
        assert run["state"] == "success", f"{run}\n{server.tail_logs()}"
        phase("retried run succeeded on worker-2")
        (sync,) = [
            ti for ti in task_instances(api, server, "atlas__pg_events", run_id) if ti["task_id"] == "sync_stream"
        ]
        assert sync["try_number"] >= 2, sync
        assert ran_on(server, "worker-2", sync), "the retry did not run on the new worker"
        fingerprint = pg_fingerprint(warehouse, "raw", "pg_events__events")
        assert fingerprint == source_after, f"warehouse {fingerprint} != source {source_after}"
        assert fingerprint[0] == fingerprint[1] == PG_ROWS + PG_NEW_ROWS
        # The registry's record of the run: the killed try is marked abandoned by the retry, which
        # re-read everything above the unchanged watermark (the new and the changed rows).
        with registry.connect() as conn:
            tries = conn.execute(
                "SELECT try_number, status, error, rows_read, watermark_before::text FROM pipeline.sync_runs"
                " WHERE dag_run_id = %s ORDER BY try_number",
                (run_id,),
            ).fetchall()
        *dead, last = tries
        assert dead and all(t[1] == "failed" for t in dead), tries
        assert any("abandoned" in (t[2] or "") for t in dead), tries
        assert last[1:4] == ("success", None, to_read), tries
        assert {t[4] for t in tries} == {last[4]}, "the watermark moved although the killed try committed nothing"
        assert len(killed) >= 2, "the worker had no pool/task processes to kill"
    phase("all processes stopped")
