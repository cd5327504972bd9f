"""Integrity of the DAGs the factory builds, for one connector of each kind (parametrized by dag_id)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from atlas.registry import ConnectorRegistry
from atlas.service import create_connector
from tests.helpers import load_dagbag

CONNECTORS = [
    {
        "source_type": "postgresql",
        "source_name": "pg_users",
        "conn_id": "pg",
        "schedule_cron": "0 * * * *",
        "incremental": True,
        "timestamp_column": "updated_at",
        "table": "users",
    },
    {
        "source_type": "mysql",
        "source_name": "legacy_orders",
        "conn_id": "my",
        "schedule_cron": "*/15 * * * *",
        "config": {"tables": ["orders", "order_items"]},
        "retries": 5,
        "queue": "heavy",
        "pool": "mysql_prod",
    },
    {
        "source_type": "sqlite",
        "source_name": "local_file",
        "conn_id": "lite",
        "schedule_cron": "0 9 * * 1-5",
        "table": "events",
    },
    {
        "source_type": "rest_api",
        "source_name": "api_items",
        "conn_id": "api",
        "schedule_cron": "@daily",
        "config": {"endpoint": "/items", "pagination": {"type": "link_header"}},
    },
    {"source_type": "postgresql", "source_name": "manual_only", "conn_id": "pg", "table": "t"},
    {
        "source_type": "postgresql",
        "source_name": "switched_off",
        "conn_id": "pg",
        "schedule_cron": "0 0 * * *",
        "enabled": False,
        "table": "t",
    },
]
BY_DAG_ID = {f"atlas__{c['source_name']}": c for c in CONNECTORS}


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("ATLAS_HOME", str(tmp_path_factory.mktemp("atlas")))
    registry = ConnectorRegistry.default()
    registry.upgrade()
    for body in CONNECTORS:
        create_connector(registry, body)
    yield load_dagbag()
    mp.undo()


def test_no_import_errors_and_one_dag_per_row(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == set(BY_DAG_ID)


@pytest.mark.parametrize("dag_id", sorted(BY_DAG_ID))
def test_dag_integrity(dagbag, dag_id):
    row, dag = BY_DAG_ID[dag_id], dagbag.dags[dag_id]
    assert dag.tags == {"atlas", f"source:{row['source_type']}"}
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    expected_schedule = row.get("schedule_cron") if row.get("enabled", True) else None
    assert dag.schedule == expected_schedule  # the row's cron string, passed as it is
    assert set(dag.params) == {"full_refresh", "since"}
    for name in dag.params:  # the trigger form shows these
        param = dag.params.get_param(name)
        assert param.description and param.schema.get("title"), name
    sync = dag.task_dict["sync_stream"]
    assert sync.retries == row.get("retries", 3)
    assert sync.retry_exponential_backoff
    assert sync.retry_delay == timedelta(seconds=60)
    assert sync.queue == row.get("queue", "default")
    assert sync.pool == row.get("pool", "default_pool")
    assert dag.task_dict["plan_streams"].downstream_task_ids == {"sync_stream"}
    assert row["conn_id"] in dag.doc_md
