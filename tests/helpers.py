"""Small helpers shared by tests (not fixtures)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from atlas.registry import ConnectorRegistry
from atlas.registry.tables import connectors

REPO = Path(__file__).resolve().parents[1]


def insert_raw_row(registry: ConnectorRegistry, **fields: Any) -> str:
    """Write a connector row as is, bypassing validation (as a careless admin or a bug might)."""
    now = datetime.now(UTC)
    row = {
        "connector_id": str(uuid.uuid4()),
        "source_type": "postgresql",
        "conn_id": "some_conn",
        "config": {"table": "users"},
        "enabled": True,
        "incremental": False,
        "options": {},
        "created_at": now,
        "updated_at": now,
    } | fields
    with registry.engine.begin() as conn:
        conn.execute(connectors.insert().values(**row))
    return row["connector_id"]


def load_dagbag():
    """Parse the repo's dags/ folder the way the dag-processor does."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))
