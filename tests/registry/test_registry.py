"""The registry and its migrations on embedded SQLite and on the real local PostgreSQL and MariaDB."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from atlas.exceptions import ConnectorNotFound, DuplicateConnector, RegistryUnavailable
from atlas.models import parse_spec
from atlas.registry import ConnectorRegistry, make_engine

SPEC = parse_spec(
    {
        "source_type": "postgresql",
        "source_name": "shop",
        "conn_id": "shop_db",
        "schedule_cron": "0 * * * *",
        "incremental": True,
        "timestamp_column": "updated_at",
        "config": {"tables": ["users", "orders"], "lookback_seconds": 30},
        "retries": 5,
        "queue": "heavy",
    }
)


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def registry(request, tmp_path) -> ConnectorRegistry:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        url = request.getfixturevalue("pg_database" if request.param == "postgres" else "mysql_database").sqlalchemy_url
    registry = ConnectorRegistry(make_engine(url))
    registry.upgrade()
    return registry


def test_migrations_reach_head_and_are_idempotent(registry):
    assert registry.revision() == ConnectorRegistry.head_revision()
    registry.upgrade()
    assert registry.revision() == ConnectorRegistry.head_revision()
    tables = set(sa.inspect(registry.engine).get_table_names(schema="pipeline" if _is_pg(registry) else None))
    assert {"connectors", "sync_runs", "atlas_alembic_version"} <= tables


def _is_pg(registry):
    return registry.engine.dialect.name == "postgresql"


def test_round_trip_by_id_and_name(registry):
    added = registry.add(SPEC)
    assert added.connector_id
    assert registry.get("shop") == added
    assert registry.get(added.connector_id) == added
    assert registry.get("shop").queue == "heavy"
    with pytest.raises(DuplicateConnector):
        registry.add(SPEC)


def test_update_keeps_id_and_remove(registry):
    added = registry.add(SPEC)
    changed = registry.update("shop", SPEC.model_copy(update={"schedule_cron": "*/5 * * * *"}))
    assert changed.connector_id == added.connector_id
    assert registry.get("shop").schedule_cron == "*/5 * * * *"
    registry.remove(added.connector_id)
    with pytest.raises(ConnectorNotFound):
        registry.get("shop")


def test_runs_history_newest_first_with_microseconds(registry):
    spec = registry.add(SPEC)
    first = registry.start_run(spec, "users", dag_id=spec.dag_id)
    registry.finish_run(first, "success", rows_read=10, rows_written=10, watermark_after={"value": 1})
    second = registry.start_run(spec, "orders")
    registry.finish_run(second, "failed", error="boom")
    runs, total = registry.history("shop")
    assert total == 2
    assert [r["status"] for r in runs] == ["failed", "success"]
    assert runs[1]["watermark_after"] == {"value": 1}
    assert runs[0]["started_at"].tzinfo is not None
    assert registry.last_runs()[spec.connector_id]["status"] == "failed"
    page, _ = registry.history("shop", limit=1, offset=1)
    assert [r["status"] for r in page] == ["success"]


def test_unreachable_registry_raises_clear_error():
    registry = ConnectorRegistry(make_engine("postgresql+psycopg://postgres@127.0.0.1:1/nothing"))
    with pytest.raises(RegistryUnavailable, match="not reachable"):
        registry.raw_rows()


def test_a_retry_marks_the_dead_try_of_the_same_dag_run_failed(registry):
    spec = registry.add(SPEC)
    killed = registry.start_run(spec, "users", dag_run_id="manual__1", try_number=1)
    other_run = registry.start_run(spec, "users", dag_run_id="manual__0", try_number=1)
    other_stream = registry.start_run(spec, "orders", dag_run_id="manual__1", try_number=1)
    registry.start_run(spec, "users", dag_run_id="manual__1", try_number=2)
    runs = {r["run_id"]: r for r in registry.history("shop")[0]}
    assert runs[killed]["status"] == "failed"
    assert "abandoned" in runs[killed]["error"]
    assert runs[other_run]["status"] == runs[other_stream]["status"] == "running"


def test_stream_successes_count_the_streams_of_the_newest_dag_run(registry):
    spec = registry.add(SPEC)
    ts = {"cursor": "updated_at", "type": "timestamp", "value": "2026-01-01T00:00:00+00:00"}
    for stream in ("users", "orders", "legacy"):
        registry.finish_run(registry.start_run(spec, stream, dag_run_id="run_1"), "success", watermark_after=ts)
    # The next DAG run no longer has `legacy`, and `orders` fails in it.
    registry.finish_run(registry.start_run(spec, "users", dag_run_id="run_2"), "success", watermark_after=None)
    registry.finish_run(registry.start_run(spec, "orders", dag_run_id="run_2"), "failed", error="boom")

    streams = registry.stream_successes()[spec.connector_id]
    assert set(streams) == {"users", "orders"}
    assert streams["users"].watermark is None  # the newest success, from run_2
    assert streams["orders"].watermark == ts  # its newest success is still run_1's
    assert streams["orders"].finished_at.tzinfo is not None


def test_stream_successes_of_a_connector_synced_only_from_the_cli(registry):
    spec = registry.add(SPEC)
    registry.finish_run(registry.start_run(spec, "users"), "success")
    registry.start_run(spec, "orders")  # still running, never succeeded: not current without a DAG run
    assert set(registry.stream_successes()[spec.connector_id]) == {"users"}


def test_stream_successes_of_some_connectors_only(registry):
    shop = registry.add(SPEC)
    other = registry.add(SPEC.model_copy(update={"source_name": "other"}))
    for spec in (shop, other):
        registry.finish_run(registry.start_run(spec, "users", dag_run_id="run_1"), "success")
    assert set(registry.stream_successes([other.connector_id])) == {other.connector_id}
    assert set(registry.stream_successes()) == {shop.connector_id, other.connector_id}


def test_recent_runs_one_entry_per_dag_run_newest_last(registry):
    spec = registry.add(SPEC)
    other = registry.add(SPEC.model_copy(update={"source_name": "other", "connector_id": None}))

    def run(connector, stream, status, dag_run_id, rows=0, try_number=1):
        run_id = registry.start_run(connector, stream, dag_run_id=dag_run_id, try_number=try_number)
        if status != "running":
            registry.finish_run(run_id, status, rows_written=rows)

    run(spec, "users", "success", "manual__1", rows=10)
    run(spec, "orders", "success", "manual__1", rows=5)
    run(spec, "users", "failed", "manual__2")  # its first try died ...
    run(spec, "users", "success", "manual__2", rows=7, try_number=2)  # ... the retry succeeded
    run(spec, "orders", "failed", "manual__3")
    run(spec, "users", "success", "manual__3", rows=1)
    run(spec, "users", "success", None, rows=2)  # `atlas sync`: no DAG run
    run(spec, "users", "success", None, rows=3)
    run(spec, "users", "running", "manual__4")
    run(other, "users", "success", "manual__9", rows=4)

    recent = registry.recent_runs(limit=5)
    mine = recent[spec.connector_id]
    assert [(r["dag_run_id"], r["state"], r["rows_written"], r["streams"]) for r in mine] == [
        ("manual__2", "success", 7, 1),
        ("manual__3", "failed", 1, 2),
        (None, "success", 2, 1),
        (None, "success", 3, 1),
        ("manual__4", "running", 0, 1),
    ]
    assert mine[0]["started_at"].tzinfo is not None
    assert mine[0]["duration_seconds"] >= 0 and mine[-1]["duration_seconds"] is None
    assert [r["rows_written"] for r in recent[other.connector_id]] == [4]
    assert [r["dag_run_id"] for r in registry.recent_runs(limit=1)[spec.connector_id]] == ["manual__4"]
    assert set(registry.recent_runs(connector_ids=[other.connector_id])) == {other.connector_id}
