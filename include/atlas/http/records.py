"""From JSON bodies to typed rows: the record path, column type inference and value conversion.

A stream's columns are the union of the records' top-level fields, in first-seen order. Scalars get
typed columns; objects and arrays are kept whole as JSON. Types are inferred from every value the run
read (see :class:`SchemaBuilder`), unless the connector pins them in ``column_types``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from atlas.models import check_identifier
from atlas.schema import NULL_ONLY_SOURCE_TYPE, Column, ColumnType, Kind, TableSchema

_MISSING = object()
_INT64 = range(-(2**63), 2**63)
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
    return datetime.fromisoformat(text)


def _string_kind(value: str) -> Kind:
    # ``fromisoformat`` alone also takes compact forms ("20260101"); the shape check first keeps
    # plain text such as numeric codes out, and is far cheaper than a regular expression.
    size = len(value)
    if size < 10 or value[4] != "-" or value[7] != "-":
        return Kind.TEXT
    try:
        if size == 10:
            date.fromisoformat(value)
            return Kind.DATE
        if size >= 16 and value[10] in "T ":
            return Kind.TIMESTAMPTZ if datetime.fromisoformat(value).tzinfo else Kind.TIMESTAMP
    except ValueError:
        pass
    return Kind.TEXT


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
        return _string_kind(value)
    return Kind.JSON


#: A value of this Python type never changes a field of this kind (TEXT is the widest string kind).
_STABLE: dict[type, Kind] = {
    str: Kind.TEXT, bool: Kind.BOOLEAN, float: Kind.FLOAT64, dict: Kind.JSON, list: Kind.JSON
}


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


#: Kinds a value can leave without changing its Python type: a string that is not a timestamp, an
#: int beyond 64 bits. Fields of these kinds are checked value by value.
_VALUE_CHECKED = frozenset({Kind.TIMESTAMPTZ, Kind.TIMESTAMP, Kind.DATE, Kind.INT64})


class SchemaBuilder:
    """Accumulates the fields and kinds of the records of a run (memory: one entry per field).

    Records of one API mostly share one shape (the same keys with values of the same Python types).
    Once a shape has been seen without changing any kind, later records of that shape only have their
    value-checked fields looked at: type inference costs little per record.
    """

    def __init__(self, pinned: dict[str, Kind] | None = None):
        self.pinned = dict(pinned or {})
        self.kinds: dict[str, Kind | None] = {}
        self._settled_shapes: set[tuple[tuple[str, ...], tuple[type, ...]]] = set()
        self._checked: dict[str, Kind] = {}

    def add(self, records: Iterable[dict[str, Any]]) -> None:
        settled, checked = self._settled_shapes, self._checked
        for record in records:
            shape = (tuple(record), tuple(map(type, record.values())))
            if shape not in settled:
                if not self._add_record(record):
                    settled.add(shape)
                continue
            for name, seen in list(checked.items()):
                value = record[name]
                if value is None or (seen is Kind.INT64 and value in _INT64):
                    continue
                kind = kind_of(value)
                if kind is not seen:
                    self._widen(name, seen, kind)

    def _add_record(self, record: dict[str, Any]) -> bool:
        """Account for every value of ``record``; True when a field was new or its kind changed."""
        changed = False
        kinds, stable = self.kinds, _STABLE
        for name, value in record.items():
            seen = kinds.get(name, _MISSING)
            if seen is _MISSING:
                self._first(name, value)
                changed = True
                continue
            if value is None or seen is Kind.JSON:
                continue
            value_type = type(value)
            if stable.get(value_type) is seen or (value_type is int and seen is Kind.INT64 and value in _INT64):
                continue
            kind = kind_of(value)
            if kind is not seen:
                changed = self._widen(name, seen, kind) or changed
        return changed

    def _widen(self, name: str, seen: Kind | None, kind: Kind) -> bool:
        if name in self.pinned:
            return False
        joined = join_kinds(seen, kind)
        self.kinds[name] = joined
        self._track(name, joined)
        return joined is not seen

    def _first(self, name: str, value: Any) -> None:
        if name in self.pinned:
            self.kinds[name] = self.pinned[name]
            return
        try:
            check_identifier(name, allow_schema=False)
        except ValueError as exc:
            raise RecordError(f"field {name!r} cannot be a column: {exc}") from None
        self.kinds[name] = kind = kind_of(value)
        self._track(name, kind)

    def _track(self, name: str, kind: Kind | None) -> None:
        if kind in _VALUE_CHECKED:
            self._checked[name] = kind
        else:
            self._checked.pop(name, None)

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
    Kind.INT16: int,
    Kind.INT32: int,
    Kind.INT64: int,
    Kind.DECIMAL: _to_decimal,
    Kind.FLOAT32: float,
    Kind.FLOAT64: float,
    Kind.TIMESTAMP: _to_timestamp,
    Kind.TIMESTAMPTZ: _to_timestamp,
    Kind.DATE: _to_date,
    Kind.TEXT: _to_text,
}


#: Kinds whose inferred values already have the right Python type (only pinned columns convert).
_NATIVE = frozenset({Kind.INT64, Kind.TEXT})


class RowConverter:
    """Turns records into tuples in the schema's column order, each value converted to its kind."""

    def __init__(self, schema: TableSchema, pinned: Iterable[str] = ()):
        pinned = set(pinned)
        self.names = schema.column_names
        self.conversions = [
            (index, column.name, _CONVERTERS[column.type.kind])
            for index, column in enumerate(schema.columns)
            if column.type.kind in _CONVERTERS and (column.name in pinned or column.type.kind not in _NATIVE)
        ]

    def row(self, record: dict[str, Any]) -> tuple[Any, ...]:
        get = record.get
        values = [get(name) for name in self.names]
        for index, name, convert in self.conversions:
            value = values[index]
            if value is not None:
                try:
                    values[index] = convert(value)
                except (TypeError, ValueError, ArithmeticError):
                    raise RecordError(
                        f"field {name!r}: value {str(value)[:80]!r} does not fit its column type"
                    ) from None
        return tuple(values)
