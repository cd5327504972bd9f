"""Hard deletes without CDC (``config.detect_deletes``): real sources into both real warehouses.

Every test syncs through :func:`atlas.sync.sync_stream`, deletes rows in the real source database and
checks which warehouse rows carry ``_atlas_deleted_at`` afterwards: exactly the deleted ones, never a
live one. Tables are small (a couple of thousand rows) but their keys are spread so that the bisection
goes several levels deep (negative ids, gaps, one id near the top of bigint).
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from atlas.destinations.base import DELETED_AT_COLUMN, Destination, TargetTable
from atlas.exceptions import ConnectorConfigError, DeletesRefused, SourceError
from atlas.models import ConnectorSpec, parse_spec
from atlas.registry import ConnectorRegistry
from atlas.registry.tables import sync_runs
from atlas.sources import build_source
from atlas.sync import SyncSummary, sync_stream
from atlas.watermark import WatermarkStore
from tests.destinations.destination_helpers import (  # noqa: F401  (fixtures)
    destination,
    pg_destination,
    query,
    sqlite_destination,
    table_sql,
)

T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
#: Spread keys: negative, gaps of varying size, and one near the top of bigint.
IDS = [i * 7919 - 5_000_000 for i in range(1, 2000)] + [9_000_000_000_000_000_000]
#: Scattered over the whole key range, the extremes included.
DELETED = sorted({IDS[0], IDS[-1], *IDS[5:1999:53]})

# The same table on every engine: a key, a value, a cursor.
DDL = {
    "postgres": "CREATE TABLE items (id bigint PRIMARY KEY, name text, updated_at timestamptz)",
    "mysql": "CREATE TABLE items (id bigint PRIMARY KEY, name varchar(50), updated_at datetime(6))",
    "sqlite": "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, updated_at DATETIME)",
}


@dataclass
class SourceDb:
    """A source database on a real server (or a SQLite file), reached through an Airflow connection."""

    kind: str  # "postgres" | "mysql" | "sqlite"
    conn_id: str
    connect: Callable[[], Any]
    source_type: str = field(init=False)

    def __post_init__(self) -> None:
        self.source_type = {"postgres": "postgresql", "mysql": "mysql", "sqlite": "sqlite"}[self.kind]

    def execute(self, statement: str, rows: list[tuple] | tuple = ()) -> None:
        """Run ``statement`` (``%s`` placeholders on every engine), for each of ``rows`` when it is a list."""
        if self.kind == "sqlite":
            statement = statement.replace("%s", "?")
        conn = self.connect()
        try:
            cur = conn.cursor()
            if isinstance(rows, list):
                cur.executemany(statement, rows)
            else:
                cur.execute(statement, rows)
            conn.commit()
        finally:
            conn.close()

    def timestamp(self, value: datetime) -> Any:
        return value if self.kind == "postgres" else value.replace(tzinfo=None).isoformat(sep=" ")


@pytest.fixture
def source_db(request, make_database, airflow_connection, tmp_path) -> Callable[[str], SourceDb]:
    def make(kind: str) -> SourceDb:
        conn_id = f"atlas_src_{secrets.token_hex(3)}"
        if kind == "sqlite":
            path = tmp_path / f"{conn_id}.db"
            sqlite3.connect(path).close()
            airflow_connection(conn_id, "sqlite://" + quote(str(path), safe=""))
            return SourceDb(kind, conn_id, lambda: sqlite3.connect(path))
        database = make_database(kind)
        airflow_connection(conn_id, database.airflow_uri)
        return SourceDb(kind, conn_id, database.connect)

    return make


@dataclass
class Connector:
    source: SourceDb
    spec: ConnectorSpec
    destination: Destination
    registry: ConnectorRegistry
    stream: str = "items"
    watermarks: WatermarkStore = field(default_factory=WatermarkStore)

    def sync(self, **kwargs: Any) -> SyncSummary:
        return sync_stream(
            self.spec,
            self.stream,
            registry=self.registry,
            watermarks=self.watermarks,
            destination=self.destination,
            **kwargs,
        )

    @property
    def target(self) -> TargetTable:
        return self.destination.target(self.spec.target_table, self.spec.source_name, self.stream)

    def marked(self, key: str = "id") -> list:
        """Keys of the warehouse rows marked deleted."""
        table = table_sql(self.destination, self.target)
        rows = query(self.destination, f"SELECT {key} FROM {table} WHERE {DELETED_AT_COLUMN} IS NOT NULL ORDER BY 1")
        return [r[0] for r in rows]

    def warehouse_count(self) -> int:
        return query(self.destination, f"SELECT count(*) FROM {table_sql(self.destination, self.target)}")[0][0]

    def last_run(self) -> dict:
        with self.registry.engine.connect() as conn:
            result = conn.execute(
                sync_runs.select().where(sync_runs.c.source_name == self.spec.source_name).order_by(sync_runs.c.run_id)
            )
            return dict(result.fetchall()[-1]._mapping)


@pytest.fixture
def connector(source_db, registry) -> Callable[..., Connector]:
    def make(kind: str, warehouse: Destination, ddl: str | None = None, **config: Any) -> Connector:
        source = source_db(kind)
        source.execute(ddl or DDL[kind])
        spec = parse_spec(
            {
                "source_type": source.source_type,
                "source_name": f"s_{secrets.token_hex(4)}",
                "conn_id": source.conn_id,
                "incremental": True,
                "timestamp_column": "updated_at",
                "config": {"table": "items", "detect_deletes": True} | config,
            }
        )
        return Connector(source, spec, warehouse, registry)

    return make


def insert_items(c: Connector, ids: list[int], at: datetime = T0) -> None:
    c.source.execute(
        "INSERT INTO items (id, name, updated_at) VALUES (%s, %s, %s)",
        [(i, f"item {i}", c.source.timestamp(at)) for i in ids],
    )


def delete_items(c: Connector, ids: list[int]) -> None:
    c.source.execute("DELETE FROM items WHERE id = %s", [(i,) for i in ids])


# ------------------------------------------------------------------------------ finding deletes
@pytest.mark.parametrize("kind", ["postgres", "mysql", "sqlite"])
def test_scattered_deletes_are_marked_exactly_and_unmarked_when_back(connector, destination, kind):  # noqa: F811
    c = connector(kind, destination)
    insert_items(c, IDS)
    assert c.sync().rows_deleted is None  # the first run is a full refresh: nothing to compare
    assert c.marked() == []

    delete_items(c, DELETED)
    run = c.sync()

    assert run.rows_deleted == len(DELETED)
    assert c.marked() == DELETED
    assert c.warehouse_count() == len(IDS)  # marked, never deleted
    assert c.last_run()["rows_deleted"] == len(DELETED)
    assert c.sync().rows_deleted == 0  # nothing new: the marked rows are not counted again

    # Back in the source: one re-inserted as a new row, one restored with its old cursor value (which no
    # incremental read sees). With detection off for a run, only the merge can clear a mark: the re-read one.
    back_new, back_old = DELETED[1], DELETED[2]
    insert_items(c, [back_new], at=T0 + timedelta(days=1))
    insert_items(c, [back_old], at=T0 - timedelta(days=1))
    config = c.spec.config.model_copy(update={"detect_deletes": False})
    sync_stream(
        c.spec.model_copy(update={"config": config}),
        c.stream,
        registry=c.registry,
        watermarks=c.watermarks,
        destination=c.destination,
    )
    assert c.marked() == [k for k in DELETED if k != back_new]

    # The next comparison finds the restored one.
    assert c.sync().rows_deleted == 0
    assert c.marked() == [k for k in DELETED if k not in (back_new, back_old)]


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_a_delete_beside_a_row_the_cursor_missed_is_found(connector, destination, kind):  # noqa: F811
    # Every segment keeps its row count: each deleted id has a new neighbour the incremental read does not
    # see (its cursor is older than the watermark). Only the key hashes tell the segments apart.
    c = connector(kind, destination)
    ids = list(range(0, 20_000, 10))
    insert_items(c, ids)
    c.sync()
    gone = ids[7::150]
    delete_items(c, gone)
    insert_items(c, [i + 1 for i in gone], at=T0 - timedelta(days=1))

    assert c.sync().rows_deleted == len(gone)
    assert c.marked() == gone


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_keys_up_to_the_top_of_bigint(connector, destination, kind):  # noqa: F811
    # The last segment's upper bound passes 2**63 - 1 (PostgreSQL's per-segment bounds are clamped there).
    c = connector(kind, destination)
    ids = [i * 1_000_003 for i in range(1, 1500)] + [2**63 - 1]
    insert_items(c, ids)
    c.sync()
    gone = [*ids[4::101], 2**63 - 1]
    delete_items(c, gone)

    assert c.sync().rows_deleted == len(gone)
    assert c.marked() == gone


@pytest.mark.parametrize(
    ("kind", "ddl", "keys"),
    [
        pytest.param(
            "postgres",
            "CREATE TABLE items (code text PRIMARY KEY, name text, updated_at timestamptz)",
            [f"k-{i:05d}-é" for i in range(1500)],
            id="pg-text",
        ),
        pytest.param(
            "mysql",
            "CREATE TABLE items (code varchar(40) PRIMARY KEY, name text, updated_at datetime(6))",
            [f"K-{i:05d}-日本" for i in range(1500)],
            id="mysql-text",
        ),
        pytest.param(
            "sqlite",
            "CREATE TABLE items (code TEXT PRIMARY KEY, name TEXT, updated_at DATETIME)",
            [f"k{i}" for i in range(1500)],
            id="sqlite-text",
        ),
        pytest.param(
            "postgres",
            "CREATE TABLE items (code uuid PRIMARY KEY, name text, updated_at timestamptz)",
            [f"{i:08x}-0000-4000-8000-{i * 7919:012x}" for i in range(1500)],
            id="pg-uuid",
        ),
    ],
)
def test_text_keys(connector, destination, kind, ddl, keys):  # noqa: F811
    c = connector(kind, destination, ddl)
    rows = [(k, "x", c.source.timestamp(T0)) for k in keys]
    c.source.execute("INSERT INTO items (code, name, updated_at) VALUES (%s, %s, %s)", rows)
    c.sync()
    gone = sorted(keys[3::97])
    c.source.execute("DELETE FROM items WHERE code = %s", [(k,) for k in gone])

    assert c.sync().rows_deleted == len(gone)
    assert sorted(str(k) for k in c.marked("code")) == gone


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_composite_key(connector, destination, kind):  # noqa: F811
    text = "text" if kind == "postgres" else "varchar(20)"
    stamp = "timestamptz" if kind == "postgres" else "datetime(6)"
    c = connector(
        kind,
        destination,
        f"CREATE TABLE items (order_id bigint, line {text}, qty int, updated_at {stamp}, PRIMARY KEY (order_id, line))",
    )
    keys = [(order, f"line-{line}") for order in range(-300, 300) for line in range(3)]
    c.source.execute(
        "INSERT INTO items (order_id, line, qty, updated_at) VALUES (%s, %s, 1, %s)",
        [(*k, c.source.timestamp(T0)) for k in keys],
    )
    c.sync()
    gone = keys[7::61] + [(0, "line-1")]  # a single line of an order whose other lines stay
    c.source.execute("DELETE FROM items WHERE order_id = %s AND line = %s", gone)

    assert c.sync().rows_deleted == len(gone)
    table = table_sql(c.destination, c.target)
    marked = query(c.destination, f"SELECT order_id, line FROM {table} WHERE {DELETED_AT_COLUMN} IS NOT NULL")
    assert sorted(marked) == sorted(gone)


def test_empty_tables(connector, destination):  # noqa: F811
    c = connector("postgres", destination, max_delete_fraction=1)
    assert c.sync().rows_deleted is None  # an empty source: a full refresh (no watermark yet), nothing compared
    insert_items(c, [1, 2, 3])
    c.sync()

    c.source.execute("DELETE FROM items")
    assert c.sync().rows_deleted == 3  # the guard off: an emptied source marks every row
    assert c.sync().rows_deleted == 0  # no live row on either side

    insert_items(c, [2], at=T0 + timedelta(days=1))
    assert c.sync().rows_deleted == 0
    assert c.marked() == [1, 3]

    # A full refresh rebuilds the table from the source (marked rows go) and puts the column back.
    assert c.sync(full_refresh=True).rows_deleted is None
    table = table_sql(c.destination, c.target)
    assert query(c.destination, f"SELECT id, {DELETED_AT_COLUMN} FROM {table}") == [(2, None)]


# ------------------------------------------------------------------------------------ the guard
def test_guard_refuses_above_the_threshold_and_marks_nothing(connector, destination):  # noqa: F811
    c = connector("postgres", destination, max_delete_fraction=0.2)
    ids = list(range(1, 1001))
    insert_items(c, ids)
    c.sync()

    delete_items(c, ids[::4])  # 25 % of the rows
    with pytest.raises(DeletesRefused) as refused:
        c.sync()
    message = str(refused.value)
    assert f"connector {c.spec.source_name!r}" in message and "config.max_delete_fraction" in message
    assert "250 of the 1000 rows" in message and "nothing was marked" in message
    assert c.marked() == []
    assert c.last_run()["status"] == "failed" and "DeletesRefused" in c.last_run()["error"]

    # A truncated source (the usual outage) stops at the first level's counts, before any key is read.
    c.source.execute("DELETE FROM items")
    with pytest.raises(DeletesRefused, match="at least 1000 of the 1000 rows"):
        c.sync()
    assert c.marked() == []

    # Within the threshold the deletes are marked.
    insert_items(c, [i for i in ids if i % 8 != 1], at=T0 + timedelta(days=1))
    assert c.sync().rows_deleted == 125
    assert c.marked() == ids[::8]


# ------------------------------------------------------------------------------ bad configuration
def test_a_table_without_primary_key_is_a_config_error(connector, destination):  # noqa: F811
    c = connector("postgres", destination, "CREATE TABLE items (id bigint, name text, updated_at timestamptz)")
    insert_items(c, [1])

    ok, message = build_source(c.spec).test_connection()
    assert not ok
    assert f"connector {c.spec.source_name!r}: config.detect_deletes:" in message and "no primary key" in message
    with pytest.raises(SourceError, match=r"config\.detect_deletes: 'items' has no primary key"):
        c.sync()
    assert c.last_run()["status"] == "failed"

    # A key it cannot compare says so too.
    c = connector("postgres", destination, "CREATE TABLE items (at timestamptz PRIMARY KEY, updated_at timestamptz)")
    with pytest.raises(SourceError, match=r"config\.detect_deletes: primary key column 'at' \(timestamptz\)"):
        c.sync()


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"config": {"query": "SELECT 1 AS id", "detect_deletes": True}, "target_table": "t"}, "custom 'query'"),
        ({"config": {"table": "items", "detect_deletes": True}, "incremental": False}, "incremental: true"),
        ({"config": {"table": "items", "max_delete_fraction": 2}}, "less than or equal to 1"),
    ],
)
def test_detect_deletes_settings_are_validated(fields, error):
    body = {"source_type": "mysql", "source_name": "shop", "conn_id": "c"}
    body |= {"incremental": True, "timestamp_column": "updated_at"} | fields
    with pytest.raises(ConnectorConfigError, match=r"connector 'shop': config\.?\w*: .*" + error.replace("(", r"\(")):
        parse_spec(body)


def _reference_hash(key: int) -> int:
    """The portable integer-key hash, in Python: the value all three engines must compute."""
    product = ((key ^ (key >> 32)) & 0xFFFFFFFF) * 0x45D9F3B
    return (product ^ (product >> 16)) & 0xFFFFFFFF


def test_the_portable_integer_hash_is_the_same_on_every_engine(make_database):
    """A source and a warehouse on different engines compare sums of this hash: a value computed differently
    on one engine would make every segment differ (correct, but a full key-by-key diff)."""
    from atlas.deletes import MYSQL, POSTGRESQL, SQLITE, KeySpace
    from atlas.schema import Kind

    keys = [0, 1, 2, 65_535, 65_536, 4_294_967_295, 4_294_967_296, -1, -4_294_967_297, 2**63 - 1, -(2**63)]
    space = KeySpace(("id",), (Kind.INT64,))
    # Deleting 4 and 8 and inserting 5 and 7 must change a segment's sum (a plain multiply would not).
    assert _reference_hash(4) + _reference_hash(8) != _reference_hash(5) + _reference_hash(7)
    selects = {
        "postgres": (POSTGRESQL, "SELECT {} FROM (SELECT CAST({} AS bigint) AS id) AS t"),
        "mysql": (MYSQL, "SELECT {} FROM (SELECT CAST({} AS SIGNED) AS id) AS t"),
    }
    for kind, (dialect, select) in selects.items():
        conn = make_database(kind).connect()
        try:
            cur = conn.cursor()
            for key in keys:
                cur.execute(select.format(space.term(dialect), key))
                assert int(cur.fetchone()[0]) == _reference_hash(key), (kind, key)
        finally:
            conn.close()
    with sqlite3.connect(":memory:") as conn:
        for key in keys:
            (value,) = conn.execute(f"SELECT {space.term(SQLITE)} FROM (SELECT {key} AS id)").fetchone()
            assert value == _reference_hash(key), ("sqlite", key)
