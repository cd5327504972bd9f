"""Freshness: the age of a connector's data against its ``max_staleness_minutes``, and the monitor DAG."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from atlas.demo import setup_demo
from atlas.freshness import assess, check_freshness
from atlas.registry import ConnectorRegistry, StreamSuccess
from atlas.settings import FRESHNESS_DAG_ID
from tests.helpers import load_dagbag

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _ts(when: datetime) -> dict:
    return {"cursor": "updated_at", "type": "timestamp", "value": when.isoformat()}


def test_a_time_watermark_dates_the_data_and_the_stalest_stream_counts():
    streams = {
        "orders": StreamSuccess(NOW - timedelta(minutes=1), _ts(NOW - timedelta(minutes=90))),
        "users": StreamSuccess(NOW - timedelta(minutes=2), _ts(NOW - timedelta(minutes=10))),
    }
    freshness = assess(60, streams, NOW - timedelta(days=3), NOW)
    assert freshness.lag_seconds == 90 * 60
    assert freshness.last_success_at == NOW - timedelta(minutes=1)
    assert freshness.stale
    assert not assess(120, streams, NOW - timedelta(days=3), NOW).stale
    assert not assess(None, streams, NOW - timedelta(days=3), NOW).stale  # no limit, no alert


def test_without_a_time_cursor_the_last_success_dates_the_data():
    integer = {"cursor": "id", "type": "integer", "value": 42}
    streams = {"events": StreamSuccess(NOW - timedelta(minutes=5), integer), "dim": StreamSuccess(NOW, None)}
    assert assess(10, streams, None, NOW).lag_seconds == 5 * 60
    date_cursor = {"cursor": "day", "type": "date", "value": "2026-11-30"}
    assert assess(10, {"d": StreamSuccess(NOW, date_cursor)}, None, NOW).lag_seconds == 36 * 3600


def test_a_stream_that_never_succeeded_leaves_the_age_unknown_and_stale_after_the_limit():
    streams = {"orders": StreamSuccess(NOW, _ts(NOW)), "users": None}
    young = assess(60, streams, NOW - timedelta(minutes=30), NOW)
    assert young.lag_seconds is None and young.last_success_at == NOW and not young.stale
    assert assess(60, streams, NOW - timedelta(minutes=61), NOW).stale
    assert assess(60, {}, NOW - timedelta(minutes=61), NOW).stale  # created, never run


def test_a_watermark_ahead_of_the_clock_is_not_a_negative_age():
    streams = {"orders": StreamSuccess(NOW, _ts(NOW + timedelta(hours=1)))}
    assert assess(1, streams, None, NOW).lag_seconds == 0


# --------------------------------------------------------------------------- with Airflow itself
@pytest.fixture
def demo(airflow_db, atlas_home):
    registry = ConnectorRegistry.default()
    list(setup_demo(registry))
    return registry, atlas_home


def _set_updated_at(source, when: datetime) -> None:
    with sqlite3.connect(source) as conn:
        for table in ("customers", "orders"):
            conn.execute(f"UPDATE {table} SET updated_at = ?", (when.strftime("%Y-%m-%d %H:%M:%S.%f"),))


def test_the_monitor_dag_fails_naming_a_stale_connector_and_passes_once_fresh(demo, caplog):
    registry, home = demo
    spec = registry.get("demo_shop")
    registry.update("demo_shop", spec.model_copy(update={"max_staleness_minutes": 60}))
    bag = load_dagbag()
    assert bag.import_errors == {}
    monitor = bag.dags[FRESHNESS_DAG_ID]
    assert all(f"`{name}`" in monitor.doc_md for name in ("demo_shop", "demo_products"))

    now = datetime.now(UTC)
    _set_updated_at(home / "demo_shop.db", now - timedelta(hours=3))
    assert bag.dags["atlas__demo_shop"].test(run_conf={"full_refresh": True}).state == "success"
    problems = check_freshness(registry)
    assert len(problems) == 1 and "'demo_shop'" in problems[0] and "allowed age 60 min" in problems[0]

    caplog.clear()
    assert monitor.test().state == "failed"
    assert "STALE connector 'demo_shop'" in caplog.text

    _set_updated_at(home / "demo_shop.db", now)
    assert load_dagbag().dags["atlas__demo_shop"].test().state == "success"
    assert check_freshness(registry) == []
    assert load_dagbag().dags[FRESHNESS_DAG_ID].test().state == "success"
