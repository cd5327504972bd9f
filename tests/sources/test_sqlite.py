"""SqliteSource on a real SQLite file through the sqlite provider's hook: declared-type mapping with
exact values, ISO-text timestamp cursors, custom-query types, and connection messages."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

from atlas.schema import Kind
from atlas.watermark import Watermark
from tests.sources.conftest import Backend, read_all, rows

EVERYTHING = """
CREATE TABLE everything (
    id INTEGER PRIMARY KEY, flag BOOLEAN, n BIGINT, price DECIMAL(10, 2), ratio REAL, name VARCHAR(20),
    body TEXT, data BLOB, born DATE, at TIME, seen DATETIME, doc JSON, ref UUID, anything
)
"""
EXPECTED_KINDS = {
    "id": Kind.INT64,
    "flag": Kind.BOOLEAN,
    "n": Kind.INT64,
    "price": Kind.DECIMAL,
    "ratio": Kind.FLOAT64,
    "name": Kind.TEXT,
    "body": Kind.TEXT,
    "data": Kind.BINARY,
    "born": Kind.DATE,
    "at": Kind.TIME,
    "seen": Kind.TIMESTAMP,
    "doc": Kind.JSON,
    "ref": Kind.UUID,
    "anything": Kind.TEXT,
}


def test_declared_types_map_to_kinds_and_values_round_trip(sqlite: Backend) -> None:
    sqlite.execute(
        EVERYTHING,
        (
            "INSERT INTO everything VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (1, 1, -(2**63), "12345678.91", 0.1, "😀 ü", "tab\tnew\nline\\", b"\x00\xff", "1999-12-31",
                 "23:59:59.999999", "2026-03-01 12:00:00.123456", '{"a": [1, null]}', "5c0e8a3e", "as is"),
                (2, 0, None, None, None, "", None, None, None, None, None, None, None, None),
            ],
        ),
    )  # fmt: skip
    source = sqlite.source({"table": "everything"})
    schema = source.discover("everything")
    assert {c.name: c.type.kind for c in schema.columns} == EXPECTED_KINDS
    assert (schema.column("price").type.precision, schema.column("price").type.scale) == (10, 2)
    assert schema.column("price").type.source_type == "DECIMAL(10, 2)" and schema.primary_key == ("id",)
    assert rows(source, "everything") == [
        (1, True, -(2**63), Decimal("12345678.91"), 0.1, "😀 ü", "tab\tnew\nline\\", b"\x00\xff",
         date(1999, 12, 31), time(23, 59, 59, 999999), datetime(2026, 3, 1, 12, 0, 0, 123456), {"a": [1, None]},
         "5c0e8a3e", "as is"),
        (2, False, None, None, None, "", None, None, None, None, None, None, None, None),
    ]  # fmt: skip


def test_iso_text_cursors_compare_as_times_whatever_the_spelling(sqlite: Backend) -> None:
    """'T' or ' ', 3 or 6 fraction digits: the bound is inclusive and exact to the microsecond."""
    sqlite.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, updated_at DATETIME)",
        (
            "INSERT INTO events VALUES (?, ?)",
            [(1, "2026-03-01 12:00:00.1"), (2, "2026-03-01T12:00:00.123"), (3, "2026-03-01 12:00:00.123000"),
             (4, "2026-03-01 12:00:00.123001"), (5, "2026-03-01 12:00:01")],
        ),
    )  # fmt: skip
    source = sqlite.source(incremental=True, timestamp_column="updated_at")
    since = Watermark.of("updated_at", datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC))
    batches, upper, _ = read_all(source, "events", cursor="updated_at", lower_bound=since)
    assert sorted(r[0] for b in batches for r in b) == [2, 3, 4, 5]
    assert upper == Watermark.of("updated_at", datetime(2026, 3, 1, 12, 0, 1, tzinfo=UTC))


def test_custom_query_columns_carry_declared_types(sqlite: Backend) -> None:
    sqlite.execute(
        EVERYTHING,
        "INSERT INTO everything (id, price, seen) VALUES (1, '2.50', '2026-01-01 00:00:00')",
    )
    source = sqlite.source({"query": "SELECT id, price, seen FROM everything"}, target_table="priced")
    schema = source.discover("priced")
    assert [c.type.kind for c in schema.columns] == [Kind.INT64, Kind.DECIMAL, Kind.TIMESTAMP]
    assert rows(source, "priced") == [(1, Decimal("2.5"), datetime(2026, 1, 1))]


def test_test_connection_names_a_missing_database_file(sqlite: Backend, tmp_path: Path, airflow_connection) -> None:
    missing = tmp_path / "nowhere" / "source.db"
    airflow_connection("missing_file", "sqlite://" + quote(str(missing), safe=""))
    ok, message = sqlite.source(conn_id="missing_file").test_connection()
    assert not ok and str(missing) in message and "does not exist" in message and "conn_id" in message, message
    assert not missing.exists()  # not created by the check

    airflow_connection("no_host", "sqlite:///relative.db")
    ok, message = sqlite.source(conn_id="no_host").test_connection()
    assert not ok and "host must be the database file path" in message, message
