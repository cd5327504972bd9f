"""Warehouse destinations: the ``atlas_warehouse`` connection, else the embedded SQLite file."""

from __future__ import annotations

from atlas import settings
from atlas.destinations.base import Destination


def default_destination() -> Destination:
    from atlas.connections import connection_exists, get_connection

    if connection_exists(settings.WAREHOUSE_CONN_ID):
        conn_type = get_connection(settings.WAREHOUSE_CONN_ID).conn_type
        if conn_type == "postgres":
            from atlas.destinations.postgres import PostgresDestination

            return PostgresDestination(settings.WAREHOUSE_CONN_ID)
        if conn_type == "sqlite":
            from atlas.destinations.sqlite import SqliteDestination

            return SqliteDestination.from_connection(settings.WAREHOUSE_CONN_ID)
        from atlas.exceptions import AtlasError

        raise AtlasError(
            f"connection {settings.WAREHOUSE_CONN_ID!r} has type {conn_type!r}: the warehouse must be "
            "postgres (production) or sqlite"
        )
    from atlas.destinations.sqlite import SqliteDestination

    return SqliteDestination(settings.embedded_warehouse_path())
