"""The embedded SQLite warehouse: one file, no server; the default when ``atlas_warehouse`` is unset.

SQLite has no schemas, so ``raw.orders`` becomes the table ``raw__orders``. Values that SQLite would
round or reinterpret are stored as text in a lossless, sortable form: decimals as their exact digits,
timestamps as ISO 8601 with microseconds (``TIMESTAMPTZ`` converted to UTC, ``+00:00``), dates and
times as ISO, JSON as JSON text, UUIDs as their canonical text, intervals as Python's ``str(timedelta)``.
The declared column types (``DECIMAL_TEXT(10,2)``, ``TIMESTAMPTZ_TEXT`` …) record the portable type
for schema-drift checks and are chosen so that SQLite's affinity rules give TEXT affinity where the
value is text (a ``NUMERIC`` affinity would turn ``'1.10'`` into the float ``1.1``).

A load is one ``BEGIN IMMEDIATE`` transaction: ``executemany`` of ``INSERT … ON CONFLICT (pk) DO
UPDATE`` (last row wins). A full refresh fills a new table and renames it over the old one in the same
transaction; a type widening rebuilds the table the same way (SQLite cannot alter a column's type).
A null-only source column (every value read was null) keeps the declared type the target's column
already has, in every mode, full refresh included.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from atlas.deletes import SQLITE, Key, KeySpace, SqlKeys, md5_32
from atlas.destinations.base import DELETED_AT_COLUMN, SYNCED_AT_COLUMN, LoadMode, LoadResult, TargetTable
from atlas.destinations.common import align_null_only_columns, check_primary_key, plan_changes, split_target
from atlas.exceptions import DestinationError
from atlas.schema import Column, ColumnType, Kind, TableSchema
from atlas.sources.base import Batch, CopyChunk

# Declared types: the name says the portable type; affinity (INT -> INTEGER, TEXT -> TEXT, DOUB/REAL
# -> REAL, BLOB -> none, else NUMERIC) keeps each value as written. None may contain "INT" unless it is one.
_SQLITE_TYPES: dict[Kind, str] = {
    Kind.BOOLEAN: "BOOLEAN",
    Kind.INT16: "SMALLINT",
    Kind.INT32: "INTEGER",
    Kind.INT64: "BIGINT",
    Kind.DECIMAL: "DECIMAL_TEXT",
    Kind.FLOAT32: "REAL",
    Kind.FLOAT64: "DOUBLE",
    Kind.TEXT: "TEXT",
    Kind.BINARY: "BLOB",
    Kind.DATE: "DATE_TEXT",
    Kind.TIME: "TIME_TEXT",
    Kind.TIMESTAMP: "TIMESTAMP_TEXT",
    Kind.TIMESTAMPTZ: "TIMESTAMPTZ_TEXT",
    Kind.INTERVAL: "DURATION_TEXT",
    Kind.JSON: "JSON_TEXT",
    Kind.UUID: "UUID_TEXT",
}
_KINDS_BY_SQLITE_TYPE = {name: kind for kind, name in _SQLITE_TYPES.items()}
_DECIMAL = re.compile(r"DECIMAL_TEXT\((\d+),(\d+)\)")
_SYNCED_AT_TYPE = _SQLITE_TYPES[Kind.TIMESTAMPTZ]
_MICROSECONDS = "microseconds"


def sqlite_type(column_type: ColumnType) -> str:
    if column_type.kind == Kind.DECIMAL and column_type.precision:
        return f"DECIMAL_TEXT({column_type.precision},{column_type.scale or 0})"
    return _SQLITE_TYPES[column_type.kind]


def column_type(declared: str) -> ColumnType | None:
    if match := _DECIMAL.fullmatch(declared):
        return ColumnType(Kind.DECIMAL, int(match[1]), int(match[2]))
    kind = _KINDS_BY_SQLITE_TYPE.get(declared)
    return ColumnType(kind) if kind else None


def quote(identifier: str) -> str:
    """SQLite's identifier quoting (a double quote doubled)."""
    return '"' + identifier.replace('"', '""') + '"'


def _timestamptz(value: Any) -> Any:
    return value.astimezone(UTC).isoformat(timespec=_MICROSECONDS) if isinstance(value, datetime) else value


def _timestamp(value: Any) -> Any:
    return value.isoformat(timespec=_MICROSECONDS) if isinstance(value, datetime) else value


def _date(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _time(value: Any) -> Any:
    return value.isoformat(timespec=_MICROSECONDS) if isinstance(value, time) else value


def _decimal(value: Any) -> str:
    # Fixed-point digits: str() would write Decimal("0.0000000001") as "1E-10".
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# Values SQLite would otherwise reject (Decimal, UUID, dict) or store lossily; None passes untouched.
_CONVERTERS: dict[Kind, Callable[[Any], Any]] = {
    Kind.DECIMAL: _decimal,
    Kind.TIMESTAMPTZ: _timestamptz,
    Kind.TIMESTAMP: _timestamp,
    Kind.DATE: _date,
    Kind.TIME: _time,
    Kind.INTERVAL: str,
    Kind.JSON: _json,
    Kind.UUID: str,
}

# How stored values of a widened column are rewritten when the table is rebuilt with the wider type.
_WIDENING_SQL: dict[Kind, str] = {
    Kind.DECIMAL: "CAST({} AS TEXT)",
    Kind.TIMESTAMP: "{} || 'T00:00:00.000000'",  # only DATE widens to TIMESTAMP
}


class SqliteDestination:
    """A warehouse in one SQLite file."""

    accepts_copy_text = False

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser().resolve()

    @classmethod
    def from_connection(cls, conn_id: str) -> SqliteDestination:
        """The file of an Airflow sqlite connection (its ``host`` holds the path, as for ``SqliteHook``)."""
        from atlas.connections import get_connection

        path = get_connection(conn_id).host
        if not path:
            raise DestinationError(f"connection {conn_id!r}: set 'host' to the SQLite warehouse file's path")
        return cls(path)

    def target(self, target_table: str | None, source_name: str, stream: str) -> TargetTable:
        schema, name = split_target(target_table, source_name, stream)
        return TargetTable(None, f"{schema}__{name}")

    def asset_uri(self, target: TargetTable) -> str:
        # "sqlite://localhost/<abs path>/<table>": Airflow keeps it as is (an empty host would be folded).
        return f"sqlite://localhost{self.path.as_posix()}/{target.name}"

    def load(self, target: TargetTable, schema: TableSchema, batches: Iterable[Batch], mode: LoadMode) -> LoadResult:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._write_transaction(wal=True) as conn:
            return LoadResult(rows_written=_Load(conn, target, schema).run(batches, mode))

    @contextmanager
    def _write_transaction(self, *, wal: bool = False) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction on the warehouse file: committed, or rolled back on any error."""
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=60)
        try:
            if wal:
                conn.execute("PRAGMA journal_mode=WAL")  # readers keep reading while a load writes
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    @contextmanager
    def key_side(self, target: TargetTable, space: KeySpace) -> Iterator[_SqliteKeys]:
        """The target's live keys in one ``BEGIN IMMEDIATE`` transaction, which also marks the rows.

        Immediate, because the marking writes at the end: a deferred transaction's snapshot could no
        longer write once another load committed to the file in between.
        """
        with self._write_transaction() as conn:
            columns = {row[0] for row in conn.execute("SELECT name FROM pragma_table_info(?)", (target.name,))}
            if DELETED_AT_COLUMN not in columns:
                conn.execute(
                    f"ALTER TABLE {quote(target.name)} ADD COLUMN {quote(DELETED_AT_COLUMN)} {_SYNCED_AT_TYPE}"
                )
            conn.create_function("atlas_md5_32", 1, md5_32, deterministic=True)
            yield _SqliteKeys(conn, target, space)


class _SqliteKeys(SqlKeys):
    """The warehouse side of delete detection on SQLite (see :mod:`atlas.deletes`)."""

    def __init__(self, conn: sqlite3.Connection, target: TargetTable, space: KeySpace):
        super().__init__(
            SQLITE,
            lambda statement: conn.execute(statement).fetchall(),
            quote(target.name),
            live=f"{quote(DELETED_AT_COLUMN)} IS NULL",
            thread_safe=False,
        )
        self._conn, self._space = conn, space
        self._integer = [kind not in (Kind.TEXT, Kind.UUID) for kind in space.kinds]
        self._statement = (
            f"UPDATE {quote(target.name)} SET {quote(DELETED_AT_COLUMN)} = ? WHERE {quote(DELETED_AT_COLUMN)} {{}}"
            + "".join(f" AND {quote(name)} = ?" for name in space.columns)
        )

    def mark_deleted(self, keys: Sequence[Key]) -> int:
        now = datetime.now(UTC).isoformat(timespec=_MICROSECONDS)
        return self._update(keys, now, "IS NULL")

    def unmark(self, keys: Sequence[Key]) -> int:
        return self._update(keys, None, "IS NOT NULL")

    def _update(self, keys: Sequence[Key], value: str | None, state: str) -> int:
        if not keys:
            return 0
        rows = [
            (value, *(int(v) if integer else v for v, integer in zip(key, self._integer, strict=True))) for key in keys
        ]
        return self._conn.executemany(self._statement.format(state), rows).rowcount


class _Load:
    """One load's statements inside one transaction."""

    def __init__(self, conn: sqlite3.Connection, target: TargetTable, schema: TableSchema):
        self.conn = conn
        self.target = target
        self.schema, self.fit = align_null_only_columns(schema, self.existing_columns(target.name), column_type)
        self.synced_at = datetime.now(UTC).isoformat(timespec=_MICROSECONDS)

    def run(self, batches: Iterable[Batch], mode: LoadMode) -> int:
        batches = self.fit(batches)
        if mode == LoadMode.REPLACE:
            new = f"_atlas_new_{uuid.uuid4().hex[:12]}"
            self.create_table(new, self.source_columns, self.schema.primary_key)
            self.insert(new, batches)
            self.swap(new)
            # Repeated keys were upserted: count what the table holds, not what was offered.
            return self.conn.execute(f"SELECT count(*) FROM {quote(self.target.name)}").fetchone()[0]
        existing = self.existing_columns(self.target.name)
        if not existing:
            key = self.schema.primary_key if mode == LoadMode.MERGE else ()
            self.create_table(self.target.name, self.source_columns, key)
        else:
            self.reconcile(existing)
            if mode == LoadMode.MERGE:
                check_primary_key(self.target, self.existing_primary_key(self.target.name), self.schema)
        # A row merged again exists in the source again: clear its deleted mark (detect_deletes).
        clear_deleted = DELETED_AT_COLUMN in existing
        return self.insert(self.target.name, batches, merge=mode == LoadMode.MERGE, clear_deleted=clear_deleted)

    # ---------------------------------------------------------------------------------- catalog
    def existing_columns(self, table: str) -> dict[str, str]:
        rows = self.conn.execute("SELECT name, type FROM pragma_table_info(?) ORDER BY cid", (table,))
        return dict(rows.fetchall())

    def existing_primary_key(self, table: str) -> tuple[str, ...]:
        rows = self.conn.execute("SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", (table,))
        return tuple(r[0] for r in rows)

    # ---------------------------------------------------------------------------------- DDL
    @property
    def source_columns(self) -> list[tuple[str, str]]:
        return [(c.name, sqlite_type(c.type)) for c in self.schema.columns]

    def create_table(self, table: str, columns: Iterable[tuple[str, str]], primary_key: tuple[str, ...]) -> None:
        """Create ``table`` with ``(name, declared type)`` columns, the synced-at column and the key."""
        parts = [f"{quote(name)} {declared}" for name, declared in columns]
        parts.append(f"{quote(SYNCED_AT_COLUMN)} {_SYNCED_AT_TYPE} NOT NULL")
        if primary_key:
            parts.append(f"PRIMARY KEY ({', '.join(map(quote, primary_key))})")
        self.conn.execute(f"CREATE TABLE {quote(table)} ({', '.join(parts)})")

    def reconcile(self, existing: dict[str, str]) -> None:
        """Add new columns; widen grown types by rebuilding the table with them (same transaction)."""
        changes = plan_changes(self.target, existing, self.schema, sqlite_type, column_type)
        for col in changes.added:
            self.conn.execute(
                f"ALTER TABLE {quote(self.target.name)} ADD COLUMN {quote(col.name)} {sqlite_type(col.type)}"
            )
        if changes.widened:
            self._rebuild({c.name: c for c in changes.widened})

    def _rebuild(self, widened: dict[str, Column]) -> None:
        current = self.existing_columns(self.target.name)
        current.pop(SYNCED_AT_COLUMN, None)
        columns = [
            (name, sqlite_type(widened[name].type) if name in widened else declared)
            for name, declared in current.items()
        ]
        new = f"_atlas_new_{uuid.uuid4().hex[:12]}"
        self.create_table(new, columns, self.existing_primary_key(self.target.name))
        names = [*current, SYNCED_AT_COLUMN]
        selected = [
            _WIDENING_SQL.get(widened[name].type.kind, "{}").format(quote(name)) if name in widened else quote(name)
            for name in names
        ]
        self.conn.execute(
            f"INSERT INTO {quote(new)} ({', '.join(map(quote, names))})"
            f" SELECT {', '.join(selected)} FROM {quote(self.target.name)}"
        )
        self.swap(new)

    def swap(self, new: str) -> None:
        """Put table ``new`` in the target's place (inside the load's transaction)."""
        self.conn.execute(f"DROP TABLE IF EXISTS {quote(self.target.name)}")
        # Views naming the target would make a modern RENAME fail ("no such table" while the name is
        # free); the legacy rename leaves them alone, and they resolve to the new table afterwards.
        self.conn.execute("PRAGMA legacy_alter_table = ON")
        try:
            self.conn.execute(f"ALTER TABLE {quote(new)} RENAME TO {quote(self.target.name)}")
        finally:
            self.conn.execute("PRAGMA legacy_alter_table = OFF")

    # ---------------------------------------------------------------------------------- data
    def insert(self, table: str, batches: Iterable[Batch], *, merge: bool = True, clear_deleted: bool = False) -> int:
        names = [*self.schema.column_names, SYNCED_AT_COLUMN]
        statement = (
            f"INSERT INTO {quote(table)} ({', '.join(map(quote, names))}) VALUES ({', '.join('?' * len(names))})"
        )
        if merge and self.schema.primary_key:
            updates = ", ".join(f"{quote(n)} = excluded.{quote(n)}" for n in names if n not in self.schema.primary_key)
            if clear_deleted:
                updates += f", {quote(DELETED_AT_COLUMN)} = NULL"
            statement += f" ON CONFLICT ({', '.join(map(quote, self.schema.primary_key))}) DO UPDATE SET {updates}"
        convert = self._row_converter()
        rows = 0
        for batch in batches:
            if isinstance(batch, CopyChunk):
                raise DestinationError(f"table {self.target}: SQLite cannot load COPY text; the source must send rows")
            self.conn.executemany(statement, map(convert, batch))
            rows += len(batch)
        return rows

    def _row_converter(self) -> Callable[[tuple], tuple]:
        converters = [
            (i, _CONVERTERS[c.type.kind]) for i, c in enumerate(self.schema.columns) if c.type.kind in _CONVERTERS
        ]
        synced_at = self.synced_at

        def convert(row: tuple) -> tuple:
            values = list(row)
            for i, fn in converters:
                if values[i] is not None:
                    values[i] = fn(values[i])
            values.append(synced_at)
            return tuple(values)

        return convert
