"""The portable description of a stream's columns: what sources discover and destinations create.

Sources map their catalog types onto :class:`Kind`; destinations map :class:`Kind` onto theirs. Keeping
one small vocabulary in between is what lets every source load into every destination faithfully.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    BOOLEAN = "boolean"
    INT16 = "int16"
    INT32 = "int32"
    INT64 = "int64"
    DECIMAL = "decimal"  # precision/scale when known; unsigned BIGINT is DECIMAL(20, 0)
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    TEXT = "text"
    BINARY = "binary"
    DATE = "date"
    TIME = "time"
    TIMESTAMP = "timestamp"  # naive: interpreted in the connector's source_timezone
    TIMESTAMPTZ = "timestamptz"  # an instant
    INTERVAL = "interval"
    JSON = "json"
    UUID = "uuid"


#: Lossless widenings a destination may apply when a source column's type grows.
WIDENINGS: dict[Kind, tuple[Kind, ...]] = {
    Kind.BOOLEAN: (Kind.INT16, Kind.INT32, Kind.INT64, Kind.DECIMAL),
    Kind.INT16: (Kind.INT32, Kind.INT64, Kind.DECIMAL),
    Kind.INT32: (Kind.INT64, Kind.DECIMAL),
    Kind.INT64: (Kind.DECIMAL,),
    Kind.FLOAT32: (Kind.FLOAT64,),
    Kind.DATE: (Kind.TIMESTAMP,),
    Kind.UUID: (Kind.TEXT,),
    Kind.JSON: (Kind.TEXT,),
}

#: Kinds that can be an incremental cursor: ever-growing integers and points in time.
CURSOR_KINDS = frozenset(
    {Kind.INT16, Kind.INT32, Kind.INT64, Kind.DECIMAL, Kind.DATE, Kind.TIMESTAMP, Kind.TIMESTAMPTZ}
)


#: ``ColumnType.source_type`` of a column whose every value read was null (a JSON field seen only as
#: null): its real type is unknown, so a destination keeps the type an existing column already has.
NULL_ONLY_SOURCE_TYPE = "null"


@dataclass(frozen=True)
class ColumnType:
    kind: Kind
    precision: int | None = None
    scale: int | None = None
    #: The source's own type name, for messages and docs (e.g. ``tinyint(1) unsigned``).
    source_type: str | None = field(default=None, compare=False)

    def can_widen_to(self, other: ColumnType) -> bool:
        """True when every value of ``self`` is representable, unchanged, as ``other``."""
        if self.kind == other.kind:
            if self.kind != Kind.DECIMAL or other.precision is None:
                return True
            if self.precision is None:
                return False
            return _integer_digits(other) >= _integer_digits(self) and (other.scale or 0) >= (self.scale or 0)
        return other.kind in WIDENINGS.get(self.kind, ())

    def __str__(self) -> str:
        if self.kind == Kind.DECIMAL and self.precision is not None:
            return f"decimal({self.precision},{self.scale or 0})"
        return self.kind.value


def _integer_digits(decimal: ColumnType) -> int:
    return (decimal.precision or 0) - (decimal.scale or 0)


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = True


@dataclass(frozen=True)
class TableSchema:
    """A stream's columns in source order, and its primary key (empty: append-only)."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "primary_key": list(self.primary_key),
            "columns": [
                {
                    "name": c.name,
                    "type": str(c.type),
                    "source_type": c.type.source_type,
                    "nullable": c.nullable,
                }
                for c in self.columns
            ],
        }
