"""Null-only source columns (every value of the run was null, e.g. a REST field): the target keeps its type.

A run that saw only nulls in ``closed_at`` cannot know the field is a timestamp; the warehouse does, so
the existing column's type wins — no drift error, no ALTER, the NULLs stored — while a real type
change next to it is still refused.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from atlas.destinations.base import LoadMode
from atlas.destinations.postgres import PostgresDestination
from atlas.exceptions import DestinationError
from atlas.schema import NULL_ONLY_SOURCE_TYPE, Column, ColumnType, Kind, TableSchema
from tests.destinations.destination_helpers import query, rows_of, table_sql
from tests.destinations.test_destination_drift import _types

INT32, TEXT, TIMESTAMPTZ = ColumnType(Kind.INT32), ColumnType(Kind.TEXT), ColumnType(Kind.TIMESTAMPTZ)
NULL_ONLY = ColumnType(Kind.TEXT, source_type=NULL_ONLY_SOURCE_TYPE)
CLOSED = datetime(2026, 1, 2, 3, 4, 5, 600007, tzinfo=UTC)
# closed_at and qty are typed by a first run that saw values; later runs see only nulls there.
TYPED = (("id", INT32), ("closed_at", TIMESTAMPTZ), ("qty", INT32), ("name", TEXT))
NULLS = (("id", INT32), ("closed_at", NULL_ONLY), ("qty", NULL_ONLY), ("name", TEXT))
# Portable view of the rows, the same on both warehouses (SQLite stores instants as ISO text).
READ_BACK = "id, closed_at IS NULL, qty, name"


def _schema(columns: tuple[tuple[str, ColumnType], ...], key: tuple[str, ...] = ("id",)) -> TableSchema:
    return TableSchema("items", tuple(Column(n, t) for n, t in columns), key)


def _typed_types(destination) -> dict[str, str]:
    if isinstance(destination, PostgresDestination):
        return {"closed_at": "timestamp with time zone", "qty": "integer"}
    return {"closed_at": "TIMESTAMPTZ_TEXT", "qty": "INTEGER"}


def _load_typed(destination, key: tuple[str, ...] = ("id",)):
    target = destination.target(None, "src", "items")
    rows = [(1, CLOSED, 5, "a"), (2, CLOSED, 6, "b")]
    destination.load(target, _schema(TYPED, key), [rows], LoadMode.REPLACE)
    return target


def test_merge_keeps_the_target_types_and_stores_the_nulls(destination):
    target = _load_typed(destination)
    types_before = _types(destination, target)

    result = destination.load(target, _schema(NULLS), [[(2, None, None, "b2"), (3, None, None, "c")]], LoadMode.MERGE)

    assert result.rows_written == 2
    assert _types(destination, target) == types_before
    assert {c: types_before[c] for c in ("closed_at", "qty")} == _typed_types(destination)
    assert rows_of(destination, target, READ_BACK) == [(1, False, 5, "a"), (2, True, None, "b2"), (3, True, None, "c")]
    # The untouched row kept its instant, to the microsecond.
    (kept,) = query(destination, f"SELECT closed_at FROM {table_sql(destination, target)} WHERE id = 1")
    assert kept[0] in (CLOSED, CLOSED.isoformat(timespec="microseconds"))


def test_append_keeps_the_target_types_and_stores_the_nulls(destination):
    target = _load_typed(destination, key=())
    types_before = _types(destination, target)

    destination.load(target, _schema(NULLS, key=()), [[(3, None, None, "c")]], LoadMode.APPEND)

    assert _types(destination, target) == types_before
    assert rows_of(destination, target, READ_BACK) == [(1, False, 5, "a"), (2, False, 6, "b"), (3, True, None, "c")]


def test_typed_values_load_again_after_a_null_only_run(destination):
    """The point of keeping the type: the run after, which sees timestamps again, is no drift at all."""
    target = _load_typed(destination)
    destination.load(target, _schema(NULLS), [[(2, None, None, "b2")]], LoadMode.MERGE)

    destination.load(target, _schema(TYPED), [[(2, CLOSED, 7, "b3")]], LoadMode.MERGE)

    assert rows_of(destination, target, READ_BACK) == [(1, False, 5, "a"), (2, False, 7, "b3")]


def test_a_full_refresh_keeps_the_type_of_an_existing_column(destination):
    """REPLACE builds a new table from the source's columns; a null-only one takes the old table's type,
    so the next incremental run with real timestamps is not refused as text -> timestamptz."""
    target = _load_typed(destination)

    destination.load(target, _schema(NULLS), [[(1, None, None, "a")]], LoadMode.REPLACE)

    assert {c: _types(destination, target)[c] for c in ("closed_at", "qty")} == _typed_types(destination)
    assert rows_of(destination, target, READ_BACK) == [(1, True, None, "a")]
    destination.load(target, _schema(TYPED), [[(2, CLOSED, 7, "b")]], LoadMode.MERGE)
    assert rows_of(destination, target, READ_BACK) == [(1, True, None, "a"), (2, False, 7, "b")]


def test_a_null_only_column_the_target_lacks_waits_for_its_first_value(destination):
    """Created as text now, `note` would refuse its real type later: it is left out until a value comes."""
    target = _load_typed(destination)

    grown = _schema((*NULLS, ("note", NULL_ONLY)))
    destination.load(target, grown, [[(3, None, None, "c", None)]], LoadMode.MERGE)

    assert "note" not in _types(destination, target)
    assert rows_of(destination, target, READ_BACK) == [(1, False, 5, "a"), (2, False, 6, "b"), (3, True, None, "c")]
    destination.load(target, _schema((*TYPED, ("note", TIMESTAMPTZ))), [[(4, CLOSED, 1, "d", CLOSED)]], LoadMode.MERGE)
    assert _types(destination, target)["note"] == _typed_types(destination)["closed_at"]
    assert rows_of(destination, target, "id, note IS NULL") == [(1, True), (2, True), (3, True), (4, False)]


def test_a_new_table_leaves_null_only_columns_out_until_they_have_values(destination):
    target = destination.target(None, "src", "items")

    destination.load(target, _schema(NULLS), [[(1, None, None, "a")]], LoadMode.MERGE)
    assert {"closed_at", "qty"}.isdisjoint(_types(destination, target))

    destination.load(target, _schema(TYPED), [[(2, CLOSED, 7, "b")]], LoadMode.MERGE)
    assert {c: _types(destination, target)[c] for c in ("closed_at", "qty")} == _typed_types(destination)
    assert rows_of(destination, target, READ_BACK) == [(1, True, None, "a"), (2, False, 7, "b")]


def test_a_real_type_change_next_to_a_null_only_column_is_still_refused(destination):
    target = _load_typed(destination)
    types_before = _types(destination, target)

    changed = _schema(
        (("id", INT32), ("closed_at", NULL_ONLY), ("qty", ColumnType(Kind.TEXT, source_type="varchar(20)")))
    )
    with pytest.raises(DestinationError) as error:
        destination.load(target, changed, [[(3, None, "three")]], LoadMode.MERGE)

    message = str(error.value)
    assert "'qty'" in message and "varchar(20)" in message and "closed_at" not in message
    assert _types(destination, target) == types_before
    assert rows_of(destination, target, "id") == [(1,), (2,)]


@pytest.mark.parametrize("declared", ["character varying(20)", "integer[]"])
def test_postgres_null_only_fits_types_atlas_does_not_create(pg_destination, declared):
    """A column retyped by hand (varchar(n), which Atlas would read as text; an array Atlas has no kind
    for) is neither altered nor refused by a merge: the staging table is typed like the target."""
    target = _load_typed(pg_destination)
    with pg_destination.database.connect() as conn:
        conn.execute(f"ALTER TABLE {table_sql(pg_destination, target)} ALTER COLUMN name TYPE {declared} USING NULL")
    only_name_null = (("id", INT32), ("closed_at", TIMESTAMPTZ), ("qty", INT32), ("name", NULL_ONLY))

    pg_destination.load(target, _schema(only_name_null), [[(3, CLOSED, 8, None)]], LoadMode.MERGE)

    assert _types(pg_destination, target)["name"] == declared
    assert rows_of(pg_destination, target, "id, qty, name") == [(1, 5, None), (2, 6, None), (3, 8, None)]
