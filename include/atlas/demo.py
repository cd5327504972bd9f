"""The demo: a small shop database (SQLite) and connectors syncing it, so the product runs anywhere.

``atlas demo setup`` is idempotent: it (re)creates the sample database under ``$ATLAS_HOME`` and adds
the demo connectors that are missing.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from atlas import settings
from atlas.connections import ConnectionDraft, connection_exists, get_connection, save_connection
from atlas.exceptions import ConnectorNotFound
from atlas.registry import ConnectorRegistry
from atlas.service import create_connector

DEMO_CONN_ID = "atlas_demo_shop"
DEMO_API_CONN_ID = "atlas_airflow_api"
#: A real REST source on a bare machine: Airflow's own API (offset pages, JWT from /auth/token),
#: syncing the DAG runs of this very demo, incremental on run_after.
DEMO_REST_CONNECTOR = {
    "source_type": "rest_api",
    "source_name": "demo_airflow_runs",
    "conn_id": DEMO_API_CONN_ID,
    "description": "Demo: this Airflow's own DAG runs, read through its REST API (/api/v2), incremental.",
    "schedule_cron": "*/10 * * * *",
    "incremental": True,
    "timestamp_column": "run_after",
    "max_staleness_minutes": 30,
    "config": {
        "endpoint": "/api/v2/dags/~/dagRuns",
        "params": {"order_by": "run_after"},
        "record_path": "dag_runs",
        "primary_key": ["dag_id", "dag_run_id"],
        "auth": {"type": "token_endpoint", "token_url": "/auth/token"},
        "pagination": {"type": "offset", "page_size": 100, "total_path": "total_entries"},
        "cursor_param": "run_after_gte",
        "lookback_seconds": 86400,
    },
}
DEMO_CONNECTORS = [
    {
        "source_type": "sqlite",
        "source_name": "demo_shop",
        "conn_id": DEMO_CONN_ID,
        "description": "Demo: customers and orders of a small shop (SQLite sample database), incremental.",
        "schedule_cron": "*/10 * * * *",
        "incremental": True,
        "timestamp_column": "updated_at",
        "config": {"tables": ["customers", "orders"], "lookback_seconds": 60},
    },
    {
        "source_type": "sqlite",
        "source_name": "demo_products",
        "conn_id": DEMO_CONN_ID,
        "description": "Demo: the product catalogue, fully refreshed every hour.",
        "schedule_cron": "0 * * * *",
        "max_staleness_minutes": 90,
        "config": {"table": "products"},
    },
]


def _create_sample_database(path: str, rows: int = 2_000) -> None:
    rng = random.Random(42)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    conn = sqlite3.connect(path)
    with conn:
        conn.executescript(
            """
            DROP TABLE IF EXISTS customers; DROP TABLE IF EXISTS orders; DROP TABLE IF EXISTS products;
            CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, country TEXT,
                                    updated_at TIMESTAMP NOT NULL);
            CREATE TABLE products (sku TEXT PRIMARY KEY, title TEXT NOT NULL, price NUMERIC(10, 2) NOT NULL);
            CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
                                 sku TEXT NOT NULL REFERENCES products(sku), quantity INTEGER NOT NULL,
                                 amount NUMERIC(12, 2) NOT NULL, note TEXT, updated_at TIMESTAMP NOT NULL);
            """
        )
        countries = ["DE", "FR", "NL", "PL", "SE", "US", "JP", "BR"]
        conn.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, ?, ?)",
            [
                (
                    i,
                    f"Customer {i} — Ünïcødé",
                    f"c{i}@example.com" if i % 7 else None,
                    rng.choice(countries),
                    (start + timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M:%S.%f"),
                )
                for i in range(1, rows // 4 + 1)
            ],
        )
        products = [(f"SKU-{i:04d}", f"Product {i}", f"{rng.uniform(1, 500):.2f}") for i in range(1, 51)]
        conn.executemany("INSERT INTO products VALUES (?, ?, ?)", products)
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    i,
                    rng.randint(1, rows // 4),
                    rng.choice(products)[0],
                    rng.randint(1, 5),
                    f"{rng.uniform(1, 2000):.2f}",
                    'gift, "wrapped"\nplease' if i % 50 == 0 else None,
                    (start + timedelta(seconds=30 * i)).strftime("%Y-%m-%d %H:%M:%S.%f"),
                )
                for i in range(1, rows + 1)
            ],
        )
    conn.close()


def _admin_password() -> str | None:
    """The simple auth manager's admin password, which the demo script fixes before Airflow starts."""
    path = settings.airflow_home() / "simple_auth_manager_passwords.json.generated"
    return json.loads(path.read_text()).get("admin") if path.exists() else None


def _ensure_connection(draft: ConnectionDraft) -> str | None:
    """Create the demo's own connection, or re-point it when this demo's database, port or password moved."""
    if connection_exists(draft.conn_id):
        current = get_connection(draft.conn_id)
        if (current.host, current.login, current.password) == (draft.host, draft.login, draft.password):
            return None
        save_connection(draft, replace=True)
        return f"updated the Airflow connection {draft.conn_id} (now {draft.host})"
    save_connection(draft)
    return f"created the Airflow connection {draft.conn_id}"


def setup_demo(registry: ConnectorRegistry) -> Iterator[str]:
    """Create the sample database, its connection and the demo connectors; say what was done."""
    registry.upgrade()
    path = settings.atlas_home() / "demo_shop.db"
    if not path.exists():
        _create_sample_database(str(path))
        yield f"created the sample shop database {path}"
    message = _ensure_connection(
        ConnectionDraft(
            conn_id=DEMO_CONN_ID, conn_type="sqlite", host=str(path), description="Atlas demo: sample shop database"
        )
    )
    if message:
        yield message
    connectors = list(DEMO_CONNECTORS)
    admin_password = _admin_password()
    if admin_password is not None:
        port = os.environ.get("AIRFLOW__API__PORT", "8080")
        message = _ensure_connection(
            ConnectionDraft(
                conn_id=DEMO_API_CONN_ID,
                conn_type="http",
                host=f"http://localhost:{port}",
                login="admin",
                password=admin_password,
                description="Atlas demo: this Airflow's own REST API",
            )
        )
        if message:
            yield message
        connectors.append(DEMO_REST_CONNECTOR)
    for body in connectors:
        try:
            registry.get_row(body["source_name"])
        except ConnectorNotFound:
            spec = create_connector(registry, body)
            yield f"added connector {spec.source_name} -> DAG {spec.dag_id}"
