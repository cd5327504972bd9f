"""Schema drift: new columns are added, widened types are widened, anything else is refused and changes nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from atlas.destinations.base import LoadMode, TargetTable
from atlas.destinations.postgres import PostgresDestination
from atlas.exceptions import DestinationError
from atlas.schema import Column, ColumnType, Kind, TableSchema
from tests.destinations.destination_helpers import query, rows_of

INT32, INT64, TEXT = ColumnType(Kind.INT32), ColumnType(Kind.INT64), ColumnType(Kind.TEXT)


def _schema(*columns: tuple[str, ColumnType]) -> TableSchema:
    return TableSchema("items", tuple(Column(n, t) for n, t in columns), ("id",))


def _types(destination, target: TargetTable) -> dict[str, str]:
    if isinstance(destination, PostgresDestination):
        return dict(
            query(
                destination,
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
                " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                (f'"{target.schema}"."{target.name}"',),
            )
        )
    return dict(query(destination, "SELECT name, type FROM pragma_table_info(?)", (target.name,)))


def test_a_new_source_column_is_added(destination):
    target = destination.target(None, "src", "items")
    destination.load(target, _schema(("id", INT32), ("qty", INT32)), [[(1, 5)]], LoadMode.REPLACE)

    grown = _schema(("id", INT32), ("qty", INT32), ("note", TEXT))
    destination.load(target, grown, [[(2, 6, "hello")]], LoadMode.MERGE)

    assert rows_of(destination, target, "id, qty, note") == [(1, 5, None), (2, 6, "hello")]


def test_a_widened_type_is_widened_and_values_kept(destination):
    target = destination.target(None, "src", "items")
    destination.load(target, _schema(("id", INT32), ("qty", INT32)), [[(1, 2_000_000_000)]], LoadMode.REPLACE)

    destination.load(target, _schema(("id", INT32), ("qty", INT64)), [[(2, 9_000_000_000)]], LoadMode.MERGE)

    assert _types(destination, target)["qty"] in ("bigint", "BIGINT")
    assert rows_of(destination, target, "id, qty") == [(1, 2_000_000_000), (2, 9_000_000_000)]


def test_sqlite_widening_rewrites_stored_values(sqlite_destination):
    """SQLite cannot ALTER a column's type: the table is rebuilt, and stored values take the new form."""
    target = sqlite_destination.target(None, "src", "items")
    before = _schema(("id", INT32), ("amount", INT32), ("day", ColumnType(Kind.DATE)))
    sqlite_destination.load(target, before, [[(1, 7, date(2026, 1, 2))]], LoadMode.REPLACE)

    after = _schema(("id", INT32), ("amount", ColumnType(Kind.DECIMAL, 12, 2)), ("day", ColumnType(Kind.TIMESTAMP)))
    sqlite_destination.load(target, after, [[(2, Decimal("7.10"), None)]], LoadMode.MERGE)

    assert _types(sqlite_destination, target)["amount"] == "DECIMAL_TEXT(12,2)"
    assert rows_of(sqlite_destination, target, "id, amount, typeof(amount), day") == [
        (1, "7", "text", "2026-01-02T00:00:00.000000"),
        (2, "7.10", "text", None),
    ]


def test_a_narrowed_source_type_keeps_the_wider_target(destination):
    target = destination.target(None, "src", "items")
    destination.load(target, _schema(("id", INT32), ("qty", INT64)), [[(1, 9_000_000_000)]], LoadMode.REPLACE)

    destination.load(target, _schema(("id", INT32), ("qty", INT32)), [[(2, 3)]], LoadMode.MERGE)

    assert _types(destination, target)["qty"] in ("bigint", "BIGINT")
    assert rows_of(destination, target, "id, qty") == [(1, 9_000_000_000), (2, 3)]


def test_an_incompatible_change_is_refused_naming_table_column_and_types(destination):
    target = destination.target(None, "src", "items")
    destination.load(target, _schema(("id", INT32), ("qty", INT32)), [[(1, 5)]], LoadMode.REPLACE)
    types_before = _types(destination, target)

    changed = _schema(("id", INT32), ("new_col", TEXT), ("qty", ColumnType(Kind.TEXT, source_type="varchar(20)")))
    with pytest.raises(DestinationError) as error:
        destination.load(target, changed, [[(2, "x", "five")]], LoadMode.MERGE)

    message = str(error.value)
    assert str(target) in message and "'qty'" in message
    assert ("from integer to text" in message) or ("from INTEGER to TEXT" in message)
    assert "varchar(20)" in message and "full refresh" in message
    # Nothing of the failed load stayed: no row, no added column.
    assert _types(destination, target) == types_before
    assert rows_of(destination, target, "id, qty") == [(1, 5)]


def test_a_full_refresh_rebuilds_with_the_new_type(destination):
    target = destination.target(None, "src", "items")
    destination.load(target, _schema(("id", INT32), ("qty", INT32)), [[(1, 5)]], LoadMode.REPLACE)

    destination.load(target, _schema(("id", INT32), ("qty", TEXT)), [[(1, "five")]], LoadMode.REPLACE)

    assert _types(destination, target)["qty"] in ("text", "TEXT")
    assert rows_of(destination, target, "id, qty") == [(1, "five")]
