"""Reading a warehouse back in tests (shared by the destination and sync tests)."""

from __future__ import annotations

import sqlite3
from typing import Any

from atlas.destinations.base import Destination, TargetTable
from atlas.destinations.postgres import PostgresDestination
from atlas.destinations.sqlite import quote


def query(destination: Destination, statement: str, params: tuple = ()) -> list[tuple[Any, ...]]:
    """Run a read-only statement on the warehouse behind ``destination``."""
    if isinstance(destination, PostgresDestination):
        with destination.database.connect() as conn:
            return conn.execute(statement, params or None).fetchall()
    with sqlite3.connect(destination.path) as conn:
        return conn.execute(statement, params).fetchall()


def table_sql(destination: Destination, target: TargetTable) -> str:
    """The quoted name of ``target`` for hand-written test queries."""
    if target.schema:
        return f'"{target.schema}"."{target.name}"'
    return quote(target.name)


def rows_of(destination: Destination, target: TargetTable, columns: str = "*", order: str = "1") -> list[tuple]:
    return query(destination, f"SELECT {columns} FROM {table_sql(destination, target)} ORDER BY {order}")
