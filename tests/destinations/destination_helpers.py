"""Warehouse fixtures and read-back helpers, shared by the destination and the sync tests.

Test modules outside this folder import the fixtures by name (pytest collects imported fixtures).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from atlas.destinations.base import Destination, LoadMode, LoadResult, TargetTable
from atlas.destinations.postgres import PostgresDestination
from atlas.destinations.sqlite import SqliteDestination, quote
from atlas.schema import TableSchema
from atlas.sources.base import Batch


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


class ObservedDestination:
    """A real destination that calls back during a load: once the first batch reached it, once it committed.

    Lets a test act at a precise point of a real load (a concurrent writer, a kill) without replacing
    any of it.
    """

    def __init__(
        self,
        inner: Destination,
        *,
        on_first_batch: Callable[[], None] | None = None,
        on_committed: Callable[[], None] | None = None,
    ):
        self.inner = inner
        self.accepts_copy_text = inner.accepts_copy_text
        self.on_first_batch, self.on_committed = on_first_batch, on_committed

    def target(self, target_table: str | None, source_name: str, stream: str) -> TargetTable:
        return self.inner.target(target_table, source_name, stream)

    def asset_uri(self, target: TargetTable) -> str:
        return self.inner.asset_uri(target)

    def load(self, target: TargetTable, schema: TableSchema, batches: Iterable[Batch], mode: LoadMode) -> LoadResult:
        def observed() -> Iterator[Batch]:
            for i, batch in enumerate(batches):
                yield batch
                if i == 0 and self.on_first_batch:
                    self.on_first_batch()

        result = self.inner.load(target, schema, observed(), mode)
        if self.on_committed:
            self.on_committed()
        return result
