"""What the warehouse destinations share: target naming and the schema-drift decision.

Each destination maps :class:`~atlas.schema.ColumnType` onto its own SQL types and reads the types of
an existing table back from its catalog; deciding what a source change means for the target (add a
column, widen one, keep a wider one, or refuse) is the same everywhere and lives here. So does the
rule for a null-only source column (every value read was null, so its type is unknown): a target that
already has the column keeps its type, and one that lacks it gets it only once a value arrives.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import partial

from atlas.destinations.base import TargetTable
from atlas.exceptions import DestinationError
from atlas.models import check_identifier
from atlas.schema import NULL_ONLY_SOURCE_TYPE, Column, ColumnType, TableSchema
from atlas.sources.base import Batch, CopyChunk

#: Schema of targets whose ``target_table`` names none.
DEFAULT_SCHEMA = "raw"


def split_target(target_table: str | None, source_name: str, stream: str) -> tuple[str, str]:
    """``(schema, table)`` of a stream's target, validated: ``target_table`` or ``raw.<source>__<stream>``.

    A stream name may be schema-qualified (``public.orders``); characters other than letters, digits
    and ``_`` become ``_`` so the default name stays one plain identifier.
    """
    if target_table:
        schema, _, name = target_table.rpartition(".")
        schema = schema or DEFAULT_SCHEMA
    else:
        schema, name = DEFAULT_SCHEMA, f"{source_name}__{re.sub(r'[^A-Za-z0-9_]', '_', stream)}"
    for part in (schema, name):
        try:
            check_identifier(part, allow_schema=False)
        except ValueError as exc:
            raise DestinationError(
                f"connector {source_name!r}, stream {stream!r}: target {schema}.{name} is not usable: {exc}; "
                "set 'target_table' to a shorter or plainer name"
            ) from None
    return schema, name


@dataclass(frozen=True)
class SchemaChanges:
    """What must change in an existing target so the source's columns fit."""

    added: tuple[Column, ...] = ()
    #: Columns whose target type must be widened to the column's (source) type.
    widened: tuple[Column, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.widened)


def plan_changes(
    target: TargetTable,
    existing: Mapping[str, str],
    source: TableSchema,
    sql_type: Callable[[ColumnType], str],
    column_type: Callable[[str], ColumnType | None],
) -> SchemaChanges:
    """Compare a target's catalog types (``existing``: column -> SQL type) with the source's columns.

    A column the target lacks is added. A type that differs is widened when the target's type widens
    losslessly to the source's (int -> bigint), kept when the target's is already the wider one (the
    source narrowed: nothing is lost), and refused otherwise with an error naming table, column and
    both types. Target columns the source no longer has are kept (NULL in new rows). A null-only source
    column (:func:`is_null_only`) fits whatever type the target's column has: it is left as it is.
    """
    added, widened = [], []
    for col in source.columns:
        current = existing.get(col.name)
        if current is None:
            added.append(col)
            continue
        if is_null_only(col):
            continue
        wanted = sql_type(col.type)
        if current == wanted:
            continue
        old = column_type(current)
        if old is not None and old.can_widen_to(col.type):
            widened.append(col)
        elif old is not None and col.type.can_widen_to(old):
            continue
        else:
            raise DestinationError(
                f"table {target}: column {col.name!r} changed type from {current} to {wanted}"
                f" (source type {col.type.source_type or col.type}), which does not widen losslessly; "
                "change the column back in the source, or run a full refresh to rebuild the table"
            )
    return SchemaChanges(tuple(added), tuple(widened))


def is_null_only(col: Column) -> bool:
    """True for a column whose every value read was null (its type, declared as text, is a guess)."""
    return col.type.source_type == NULL_ONLY_SOURCE_TYPE


def align_null_only_columns(
    source: TableSchema, existing: Mapping[str, str], column_type: Callable[[str], ColumnType | None]
) -> tuple[TableSchema, Callable[[Iterable[Batch]], Iterable[Batch]]]:
    """The schema a load writes, and how to fit its batches to it, for null-only source columns.

    A null-only column never decides a column's type. One the target already has takes the target's
    type: a full refresh's new table keeps it, and :func:`plan_changes` leaves it alone (a catalog type
    Atlas does not map leaves the column as it is). One the target lacks is left out of this load: all
    its values are null, so nothing is lost, and the first run that sees a value creates it with its
    real type. Created as text now, it would refuse that type later.
    """
    columns, keep = [], []
    for i, col in enumerate(source.columns):
        if is_null_only(col):
            current = existing.get(col.name)
            if current is None and col.name not in source.primary_key:
                continue
            kept = column_type(current) if current is not None else None
            if kept is not None:
                col = replace(col, type=replace(kept, source_type=NULL_ONLY_SOURCE_TYPE))
        columns.append(col)
        keep.append(i)
    if not columns or len(columns) == len(source.columns):
        return replace(source, columns=tuple(columns or source.columns)), _as_they_are
    return replace(source, columns=tuple(columns)), partial(_project, tuple(keep))


def _as_they_are(batches: Iterable[Batch]) -> Iterable[Batch]:
    return batches


def _project(keep: tuple[int, ...], batches: Iterable[Batch]) -> Iterator[Batch]:
    for batch in batches:
        if isinstance(batch, CopyChunk):  # only REST reads have null-only columns, and they send rows
            raise DestinationError("cannot leave columns out of COPY text; a source mixed up its batches")
        yield [tuple(row[i] for i in keep) for row in batch]


def check_primary_key(target: TargetTable, existing: tuple[str, ...], source: TableSchema) -> None:
    """A merge needs the target keyed exactly like the source; say what to do when it is not."""
    if tuple(existing) != tuple(source.primary_key):
        raise DestinationError(
            f"table {target}: primary key is ({', '.join(existing) or 'none'}) in the warehouse but "
            f"({', '.join(source.primary_key)}) in the source; run a full refresh to rebuild the table"
        )
