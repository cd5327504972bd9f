"""Warehouse fixtures: a PostgreSQL destination on a fresh database, an SQLite one in a temp dir."""

from __future__ import annotations

import pytest
from atlas.destinations.base import Destination
from atlas.destinations.postgres import PostgresDestination
from atlas.destinations.sqlite import SqliteDestination


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
