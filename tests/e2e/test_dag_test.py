"""End to end with Airflow's own `dag.test()`: the demo connectors sync into the embedded warehouse.

Runs the DAG the way Airflow does (the factory's DAG, the SDK task runner, Variables through the
execution API), against the demo's real SQLite source and the embedded SQLite warehouse.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from atlas.demo import setup_demo
from atlas.destinations.base import TargetTable
from atlas.destinations.sqlite import SqliteDestination
from atlas.registry import ConnectorRegistry
from atlas.watermark import WatermarkStore
from tests.helpers import load_dagbag


@pytest.fixture
def demo(airflow_db, atlas_home):
    registry = ConnectorRegistry.default()
    list(setup_demo(registry))
    bag = load_dagbag()
    assert bag.import_errors == {}

    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(bag, "dags-folder", None)
    return registry, bag, atlas_home


def _asset_event_uris() -> set[str]:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        return {event.asset.uri for event in session.query(AssetEvent)}


def _count(db, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def test_demo_shop_full_then_incremental(demo):
    registry, bag, home = demo
    dag = bag.dags["atlas__demo_shop"]

    run = dag.test(run_conf={"full_refresh": True})
    assert run.state == "success"
    warehouse, source = home / "warehouse.db", home / "demo_shop.db"
    for table in ("customers", "orders"):
        assert _count(warehouse, f"raw__demo_shop__{table}") == _count(source, table)
    watermark = WatermarkStore().get("demo_shop", "orders")
    assert watermark is not None and watermark.cursor == "updated_at"
    assert _asset_event_uris() >= {
        SqliteDestination(warehouse).asset_uri(TargetTable(None, t))
        for t in ("raw__demo_shop__customers", "raw__demo_shop__orders")
    }  # downstream DAGs can schedule on them

    # New and changed rows at the source: the next (manual, no logical_date) run reads only those.
    later = datetime(2027, 1, 1, tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(source) as conn:
        conn.execute("UPDATE orders SET quantity = 99, updated_at = ? WHERE id = 7", (later,))
        conn.execute("INSERT INTO orders VALUES (999999, 1, 'SKU-0001', 1, '1.00', 'new', ?)", (later,))
    # dag.test() leaves the first run's conf in dag.params; a fresh parse is what a new run gets.
    run = load_dagbag().dags["atlas__demo_shop"].test()
    assert run.state == "success"
    assert _count(warehouse, "raw__demo_shop__orders") == _count(source, "orders")
    with sqlite3.connect(warehouse) as conn:
        assert conn.execute('SELECT quantity FROM "raw__demo_shop__orders" WHERE id = 7').fetchone()[0] == 99
    runs, _ = registry.history("demo_shop")
    newest_orders = next(r for r in runs if r["stream"] == "orders")
    assert newest_orders["status"] == "success"
    # The changed row and the new one, plus the 3 rows of the demo's 60 s lookback window (orders are
    # 30 s apart); the other 1,997 rows are below the watermark and not read again.
    assert newest_orders["rows_read"] == 5
    assert WatermarkStore().get("demo_shop", "orders").value == datetime(2027, 1, 1, tzinfo=UTC)


def test_invalid_connector_dag_fails_with_its_error(demo):
    registry, _, _ = demo
    from tests.helpers import insert_raw_row

    insert_raw_row(registry, source_name="broken", schedule_cron="61 * * * *")
    bag = load_dagbag()
    from airflow.dag_processing.dagbag import sync_bag_to_db

    sync_bag_to_db(bag, "dags-folder", None)
    run = bag.dags["atlas__broken"].test()
    assert run.state == "failed"
