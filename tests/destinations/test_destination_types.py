"""Type mapping: every portable Kind lands in the warehouse exactly (precision, microseconds, zones, NULL vs '')."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from atlas.destinations.base import SYNCED_AT_COLUMN, LoadMode
from atlas.destinations.postgres import pg_type
from atlas.destinations.sqlite import sqlite_type
from atlas.schema import Column, ColumnType, Kind, TableSchema
from tests.destinations.destination_helpers import query, rows_of

UUID = uuid.UUID("0b5e2a55-96a5-4b6c-8f0e-6b1f9d2c3a47")
PLUS_0530 = timezone(timedelta(hours=5, minutes=30))

SCHEMA = TableSchema(
    "every_kind",
    (
        Column("id", ColumnType(Kind.INT64), nullable=False),
        Column("flag", ColumnType(Kind.BOOLEAN)),
        Column("small", ColumnType(Kind.INT16)),
        Column("medium", ColumnType(Kind.INT32)),
        Column("money", ColumnType(Kind.DECIMAL, 38, 10)),
        Column("unsigned_big", ColumnType(Kind.DECIMAL, 20, 0, source_type="bigint unsigned")),
        Column("any_numeric", ColumnType(Kind.DECIMAL)),
        Column("f32", ColumnType(Kind.FLOAT32)),
        Column("f64", ColumnType(Kind.FLOAT64)),
        Column("label", ColumnType(Kind.TEXT)),
        Column("blob", ColumnType(Kind.BINARY)),
        Column("day", ColumnType(Kind.DATE)),
        Column("clock", ColumnType(Kind.TIME)),
        Column("wall", ColumnType(Kind.TIMESTAMP)),
        Column("instant", ColumnType(Kind.TIMESTAMPTZ)),
        Column("span", ColumnType(Kind.INTERVAL)),
        Column("doc", ColumnType(Kind.JSON)),
        Column("uid", ColumnType(Kind.UUID)),
    ),
    ("id",),
)

ROW = (
    1,
    True,
    -32768,
    2147483647,
    Decimal("1234567890123456789012345678.0123456789"),
    Decimal("18446744073709551615"),
    Decimal("0.1000000000000000000000000000000000000000001"),
    1.5,
    0.1,
    "naïve café ✓ 😀",
    b"\x00\x01\xff'\\",
    date(1999, 12, 31),
    time(23, 59, 59, 999999),
    datetime(2026, 3, 29, 2, 30, 0, 1),  # naive: kept as the wall-clock value it is
    datetime(2026, 11, 26, 23, 59, 59, 123456, tzinfo=PLUS_0530),
    timedelta(days=3, seconds=7, microseconds=5),
    {"name": "Zoë", "tags": ["a", None], "n": 1.25, "nested": {"ok": True}},
    UUID,
)
EMPTY_ROW = (
    2,
    False,
    0,
    0,
    Decimal("0"),
    Decimal("0"),
    Decimal("-0.5"),
    0.0,
    -0.0,
    "",
    b"",
    None,
    None,
    None,
    None,
    None,
    [],
    None,
)
NULL_ROW = (3, *([None] * (len(SCHEMA.columns) - 1)))


def test_postgres_types_follow_the_portable_types(pg_destination):
    target = pg_destination.target(None, "src", "every_kind")
    pg_destination.load(target, SCHEMA, [[ROW, EMPTY_ROW, NULL_ROW]], LoadMode.REPLACE)

    catalog = dict(
        query(
            pg_destination,
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = 'raw.src__every_kind'::regclass AND attnum > 0",
        )
    )
    assert catalog == {c.name: pg_type(c.type) for c in SCHEMA.columns} | {SYNCED_AT_COLUMN: "timestamp with time zone"}
    assert catalog["money"] == "numeric(38,10)"
    assert catalog["unsigned_big"] == "numeric(20,0)"
    assert catalog["doc"] == "jsonb"

    columns = ", ".join(SCHEMA.column_names)
    loaded = rows_of(pg_destination, target, columns)
    assert loaded[0][:14] == ROW[:14]
    assert loaded[0][14] == ROW[14] and loaded[0][14].utcoffset() == timedelta(0)
    assert loaded[0][14].astimezone(UTC) == datetime(2026, 11, 26, 18, 29, 59, 123456, tzinfo=UTC)
    assert loaded[0][15:] == ROW[15:]
    assert loaded[1] == EMPTY_ROW  # '' and b'' stay empty, not NULL
    assert loaded[2] == NULL_ROW


def test_sqlite_stores_lossless_text_where_sqlite_would_round(sqlite_destination):
    target = sqlite_destination.target(None, "src", "every_kind")
    assert target.name == "raw__src__every_kind"
    sqlite_destination.load(target, SCHEMA, [[ROW, EMPTY_ROW, NULL_ROW]], LoadMode.REPLACE)

    declared = dict(query(sqlite_destination, "SELECT name, type FROM pragma_table_info(?)", (target.name,)))
    assert declared == {c.name: sqlite_type(c.type) for c in SCHEMA.columns} | {SYNCED_AT_COLUMN: "TIMESTAMPTZ_TEXT"}

    columns = ", ".join(SCHEMA.column_names)
    first, empty, null = rows_of(sqlite_destination, target, columns)
    assert first == (
        1,
        1,
        -32768,
        2147483647,
        "1234567890123456789012345678.0123456789",
        "18446744073709551615",
        "0.1000000000000000000000000000000000000000001",
        1.5,
        0.1,
        "naïve café ✓ 😀",
        b"\x00\x01\xff'\\",
        "1999-12-31",
        "23:59:59.999999",
        "2026-03-29T02:30:00.000001",
        "2026-11-26T18:29:59.123456+00:00",
        "3 days, 0:00:07.000005",
        first[16],
        str(UUID),
    )
    assert json.loads(first[16]) == ROW[16]
    assert empty[9:11] == ("", b"") and empty[16] == "[]"
    assert null == NULL_ROW
    # The affinity of the *_TEXT declarations really is TEXT: the decimal digits were not turned into a float.
    assert query(
        sqlite_destination,
        f'SELECT typeof(money), typeof(unsigned_big), typeof(wall) FROM "{target.name}" WHERE id = 1',
    ) == [("text", "text", "text")]


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_has_a_type_that_reads_back(kind):
    from atlas.destinations import postgres, sqlite

    assert postgres.column_type(pg_type(ColumnType(kind))) == ColumnType(kind)
    assert sqlite.column_type(sqlite_type(ColumnType(kind))) == ColumnType(kind)
    assert "INT" not in sqlite_type(ColumnType(kind)) or kind in (Kind.INT16, Kind.INT32, Kind.INT64)
