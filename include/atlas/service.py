"""Connector operations shared by the CLI and the API: create, update, delete, test, discover.

Each keeps the registry row and its Airflow Connection consistent: a connection made from inline
credentials is saved before the row and removed again if the row cannot be written.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from atlas.connections import ConnectionDraft, delete_connection, get_connection, save_connection
from atlas.exceptions import DuplicateConnector
from atlas.intake import Intake, parse_request
from atlas.models import ConnectorSpec
from atlas.registry import ConnectorRegistry, row_to_spec_data
from atlas.schema import TableSchema
from atlas.settings import CONNECTION_ID_PREFIX
from atlas.sources import build_source
from atlas.watermark import WatermarkStore

MASK = "***"


def plan_create(registry: ConnectorRegistry, body: dict[str, Any]) -> Intake:
    """Validate a create request, nothing written yet: what to authorize before :func:`apply_create`."""
    intake = parse_request(body)
    if registry.exists(intake.spec.source_name):
        raise DuplicateConnector(f"a connector named {intake.spec.source_name!r} already exists")
    return intake


def apply_create(registry: ConnectorRegistry, intake: Intake) -> ConnectorSpec:
    if intake.connection is not None:
        save_connection(intake.connection, replace=False)
    try:
        return registry.add(intake.spec)
    except Exception:
        if intake.connection is not None:
            delete_connection(intake.connection.conn_id)
        raise


def create_connector(registry: ConnectorRegistry, body: dict[str, Any]) -> ConnectorSpec:
    return apply_create(registry, plan_create(registry, body))


def plan_update(registry: ConnectorRegistry, key: str, body: dict[str, Any]) -> Intake:
    """Validate a partial (or full) update over the stored row, which may be invalid (this repairs it)."""
    return parse_request(body, existing=row_to_spec_data(registry.get_row(key)))


def apply_update(registry: ConnectorRegistry, key: str, intake: Intake) -> ConnectorSpec:
    """Write an update; new inline credentials change only the connection fields they name."""
    if intake.connection is not None:
        save_connection(_over_existing_connection(intake.connection), replace=True)
    return registry.update(key, intake.spec)


def update_connector(registry: ConnectorRegistry, key: str, body: dict[str, Any]) -> ConnectorSpec:
    return apply_update(registry, key, plan_update(registry, key, body))


def _over_existing_connection(draft: ConnectionDraft) -> ConnectionDraft:
    """``draft`` with the fields it leaves empty taken from the connection it replaces."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        current = get_connection(draft.conn_id)
    except AirflowNotFoundException:
        return draft
    kept = {
        name: getattr(current, name)
        for name in ("host", "port", "schema", "login", "password")
        if getattr(draft, name) is None
    }
    if not draft.extra and current.extra:
        kept["extra"] = current.extra_dejson
    return replace(draft, **kept)


def delete_connector(registry: ConnectorRegistry, key: str, *, purge: bool = False) -> dict[str, Any]:
    """Remove the row; with ``purge`` also its watermarks and the connection Atlas made for it.

    A connection the connector merely names (not ``atlas_<source_name>``) may serve others: it stays.
    """
    row = registry.remove(key)
    removed: dict[str, Any] = {"connector_id": row["connector_id"], "source_name": row["source_name"]}
    if purge:
        removed["watermarks_deleted"] = WatermarkStore().delete_all(row["source_name"])
        atlas_made = row["conn_id"] == f"{CONNECTION_ID_PREFIX}{row['source_name']}"
        removed["connection_deleted"] = atlas_made and delete_connection(row["conn_id"])
    return removed


def check_connector(spec: ConnectorSpec) -> tuple[bool, str]:
    return build_source(spec).test_connection()


def discover_connector(spec: ConnectorSpec) -> list[TableSchema]:
    source = build_source(spec)
    return [source.discover(stream) for stream in source.streams()]


def connection_summary(conn_id: str) -> dict[str, Any]:
    """The connection a connector uses, with every secret masked."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = get_connection(conn_id)
    except AirflowNotFoundException:
        return {"conn_id": conn_id, "exists": False}
    return {
        "conn_id": conn_id,
        "exists": True,
        "conn_type": conn.conn_type,
        "host": conn.host,
        "port": conn.port,
        "schema": conn.schema,
        "login": conn.login,
        "password": MASK if conn.password else None,
        "extra": MASK if conn.extra else None,
    }
