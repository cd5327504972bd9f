"""Warehouse fixtures and read-back helpers, shared by the destination and the sync tests.

Test modules outside this folder import the fixtures by name (pytest collects imported fixtures).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from atlas.destinations.base import Destination, TargetTable
from atlas.destinations.postgres import PostgresDestination
from atlas.destinations.sqlite import SqliteDestination, quote


@pytest.fixture
def pg_destination(pg_database, airflow_connection) -> PostgresDestination:
    airflow_connection("atlas_test_warehouse", pg_database.airflow_uri)
    destination = PostgresDestination("atlas_test_warehouse")
    destination.database = pg_database  # the tests read the warehouse back through it
    return destination


@pytest.fixture
def sqlite_destination(tmp_path) -> SqliteDestination:
    return SqliteDestination(tmp_path / "warehouse.db")


@pytest.fixture(params=["pg", "sqlite"])
def destination(request) -> Destination:
    return request.getfixturevalue(f"{request.param}_destination")


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
