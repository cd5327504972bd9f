"""Record selection, type inference and conversion: pure functions, no server needed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from atlas.http.records import RecordError, RowConverter, SchemaBuilder, join_kinds, kind_of, lookup, select_records
from atlas.schema import NULL_ONLY_SOURCE_TYPE, Kind


def test_lookup_paths():
    body = {"data": {"results": [{"id": 1}, {"id": 2}]}, "n": 0}
    assert lookup(body, None) is body and lookup(body, "$") is body
    assert lookup(body, "data.results.1.id") == 2
    assert lookup(body, "data.results.-1.id") == 2
    assert lookup(body, "n") == 0
    assert lookup(body, "data.missing", default=None) is None
    with pytest.raises(RecordError, match=r"the body has no 'data.next' \(missing at 'next'\)"):
        lookup(body, "data.next")


def test_select_records():
    assert select_records([{"a": 1}], None) == [{"a": 1}]
    with pytest.raises(RecordError, match="expected a list of records as the body, got a JSON object"):
        select_records({"a": 1}, None)
    with pytest.raises(RecordError, match="record 1 is a JSON string"):
        select_records({"items": [{}, "x"]}, "items")


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (None, None), (True, Kind.BOOLEAN), (3, Kind.INT64), (2**70, Kind.DECIMAL), (1.5, Kind.FLOAT64),
        ("hello", Kind.TEXT), ("2026-01-02T03:04:05Z", Kind.TIMESTAMPTZ),
        ("2026-01-02T03:04:05.123+02:00", Kind.TIMESTAMPTZ),
        ("2026-01-02 03:04:05", Kind.TIMESTAMP), ("2026-01-02", Kind.DATE), ("2026-01-02 later", Kind.TEXT),
        ({"a": 1}, Kind.JSON), ([1, 2], Kind.JSON),
    ],
)
def test_kind_of(value, kind):
    assert kind_of(value) == kind


def test_join_kinds():
    assert join_kinds(None, Kind.INT64) == Kind.INT64
    assert join_kinds(Kind.INT64, Kind.FLOAT64) == Kind.FLOAT64
    assert join_kinds(Kind.INT64, Kind.DECIMAL) == Kind.DECIMAL
    assert join_kinds(Kind.TIMESTAMPTZ, Kind.TEXT) == Kind.TEXT
    assert join_kinds(Kind.DATE, Kind.TIMESTAMP) == Kind.TEXT
    assert join_kinds(Kind.INT64, Kind.TEXT) == Kind.JSON
    assert join_kinds(Kind.BOOLEAN, Kind.INT64) == Kind.JSON


def test_schema_builder_and_rows():
    builder = SchemaBuilder({"code": Kind.TEXT})
    records = [
        {"id": 1, "code": 7, "at": "2026-01-02T03:04:05Z", "n": 1, "gone": None, "mixed": "a"},
        {"id": 2, "code": "x", "at": "2026-01-02T03:04:06Z", "n": 2.5, "big": 2**70, "mixed": 5, "day": "2026-02-03"},
    ]
    builder.add(records)
    schema = builder.schema("s", ("id",))
    kinds = {c.name: c.type.kind for c in schema.columns}
    assert kinds == {"id": Kind.INT64, "code": Kind.TEXT, "at": Kind.TIMESTAMPTZ, "n": Kind.FLOAT64,
                     "gone": Kind.TEXT, "mixed": Kind.JSON, "big": Kind.DECIMAL, "day": Kind.DATE}
    assert schema.column("gone").type.source_type == NULL_ONLY_SOURCE_TYPE
    assert schema.primary_key == ("id",) and not schema.column("id").nullable
    convert = RowConverter(schema, builder.pinned)
    assert convert.row(records[0]) == (1, "7", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), 1.0, None, "a", None, None)
    assert convert.row(records[1])[6:] == (Decimal(2**70), date(2026, 2, 3))


def test_values_that_do_not_fit_are_named():
    builder = SchemaBuilder({"n": Kind.INT64})
    builder.add([{"n": "seven"}])
    with pytest.raises(RecordError, match=r"field 'n': value 'seven' does not fit its column type"):
        RowConverter(builder.schema("s"), builder.pinned).row({"n": "seven"})


def test_unsafe_field_names_are_refused():
    with pytest.raises(RecordError, match=r"field 'a\"b' cannot be a column"):
        SchemaBuilder().add([{'a"b': 1}])
