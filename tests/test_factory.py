"""The DAG factory: every valid row becomes its DAG; every bad row is visible with its own error."""

from __future__ import annotations

import json

import pytest

from atlas.factory import build_all_dags, invalid_dag_id
from atlas.registry import ConnectorRegistry
from tests.helpers import insert_raw_row, load_dagbag

GOOD = [
    {"source_name": "pg_hourly", "schedule_cron": "0 * * * *"},
    {"source_name": "pg_weekdays", "schedule_cron": "0 9 * * 1-5", "source_type": "mysql"},
    {"source_name": "pg_manual", "schedule_cron": None},
    {"source_name": "pg_preset", "schedule_cron": "@daily"},
    {"source_name": "pg_disabled", "schedule_cron": "*/15 * * * *", "enabled": False},
    {
        "source_name": "api_items",
        "source_type": "rest_api",
        "config": {"endpoint": "/items", "pagination": {"type": "page", "page_size": 10}},
    },
]

# (row fields, text the error must contain): each a different way a row can be broken.
BAD = [
    ({"source_name": "b_type", "source_type": "oracle"}, "source_type: unknown source type 'oracle'"),
    ({"source_name": "b_notype", "source_type": ""}, "unknown source type ''"),
    ({"source_name": "b_cron_range", "schedule_cron": "61 * * * *"}, "schedule_cron: invalid cron"),
    ({"source_name": "b_cron_words", "schedule_cron": "every hour"}, "schedule_cron: invalid cron"),
    ({"source_name": "b_cron_day", "schedule_cron": "0 0 32 * *"}, "schedule_cron: invalid cron"),
    ({"source_name": "Bad Name"}, "source_name: String should match pattern"),
    ({"source_name": "x" * 64}, "source_name: String should match pattern"),
    ({"source_name": "b_noconn", "conn_id": ""}, "conn_id: String should have at least 1 character"),
    ({"source_name": "b_noselector", "config": {}}, "give exactly one of"),
    ({"source_name": "b_twoselectors", "config": {"table": "a", "query": "select 1"}}, "got table, query"),
    ({"source_name": "b_inject_table", "config": {"table": "users; DROP TABLE users"}}, "config.table"),
    ({"source_name": "b_quote_table", "config": {"table": 'a"b'}}, "not a safe identifier"),
    ({"source_name": "b_inject_column", "config": {"table": "a", "columns": ["id", "x`;--"]}}, "config.columns"),
    ({"source_name": "b_inject_pk", "config": {"table": "a", "primary_key": "id'--"}}, "config.primary_key"),
    ({"source_name": "b_inject_cursor", "timestamp_column": "u;drop"}, "timestamp_column"),
    ({"source_name": "b_incr_nocursor", "incremental": True}, "needs 'timestamp_column'"),
    ({"source_name": "b_batch", "config": {"table": "a", "batch_size": 0}}, "config.batch_size"),
    ({"source_name": "b_lookback", "config": {"table": "a", "lookback_seconds": -5}}, "config.lookback_seconds"),
    ({"source_name": "b_tz", "config": {"table": "a", "source_timezone": "Mars/Olympus"}}, "unknown time zone"),
    ({"source_name": "b_delete", "config": {"query": "DELETE FROM t"}}, "config.query"),
    ({"source_name": "b_query_target", "config": {"query": "select 1 as x"}}, "needs 'target_table'"),
    ({"source_name": "b_typo", "config": {"tabel": "users"}}, "config.tabel: Extra inputs are not permitted"),
    ({"source_name": "b_config_str", "config": "users"}, "config"),
    ({"source_name": "b_options", "options": {"retries": "many"}}, "retries"),
    ({"source_name": "b_target", "target_table": "raw.t;drop"}, "target_table"),
    (
        {"source_name": "b_rest_url", "source_type": "rest_api", "config": {"endpoint": "https://evil.example/x"}},
        "config.endpoint",
    ),
    (
        {
            "source_name": "b_rest_page",
            "source_type": "rest_api",
            "config": {"endpoint": "/x", "pagination": {"type": "scroll"}},
        },
        "config.pagination",
    ),
    (
        {
            "source_name": "b_rest_secret",
            "source_type": "rest_api",
            "config": {"endpoint": "/x", "headers": {"Authorization": "Bearer abc"}},
        },
        "looks like a credential",
    ),
]


@pytest.fixture
def registry(atlas_home) -> ConnectorRegistry:
    registry = ConnectorRegistry.default()
    registry.upgrade()
    return registry


def test_good_and_bad_rows(registry):
    for good in GOOD:
        insert_raw_row(registry, **good)
    bad_ids = {insert_raw_row(registry, **fields): expected for fields, expected in BAD}

    bag = load_dagbag()
    assert bag.import_errors == {}
    for good in GOOD:
        dag = bag.dags[f"atlas__{good['source_name']}"]
        assert "atlas:invalid" not in dag.tags
        assert [t.task_id for t in dag.tasks] == ["plan_streams", "sync_stream"]

    rows = {row["connector_id"]: row for row in registry.raw_rows()}
    for connector_id, expected in bad_ids.items():
        dag = bag.dags[invalid_dag_id(rows[connector_id])]
        assert "atlas:invalid" in dag.tags
        assert expected in dag.doc_md, (dag.dag_id, dag.doc_md)
        assert [t.task_id for t in dag.tasks] == ["connector_invalid"]
    assert len(bag.dags) == len(GOOD) + len(BAD)  # no freshness monitor: no row sets max_staleness_minutes


def test_error_dag_task_fails_with_the_rows_error(registry):
    insert_raw_row(registry, source_name="b_cron", schedule_cron="61 * * * *")
    dag = build_all_dags()["atlas__b_cron"]
    with pytest.raises(Exception, match="schedule_cron: invalid cron expression '61"):
        dag.task_dict["connector_invalid"].python_callable()


def test_cron_passed_verbatim_and_disabled_has_no_schedule(registry):
    insert_raw_row(registry, source_name="weekdays", schedule_cron="0 9 * * 1-5")
    insert_raw_row(registry, source_name="off", schedule_cron="0 9 * * 1-5", enabled=False)
    dags = build_all_dags()
    assert dags["atlas__weekdays"].schedule == "0 9 * * 1-5"
    assert dags["atlas__weekdays"].timetable.expression == "0 9 * * 1-5"
    assert dags["atlas__off"].schedule is None
    assert "connector disabled" in dags["atlas__off"].doc_md


def test_registry_outage_keeps_last_known_dags(registry, monkeypatch, atlas_home):
    insert_raw_row(registry, source_name="kept", schedule_cron="0 * * * *")
    assert set(build_all_dags()) == {"atlas__kept"}
    snapshot = json.loads((atlas_home / "registry-snapshot.json").read_text())
    assert [r["source_name"] for r in snapshot["rows"]] == ["kept"]

    monkeypatch.setenv("AIRFLOW_CONN_ATLAS_METADATA", "postgres://postgres@127.0.0.1:1/unreachable")
    dags = build_all_dags()
    assert set(dags) == {"atlas__kept"}
    assert "registry unreachable" in dags["atlas__kept"].doc_md


def test_registry_outage_without_snapshot_shows_an_error_dag(atlas_home, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_ATLAS_METADATA", "postgres://postgres@127.0.0.1:1/unreachable")
    dags = build_all_dags()
    assert list(dags) == ["atlas__registry_unavailable"]
    assert "connection" in dags["atlas__registry_unavailable"].doc_md.lower()


def test_task_process_builds_only_its_dag(registry, monkeypatch):
    for name in ("one", "two", "three"):
        insert_raw_row(registry, source_name=name)
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "atlas__two")
    assert list(build_all_dags()) == ["atlas__two"]


def test_doc_md_holds_no_secret(registry, airflow_db):
    from atlas.service import create_connector
    from tests.test_intake import SEED_POSTGRES

    create_connector(
        registry,
        SEED_POSTGRES
        | {"source_name": "secretive"}
        | {"config": SEED_POSTGRES["config"] | {"source_name": "secretive", "password": "s3cr3t-Pa55"}},
    )
    dag = build_all_dags()["atlas__secretive"]
    assert "s3cr3t-Pa55" not in dag.doc_md
    assert "atlas_secretive" in dag.doc_md
