"""SQL source fixtures: a fresh database per test on the real servers (or a SQLite file), reached
through an Airflow connection, and a way to build a configured source for it."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from atlas.models import parse_spec
from atlas.schema import TableSchema
from atlas.sources import build_source
from atlas.sources.base import ReadRequest
from atlas.sources.sql import SqlSource
from atlas.watermark import Watermark
from tests.conftest import Database

CONN_ID = "atlas_src"


@dataclass
class Backend:
    """A source database for one test: run SQL on it, build sources reading it."""

    source_type: str  # "postgresql" | "mysql" | "sqlite"
    conn_id: str
    database: Database | Path
    #: Column type of a naive timestamp with microseconds.
    timestamp_type: str

    @property
    def placeholder(self) -> str:
        return "?" if self.source_type == "sqlite" else "%s"

    def connect(self) -> Any:
        """A new autocommit DB-API connection (e.g. a concurrent writer)."""
        if isinstance(self.database, Path):
            return sqlite3.connect(self.database, isolation_level=None)
        return self.database.connect()

    def execute(self, *statements: str | tuple[str, Any]) -> None:
        conn = self.connect()
        try:
            cur = conn.cursor()
            for statement in statements:
                sql, params = statement if isinstance(statement, tuple) else (statement, None)
                if isinstance(params, list):
                    cur.executemany(sql, params)
                elif params is None:
                    cur.execute(sql)
                else:
                    cur.execute(sql, params)
        finally:
            conn.close()

    def spec(self, config: dict[str, Any] | None = None, **fields: Any):
        return parse_spec(
            {
                "source_type": self.source_type,
                "source_name": "shop",
                "conn_id": self.conn_id,
                "config": config or {"table": "events"},
            }
            | fields
        )

    def source(self, config: dict[str, Any] | None = None, **fields: Any) -> SqlSource:
        return build_source(self.spec(config, **fields))


def read_all(source: SqlSource, stream: str, **request: Any) -> tuple[list[list], Watermark | None, int | None]:
    """Every batch of a read (as lists), its upper bound and bytes read."""
    with source.read(stream, ReadRequest(**request)) as read:
        batches = [batch if not isinstance(batch, list) else list(batch) for batch in read.batches()]
        return batches, read.upper_bound, read.bytes_read


def assert_types(schema: TableSchema, expected: dict[str, tuple]) -> None:
    """Columns in order, each with its kind, a source type starting as expected, and precision/scale
    when the expectation gives them: ``{"n": (Kind.DECIMAL, "numeric(38,18)", 38, 18)}``."""
    assert list(schema.column_names) == list(expected)
    for column in schema.columns:
        kind, source_type, *lengths = expected[column.name]
        assert column.type.kind == kind, column.name
        assert column.type.source_type.startswith(source_type), (column.name, column.type.source_type)
        if lengths:
            assert (column.type.precision, column.type.scale) == tuple(lengths), column.name


def free_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rows(source: SqlSource, stream: str, **request: Any) -> list[tuple]:
    return [row for batch in read_all(source, stream, **request)[0] for row in batch]


@pytest.fixture
def pg(pg_database: Database, airflow_connection) -> Backend:
    airflow_connection(CONN_ID, pg_database.airflow_uri)
    return Backend("postgresql", CONN_ID, pg_database, "timestamp(6)")


@pytest.fixture
def mysql(mysql_database: Database, airflow_connection) -> Backend:
    airflow_connection(CONN_ID, mysql_database.airflow_uri)
    return Backend("mysql", CONN_ID, mysql_database, "datetime(6)")


@pytest.fixture
def sqlite(tmp_path: Path, airflow_connection) -> Iterator[Backend]:
    path = tmp_path / "source.db"
    sqlite3.connect(path).close()
    airflow_connection(CONN_ID, "sqlite://" + quote(str(path), safe=""))
    yield Backend("sqlite", CONN_ID, path, "datetime")


@pytest.fixture(params=["pg", "mysql", "sqlite"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each of the three SQL sources in turn."""
    return request.getfixturevalue(request.param)


@pytest.fixture(params=["pg", "mysql"])
def server_backend(request: pytest.FixtureRequest) -> Backend:
    """The two server databases (MVCC snapshots, concurrent writers)."""
    return request.getfixturevalue(request.param)
