"""Loads: merge by key (last wins), append, atomic full refresh, rollback on failure, COPY text, naming."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

from atlas.destinations import default_destination
from atlas.destinations.base import SYNCED_AT_COLUMN, LoadMode, TargetTable
from atlas.destinations.postgres import PostgresDestination
from atlas.destinations.sqlite import SqliteDestination
from atlas.exceptions import DestinationError
from atlas.schema import Column, ColumnType, Kind, TableSchema
from atlas.sources.base import CopyChunk
from tests.destinations.destination_helpers import query, rows_of, table_sql

SCHEMA = TableSchema(
    "orders",
    (Column("id", ColumnType(Kind.INT32)), Column("status", ColumnType(Kind.TEXT))),
    ("id",),
)
NO_KEY = TableSchema("events", SCHEMA.columns)


def _target(destination) -> TargetTable:
    return destination.target(None, "shop", "orders")


def test_merge_updates_by_key_last_row_wins(destination):
    target = _target(destination)
    destination.load(target, SCHEMA, [[(1, "new"), (2, "new"), (3, "new")]], LoadMode.REPLACE)
    before = dict(rows_of(destination, target, f"id, {SYNCED_AT_COLUMN}"))

    result = destination.load(target, SCHEMA, [[(2, "paid"), (4, "new")], [(2, "shipped"), (5, "")]], LoadMode.MERGE)

    assert rows_of(destination, target, "id, status") == [(1, "new"), (2, "shipped"), (3, "new"), (4, "new"), (5, "")]
    after = dict(rows_of(destination, target, f"id, {SYNCED_AT_COLUMN}"))
    assert after[1] == before[1] and after[3] == before[3]  # untouched rows keep their load time
    assert after[2] == after[4] == after[5] > before[2]  # one load time for every row of a load
    assert result.rows_written >= 3


def test_append_without_key_inserts_every_row(destination):
    target = destination.target(None, "shop", "events")
    destination.load(target, NO_KEY, [[(1, "a")]], LoadMode.APPEND)
    destination.load(target, NO_KEY, [[(1, "a"), (2, "b")]], LoadMode.APPEND)
    assert rows_of(destination, target, "id, status", "1, 2") == [(1, "a"), (1, "a"), (2, "b")]


def test_full_refresh_is_invisible_until_it_commits(destination):
    target = _target(destination)
    destination.load(target, SCHEMA, [[(1, "old"), (2, "old")]], LoadMode.REPLACE)
    seen_during_load: list[list[tuple]] = []

    def batches() -> Iterator[list[tuple]]:
        yield [(10, "new")]
        seen_during_load.append(rows_of(destination, target, "id, status"))
        yield [(11, "new"), (10, "newer")]  # a repeated key: the last row read wins
        seen_during_load.append(rows_of(destination, target, "id, status"))

    result = destination.load(target, SCHEMA, batches(), LoadMode.REPLACE)

    assert seen_during_load == [[(1, "old"), (2, "old")]] * 2
    assert rows_of(destination, target, "id, status") == [(10, "newer"), (11, "new")]
    assert result.rows_written == 2
    assert _leftovers(destination) == []


def test_a_failed_load_changes_nothing(destination):
    target = _target(destination)
    destination.load(target, SCHEMA, [[(1, "old")]], LoadMode.REPLACE)

    def failing() -> Iterator[list[tuple]]:
        yield [(1, "changed"), (2, "new")]
        raise RuntimeError("source died mid-read")

    for mode in (LoadMode.MERGE, LoadMode.REPLACE):
        with pytest.raises(RuntimeError, match="source died"):
            destination.load(target, SCHEMA, failing(), mode)
        assert rows_of(destination, target, "id, status") == [(1, "old")]
    assert _leftovers(destination) == []


def test_full_refresh_keeps_dependent_views(destination):
    target = _target(destination)
    destination.load(target, SCHEMA, [[(1, "old")]], LoadMode.REPLACE)
    view = "raw.open_orders" if target.schema else '"open_orders"'
    _execute(destination, f"CREATE VIEW {view} AS SELECT id FROM {table_sql(destination, target)} WHERE status <> 'x'")

    destination.load(target, SCHEMA, [[(7, "new"), (8, "x")]], LoadMode.REPLACE)

    assert query(destination, f"SELECT id FROM {view}") == [(7,)]
    assert rows_of(destination, target, "id, status") == [(7, "new"), (8, "x")]


def test_merge_into_a_target_keyed_differently_says_what_to_do(destination):
    target = _target(destination)
    destination.load(target, NO_KEY, [[(1, "a")]], LoadMode.APPEND)
    with pytest.raises(DestinationError, match=r"primary key is \(none\) in the warehouse but \(id\).*full refresh"):
        destination.load(target, SCHEMA, [[(1, "b")]], LoadMode.MERGE)
    assert rows_of(destination, target, "id, status") == [(1, "a")]


def test_copy_text_chunks_are_loaded_as_they_are(pg_destination):
    """COPY text from a PostgreSQL source, cut at arbitrary bytes, lands exactly like the rows it encodes."""
    schema = TableSchema(
        "texts",
        (
            Column("id", ColumnType(Kind.INT64)),
            Column("body", ColumnType(Kind.TEXT)),
            Column("at", ColumnType(Kind.TIMESTAMPTZ)),
            Column("amount", ColumnType(Kind.DECIMAL, 12, 4)),
        ),
        ("id",),
    )
    with pg_destination.database.connect() as conn:
        conn.execute("SET TIME ZONE 'America/New_York'")  # the source's zone must not matter
        with conn.cursor().copy(
            "COPY (SELECT i, CASE WHEN i % 3 = 0 THEN NULL WHEN i % 3 = 1 THEN '' "
            "ELSE E'tab\\there\\nnew line \\\\ ü ' || i END, "
            "timestamptz '2026-01-01 00:00:00.000001+00' + i * interval '1 hour', i / 7.0::numeric(12,4)"
            " FROM generate_series(1, 500) i) TO STDOUT"
        ) as copy:
            data = b"".join(bytes(block) for block in copy)
    chunks = [CopyChunk(data[i : i + 97]) for i in range(0, len(data), 97)]
    target = pg_destination.target(None, "src", "texts")

    result = pg_destination.load(target, schema, chunks, LoadMode.REPLACE)

    assert result.rows_written == 500
    expected = query(
        pg_destination,
        "SELECT i, CASE WHEN i % 3 = 0 THEN NULL WHEN i % 3 = 1 THEN '' ELSE E'tab\\there\\nnew line \\\\ ü ' || i END,"
        " timestamptz '2026-01-01 00:00:00.000001+00' + i * interval '1 hour', round(i / 7.0, 4)"
        " FROM generate_series(1, 500) i ORDER BY i",
    )
    assert rows_of(pg_destination, target, "id, body, at, amount") == expected


def test_sqlite_refuses_copy_text(sqlite_destination):
    assert sqlite_destination.accepts_copy_text is False
    with pytest.raises(DestinationError, match="COPY text"):
        sqlite_destination.load(_target(sqlite_destination), SCHEMA, [CopyChunk(b"1\ta\n")], LoadMode.MERGE)


@pytest.mark.parametrize(
    ("target_table", "postgres", "sqlite"),
    [
        (None, ("raw", "shop__public_orders"), "raw__shop__public_orders"),
        ("orders_copy", ("raw", "orders_copy"), "raw__orders_copy"),
        ("analytics.orders", ("analytics", "orders"), "analytics__orders"),
    ],
)
def test_target_names(pg_destination, sqlite_destination, target_table, postgres, sqlite):
    assert pg_destination.target(target_table, "shop", "public.orders") == TargetTable(*postgres)
    assert sqlite_destination.target(target_table, "shop", "public.orders") == TargetTable(None, sqlite)


def test_unusable_target_names_are_refused_naming_the_connector(destination):
    with pytest.raises(DestinationError, match=r"connector 'shop', stream 'x'.*target_table"):
        destination.target('bad"name', "shop", "x")
    with pytest.raises(DestinationError, match="shorter"):
        destination.target(None, "shop", "x" * 70)


def test_asset_uris_are_what_airflow_stores(pg_destination, sqlite_destination, pg_database):
    from airflow.sdk import Asset

    pg_uri = pg_destination.asset_uri(TargetTable("raw", "shop__orders"))
    assert pg_uri == f"postgres://127.0.0.1:5432/{pg_database.name}/raw/shop__orders"
    sqlite_uri = sqlite_destination.asset_uri(TargetTable(None, "raw__shop__orders"))
    assert sqlite_uri == f"sqlite://localhost{sqlite_destination.path}/raw__shop__orders"
    for uri in (pg_uri, sqlite_uri):
        assert Asset(uri).uri == uri


def test_default_destination_follows_the_warehouse_connection(pg_database, airflow_connection, atlas_home, tmp_path):
    embedded = default_destination()
    assert isinstance(embedded, SqliteDestination) and embedded.path == (atlas_home / "warehouse.db").resolve()

    airflow_connection("atlas_warehouse", "sqlite://" + quote(str(tmp_path / "wh.db"), safe=""))
    from_conn = default_destination()
    assert isinstance(from_conn, SqliteDestination) and from_conn.path == tmp_path / "wh.db"

    airflow_connection("atlas_warehouse", pg_database.airflow_uri)
    pg = default_destination()
    assert isinstance(pg, PostgresDestination)
    pg.load(TargetTable("raw", "t"), SCHEMA, [[(1, "a")]], LoadMode.REPLACE)
    with pg_database.connect() as conn:
        assert conn.execute("SELECT id, status FROM raw.t").fetchall() == [(1, "a")]


# ------------------------------------------------------------------------------------------ helpers
def _execute(destination, statement: str) -> None:
    if isinstance(destination, PostgresDestination):
        with destination.database.connect() as conn:
            conn.execute(statement)
    else:
        import sqlite3

        with sqlite3.connect(destination.path) as conn:
            conn.execute(statement)


def _leftovers(destination) -> list[str]:
    """Tables a load created on the side and should never leave behind."""
    if isinstance(destination, PostgresDestination):
        rows = query(destination, "SELECT relname FROM pg_class WHERE relname LIKE '\\_atlas\\_%'")
    else:
        rows = query(destination, "SELECT name FROM sqlite_master WHERE name LIKE '\\_atlas\\_%' ESCAPE '\\'")
    return [r[0] for r in rows]


def test_readers_waiting_on_the_swap_read_the_new_table(pg_destination):
    """A full refresh waits for running readers; readers queued behind it then see the new rows, never none."""
    target = _target(pg_destination)
    pg_destination.load(target, SCHEMA, [[(1, "old")]], LoadMode.REPLACE)
    db = pg_destination.database
    with db.connect() as long_reader, db.connect() as late_reader:
        long_reader.execute("BEGIN")
        assert long_reader.execute("SELECT status FROM raw.shop__orders").fetchall() == [("old",)]
        with ThreadPoolExecutor(2) as pool:
            load = pool.submit(pg_destination.load, target, SCHEMA, [[(2, "new")]], LoadMode.REPLACE)
            _wait_for_lock_wait(db, "DROP TABLE%")
            late = pool.submit(lambda: late_reader.execute("SELECT id, status FROM raw.shop__orders").fetchall())
            _wait_for_lock_wait(db, "SELECT id, status FROM raw.shop__orders")
            assert not load.done() and not late.done()
            long_reader.execute("COMMIT")
            assert load.result(timeout=60).rows_written == 1
            assert late.result(timeout=60) == [(2, "new")]


def _wait_for_lock_wait(db, statement: str) -> None:
    with db.connect() as conn:
        for _ in range(1000):
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND query LIKE %s",
                (statement,),
            ).fetchone()[0]
            if waiting:
                return
            time.sleep(0.01)
    raise AssertionError(f"nothing waited on a lock running {statement!r}")
