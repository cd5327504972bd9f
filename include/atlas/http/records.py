"""From JSON bodies to typed rows: the record path, column type inference and value conversion.

A stream's columns are the union of the records' top-level fields, in first-seen order. Scalars get
typed columns; objects and arrays are kept whole as JSON. Types are inferred from every value the run
read (see :class:`SchemaBuilder`), unless the connector pins them in ``column_types``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from atlas.models import check_identifier
from atlas.schema import NULL_ONLY_SOURCE_TYPE, Column, ColumnType, Kind, TableSchema

_MISSING = object()
_INT64 = range(-(2**63), 2**63)
# Strict ISO 8601: APIs send timestamps like this; anything looser stays text.
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(?P<tz>Z|[+-]\d{2}:?\d{2})?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_STRINGY = frozenset({Kind.TEXT, Kind.DATE, Kind.TIMESTAMP, Kind.TIMESTAMPTZ})


class RecordError(ValueError):
    """The body is not what the connector describes; the message says what was expected."""


def lookup(body: Any, path: str | None, default: Any = _MISSING) -> Any:
    """The value at a dotted ``path`` (``data.results``, ``items.0.id``); the body itself for no path."""
    if not path or path == "$":
        return body
    value = body
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        elif default is not _MISSING:
            return default
        else:
            raise RecordError(f"the body has no {path!r} (missing at {part!r})")
    return value


def select_records(body: Any, path: str | None) -> list[dict[str, Any]]:
    """The list of records at ``path``; every record must be a JSON object."""
    records = lookup(body, path)
    where = f"at {path!r}" if path else "as the body"
    if not isinstance(records, list):
        raise RecordError(f"expected a list of records {where}, got a JSON {_json_type(records)}")
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise RecordError(f"expected JSON objects {where}, record {index} is a JSON {_json_type(record)}")
    return records


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 timestamp (``Z`` accepted) as a datetime; aware when the text has an offset."""
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))


def kind_of(value: Any) -> Kind | None:
    """The column kind a single JSON value suggests; None for null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return Kind.BOOLEAN
    if isinstance(value, int):
        return Kind.INT64 if value in _INT64 else Kind.DECIMAL
    if isinstance(value, float):
        return Kind.FLOAT64
    if isinstance(value, str):
        match = _DATETIME.match(value)
        if match:
            return Kind.TIMESTAMPTZ if match["tz"] else Kind.TIMESTAMP
        return Kind.DATE if _DATE.match(value) else Kind.TEXT
    return Kind.JSON


def join_kinds(a: Kind | None, b: Kind | None) -> Kind | None:
    """The narrowest kind holding values of both: numbers widen, strings fall back to text, else JSON."""
    if a is None or a == b:
        return b
    if b is None:
        return a
    pair = {a, b}
    if pair <= {Kind.INT64, Kind.DECIMAL}:
        return Kind.DECIMAL
    if pair <= {Kind.INT64, Kind.DECIMAL, Kind.FLOAT64}:
        return Kind.FLOAT64
    if pair <= _STRINGY:
        return Kind.TEXT
    return Kind.JSON


class SchemaBuilder:
    """Accumulates the fields and kinds of the records of a run (memory: one entry per field)."""

    def __init__(self, pinned: dict[str, Kind] | None = None):
        self.pinned = dict(pinned or {})
        self.kinds: dict[str, Kind | None] = {}

    def add(self, records: Iterable[dict[str, Any]]) -> None:
        kinds = self.kinds
        for record in records:
            for name, value in record.items():
                if name in self.pinned:
                    kinds.setdefault(name, self.pinned[name])
                    continue
                seen = kinds.get(name, _MISSING)
                if seen is _MISSING:
                    try:
                        check_identifier(name, allow_schema=False)
                    except ValueError as exc:
                        raise RecordError(f"field {name!r} cannot be a column: {exc}") from None
                    kinds[name] = kind_of(value)
                elif value is not None:
                    kinds[name] = join_kinds(seen, kind_of(value))

    def schema(self, name: str, primary_key: tuple[str, ...] = ()) -> TableSchema:
        columns = []
        for field, kind in self.kinds.items():
            if kind is None:
                # Only nulls this run: TEXT is a placeholder, flagged so a destination keeps its own type.
                columns.append(Column(field, ColumnType(Kind.TEXT, source_type=NULL_ONLY_SOURCE_TYPE)))
            else:
                columns.append(Column(field, ColumnType(kind, source_type=f"json {kind.value}"),
                                      nullable=field not in primary_key))
        return TableSchema(name, tuple(columns), primary_key)


def _to_decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if isinstance(value, float) else Decimal(value)


def _to_timestamp(value: Any) -> datetime:
    return parse_timestamp(value)


def _to_date(value: Any) -> date:
    return date.fromisoformat(value)


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, separators=(",", ":"))


_CONVERTERS = {
    Kind.INT64: int,
    Kind.DECIMAL: _to_decimal,
    Kind.FLOAT64: float,
    Kind.TIMESTAMP: _to_timestamp,
    Kind.TIMESTAMPTZ: _to_timestamp,
    Kind.DATE: _to_date,
    Kind.TEXT: _to_text,
}


class RowConverter:
    """Turns records into tuples in the schema's column order, each value converted to its kind."""

    def __init__(self, schema: TableSchema):
        self.names = schema.column_names
        self.converters = [_CONVERTERS.get(c.type.kind) for c in schema.columns]

    def row(self, record: dict[str, Any]) -> tuple[Any, ...]:
        get = record.get
        values = []
        for name, convert in zip(self.names, self.converters, strict=True):
            value = get(name)
            if value is not None and convert is not None:
                try:
                    value = convert(value)
                except (TypeError, ValueError, ArithmeticError):
                    raise RecordError(
                        f"field {name!r}: value {str(value)[:80]!r} does not fit its column type"
                    ) from None
            values.append(value)
        return tuple(values)
