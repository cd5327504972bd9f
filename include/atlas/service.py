"""Connector operations shared by the CLI and the API: create, update, delete, test, discover.

Each keeps the registry row and its Airflow Connection consistent: a connection made from inline
credentials is saved before the row and removed again if the row cannot be written.
"""

from __future__ import annotations

from typing import Any

from atlas.connections import delete_connection, get_connection, save_connection
from atlas.intake import parse_request
from atlas.models import ConnectorSpec
from atlas.registry import ConnectorRegistry
from atlas.schema import TableSchema
from atlas.sources import build_source
from atlas.watermark import WatermarkStore

MASK = "***"


def create_connector(registry: ConnectorRegistry, body: dict[str, Any]) -> ConnectorSpec:
    intake = parse_request(body)
    if intake.connection is not None:
        save_connection(intake.connection, replace=False)
    try:
        return registry.add(intake.spec)
    except Exception:
        if intake.connection is not None:
            delete_connection(intake.connection.conn_id)
        raise


def update_connector(registry: ConnectorRegistry, key: str, body: dict[str, Any]) -> ConnectorSpec:
    """Apply a partial (or full) update; fields the body leaves out keep their values."""
    intake = parse_request(body, existing=registry.get(key))
    if intake.connection is not None:
        save_connection(intake.connection, replace=True)
    return registry.update(key, intake.spec)


def delete_connector(registry: ConnectorRegistry, key: str, *, purge: bool = False) -> dict[str, Any]:
    """Remove the row; with ``purge`` also its Atlas-made connection and its watermarks."""
    row = registry.remove(key)
    removed: dict[str, Any] = {"connector_id": row["connector_id"], "source_name": row["source_name"]}
    if purge:
        removed["watermarks_deleted"] = WatermarkStore().delete_all(row["source_name"])
        removed["connection_deleted"] = delete_connection(row["conn_id"])
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
