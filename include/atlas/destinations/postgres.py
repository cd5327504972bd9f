"""The PostgreSQL warehouse: COPY into staging, merge by primary key, swap on full refresh.

Every load is one transaction on one connection (from ``PostgresHook``):

* **merge** (incremental, primary key): COPY into a TEMP staging table typed like the target, then one
  ``INSERT … SELECT DISTINCT ON (pk) … ON CONFLICT (pk) DO UPDATE`` (staging deduplicated by key,
  the last row read wins);
* **append** (incremental, no key): COPY straight into the target;
* **replace** (full refresh): COPY into a new table created in the same transaction (``FREEZE``: no
  later hint-bit rewrite), add the primary key, drop the old table and rename the new one.
  Readers keep seeing the old table until the commit. When views depend on the target, the table
  is refilled in place instead (``TRUNCATE`` + ``INSERT``, same transaction) so the views survive.

:class:`~atlas.sources.base.CopyChunk` batches (COPY text from a PostgreSQL source) are written to
COPY as they are: no value is decoded or re-encoded on the way.

A null-only source column (every value read was null, e.g. a REST field) keeps the type the target's
column already has, in every mode: no drift error, no ``ALTER``, and a full refresh rebuilds it with
that type rather than as text.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property

import psycopg
from psycopg import IsolationLevel, sql
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from atlas.deletes import POSTGRESQL, Key, KeySpace, SqlKeys
from atlas.destinations.base import DELETED_AT_COLUMN, SYNCED_AT_COLUMN, LoadMode, LoadResult, TargetTable
from atlas.destinations.common import (
    SchemaChanges,
    align_null_only_columns,
    check_primary_key,
    plan_changes,
    split_target,
)
from atlas.exceptions import DestinationError
from atlas.schema import ColumnType, Kind, TableSchema
from atlas.sources.base import Batch, CopyChunk

# Spelled the way PostgreSQL's format_type() prints them, so catalog types compare as strings.
_PG_TYPES: dict[Kind, str] = {
    Kind.BOOLEAN: "boolean",
    Kind.INT16: "smallint",
    Kind.INT32: "integer",
    Kind.INT64: "bigint",
    Kind.DECIMAL: "numeric",
    Kind.FLOAT32: "real",
    Kind.FLOAT64: "double precision",
    Kind.TEXT: "text",
    Kind.BINARY: "bytea",
    Kind.DATE: "date",
    Kind.TIME: "time without time zone",
    Kind.TIMESTAMP: "timestamp without time zone",
    Kind.TIMESTAMPTZ: "timestamp with time zone",
    Kind.INTERVAL: "interval",
    Kind.JSON: "jsonb",
    Kind.UUID: "uuid",
}
_KINDS_BY_PG_TYPE = {name: kind for kind, name in _PG_TYPES.items()} | {"json": Kind.JSON}
_NUMERIC = re.compile(r"numeric\((\d+),(\d+)\)")
_MAX_NUMERIC_PRECISION = 1000


def pg_type(column_type: ColumnType) -> str:
    """The PostgreSQL type of a portable column type (``numeric(p,s)`` when precision is known)."""
    if column_type.kind == Kind.DECIMAL and 0 < (column_type.precision or 0) <= _MAX_NUMERIC_PRECISION:
        return f"numeric({column_type.precision},{column_type.scale or 0})"
    return _PG_TYPES[column_type.kind]


def column_type(pg_type_name: str) -> ColumnType | None:
    """The portable type of a catalog type (``format_type`` output); None when Atlas has no mapping."""
    if match := _NUMERIC.fullmatch(pg_type_name):
        return ColumnType(Kind.DECIMAL, int(match[1]), int(match[2]))
    if pg_type_name.startswith(("character varying", "character(")) or pg_type_name == "character":
        return ColumnType(Kind.TEXT)
    kind = _KINDS_BY_PG_TYPE.get(pg_type_name)
    return ColumnType(kind) if kind else None


class PostgresDestination:
    """A PostgreSQL warehouse reached through the Airflow connection ``conn_id`` (type postgres)."""

    accepts_copy_text = True

    def __init__(self, conn_id: str):
        self.conn_id = conn_id

    @cached_property
    def _hook(self):
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        from atlas.settings import use_server_secrets_backends

        use_server_secrets_backends()
        return PostgresHook(postgres_conn_id=self.conn_id)

    def target(self, target_table: str | None, source_name: str, stream: str) -> TargetTable:
        schema, name = split_target(target_table, source_name, stream)
        return TargetTable(schema, name)

    def asset_uri(self, target: TargetTable) -> str:
        conn = self._hook.connection
        database = self._hook.database or conn.schema or "postgres"
        return f"postgres://{conn.host}:{conn.port or 5432}/{database}/{target.schema}/{target.name}"

    def load(self, target: TargetTable, schema: TableSchema, batches: Iterable[Batch], mode: LoadMode) -> LoadResult:
        with self._hook.get_conn() as conn:  # commits when the block ends, rolls back on an exception
            conn.row_factory = tuple_row  # a connection extra may ask for dict rows
            conn.execute("SET TIME ZONE 'UTC'")
            load = _Load(conn, target, schema)
            batches = load.fit(batches)
            load.ensure_schema()
            if mode == LoadMode.REPLACE:
                rows = load.replace(batches)
            elif mode == LoadMode.MERGE:
                rows = load.merge(batches)
            else:
                rows = load.append(batches)
        return LoadResult(rows_written=rows)

    @contextmanager
    def key_side(self, target: TargetTable, space: KeySpace) -> Iterator[_PostgresKeys]:
        """The target's live keys in one REPEATABLE READ transaction, which also marks the rows.

        ``_atlas_deleted_at`` and a partial index of the live rows' keys (so the checksums read an
        index, not the table) are added first, in a transaction of their own: ``ALTER TABLE`` locks
        out readers until its commit.
        """
        with self._hook.get_conn() as conn:  # commits when the block ends, rolls back on an exception
            conn.row_factory = tuple_row
            table = sql.Identifier(target.schema, target.name)
            types = _track_deletes(conn, target, table, space)
            conn.commit()
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            # Compiling the checksum queries costs more than it saves on tables of millions of rows.
            conn.execute("SET LOCAL jit = off")
            yield _PostgresKeys(conn, table, space, types)


def _track_deletes(conn: psycopg.Connection, target: TargetTable, table: sql.Identifier, space: KeySpace) -> list[str]:
    """Give ``target`` the deleted-at column and the live-key index when it lacks them; return the key
    columns' catalog types."""
    regclass = table.as_string(conn)
    types = dict(
        conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
            (regclass,),
        ).fetchall()
    )
    deleted_at = sql.Identifier(DELETED_AT_COLUMN)
    if DELETED_AT_COLUMN not in types:
        conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {} timestamptz").format(table, deleted_at))
    index = f"{target.name[:50]}_atlas_live"
    if (
        conn.execute("SELECT to_regclass(%s)", (sql.Identifier(target.schema, index).as_string(conn),)).fetchone()[0]
        is None
    ):
        conn.execute(
            sql.SQL("CREATE INDEX {} ON {} ({}) WHERE {} IS NULL").format(
                sql.Identifier(index), table, sql.SQL(", ").join(map(sql.Identifier, space.columns)), deleted_at
            )
        )
    return [types[name] for name in space.columns]


class _PostgresKeys(SqlKeys):
    """The warehouse side of delete detection on PostgreSQL (see :mod:`atlas.deletes`)."""

    def __init__(self, conn: psycopg.Connection, table: sql.Identifier, space: KeySpace, types: list[str]):
        deleted_at = sql.Identifier(DELETED_AT_COLUMN)
        live = sql.SQL("{} IS NULL").format(deleted_at).as_string(conn)
        super().__init__(
            POSTGRESQL, lambda statement: conn.execute(statement).fetchall(), table.as_string(conn), live=live
        )
        self._conn, self._target, self._space, self._types = conn, table, space, types

    def mark_deleted(self, keys: Sequence[Key]) -> int:
        return self._update(keys, sql.SQL("now()"), sql.SQL("IS NULL"))

    def unmark(self, keys: Sequence[Key]) -> int:
        return self._update(keys, sql.SQL("NULL"), sql.SQL("IS NOT NULL"))

    def _update(self, keys: Sequence[Key], value: sql.Composable, state: sql.Composable) -> int:
        if not keys:
            return 0
        # Keys travel as text arrays, cast back to the columns' types so that the key index applies.
        names = [sql.Identifier(f"k{i}") for i in range(len(self._space.columns))]
        statement = sql.SQL(
            "UPDATE {table} SET {deleted_at} = {value} WHERE {deleted_at} {state} AND ({key}) IN"
            " (SELECT {casts} FROM unnest({arrays}) AS k({names}))"
        ).format(
            table=self._target,
            deleted_at=sql.Identifier(DELETED_AT_COLUMN),
            value=value,
            state=state,
            key=sql.SQL(", ").join(map(sql.Identifier, self._space.columns)),
            casts=sql.SQL(", ").join(
                sql.SQL("{}::{}").format(n, sql.SQL(t)) for n, t in zip(names, self._types, strict=True)
            ),
            arrays=sql.SQL(", ").join(sql.SQL("%s::text[]") for _ in names),
            names=sql.SQL(", ").join(names),
        )
        return self._conn.execute(statement, [list(column) for column in zip(*keys, strict=True)]).rowcount


class _Load:
    """One load's statements, on one connection inside one transaction."""

    def __init__(self, conn: psycopg.Connection, target: TargetTable, schema: TableSchema):
        self.conn = conn
        self.target = target
        self.schema, self.fit = align_null_only_columns(schema, self.existing_columns(target), column_type)
        self.table = sql.Identifier(target.schema, target.name)
        self.columns = sql.SQL(", ").join(map(sql.Identifier, self.schema.column_names))
        self.key = sql.SQL(", ").join(map(sql.Identifier, schema.primary_key))
        self._json_positions = [i for i, c in enumerate(self.schema.columns) if c.type.kind == Kind.JSON]

    def execute(self, statement: sql.Composable, params: tuple = ()) -> psycopg.Cursor:
        return self.conn.execute(statement, params)

    # ---------------------------------------------------------------------------------- catalog
    def _regclass_name(self, table: TargetTable) -> str:
        return sql.Identifier(table.schema, table.name).as_string(self.conn)

    def existing_columns(self, table: TargetTable) -> dict[str, str]:
        """Column -> format_type() of ``table``, in column order; empty when the table does not exist."""
        rows = self.execute(
            sql.SQL(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
                " WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
            ),
            (self._regclass_name(table),),
        ).fetchall()
        return dict(rows)

    def existing_primary_key(self, table: TargetTable) -> tuple[str, ...]:
        rows = self.execute(
            sql.SQL(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
                " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
                " WHERE i.indrelid = to_regclass(%s) AND i.indisprimary"
                " ORDER BY array_position(i.indkey::int2[], a.attnum)"
            ),
            (self._regclass_name(table),),
        ).fetchall()
        return tuple(r[0] for r in rows)

    def dependent_views(self) -> list[str]:
        rows = self.execute(
            sql.SQL(
                "SELECT DISTINCT r.ev_class::regclass::text"
                " FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid"
                " WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = to_regclass(%s)"
                " AND r.ev_class <> d.refobjid"
            ),
            (self._regclass_name(self.target),),
        ).fetchall()
        return [r[0] for r in rows]

    # ---------------------------------------------------------------------------------- DDL
    def ensure_schema(self) -> None:
        exists = self.execute(
            sql.SQL("SELECT 1 FROM pg_namespace WHERE nspname = %s"), (self.target.schema,)
        ).fetchone()
        if exists:
            return
        try:
            with self.conn.transaction():  # a savepoint: a concurrent load may create it first
                self.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.target.schema)))
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateSchema):
            pass

    def create_table(self, table: TargetTable, *, primary_key: bool = True) -> None:
        columns = [
            sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(pg_type(c.type))) for c in self.schema.columns
        ]
        # now() is the transaction's start: one load time for every row of the load.
        columns.append(sql.SQL("{} timestamptz NOT NULL DEFAULT now()").format(sql.Identifier(SYNCED_AT_COLUMN)))
        if primary_key and self.schema.primary_key:
            columns.append(sql.SQL("PRIMARY KEY ({})").format(self.key))
        name = sql.Identifier(table.schema, table.name)
        self.execute(sql.SQL("CREATE TABLE {} ({})").format(name, sql.SQL(", ").join(columns)))

    def reconcile(self, existing: dict[str, str]) -> None:
        """Add new source columns and widen grown types on the existing target (drift)."""
        changes: SchemaChanges = plan_changes(self.target, existing, self.schema, pg_type, column_type)
        for col in changes.added:
            self.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                    self.table, sql.Identifier(col.name), sql.SQL(pg_type(col.type))
                )
            )
        for col in changes.widened:
            self.execute(
                sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {}").format(
                    self.table, sql.Identifier(col.name), sql.SQL(pg_type(col.type))
                )
            )
        if SYNCED_AT_COLUMN not in existing:
            self.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN {} timestamptz NOT NULL DEFAULT now()").format(
                    self.table, sql.Identifier(SYNCED_AT_COLUMN)
                )
            )

    # ---------------------------------------------------------------------------------- data
    def copy(self, table: sql.Composable, batches: Iterable[Batch], *, freeze: bool = False) -> int:
        """COPY every batch into ``table`` (source columns only); return the rows copied."""
        statement = sql.SQL("COPY {} ({}) FROM STDIN{}").format(
            table, self.columns, sql.SQL(" WITH (FREEZE)" if freeze else "")
        )
        with self.conn.cursor() as cur:
            with cur.copy(statement) as copy:
                for batch in batches:
                    if isinstance(batch, CopyChunk):
                        copy.write(batch.data)
                    else:
                        for row in self._adapted(batch):
                            copy.write_row(row)
            return cur.rowcount

    def _adapted(self, rows: list[tuple]) -> Iterator[tuple]:
        """Rows ready for COPY: JSON values (dict, list, scalars) wrapped as jsonb."""
        if not self._json_positions:
            yield from rows
            return
        for row in rows:
            values = list(row)
            for i in self._json_positions:
                if values[i] is not None:
                    values[i] = Jsonb(values[i])
            yield values

    def append(self, batches: Iterable[Batch]) -> int:
        existing = self.existing_columns(self.target)
        if existing:
            self.reconcile(existing)
        else:
            self.create_table(self.target, primary_key=False)
        return self.copy(self.table, batches)

    def merge(self, batches: Iterable[Batch]) -> int:
        existing = self.existing_columns(self.target)
        if existing:
            self.reconcile(existing)
            check_primary_key(self.target, self.existing_primary_key(self.target), self.schema)
        else:
            self.create_table(self.target)
        stage = sql.Identifier("_atlas_stage")
        # Staged with the target's own column types (after reconcile() every source column fits them), so
        # the upsert needs no cast: a null-only column staged as text could not go into a timestamptz.
        self.execute(
            sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
                stage, self.columns, self.table
            )
        )
        self.copy(stage, batches)
        updates = [
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(name))
            for name in (*self.schema.column_names, SYNCED_AT_COLUMN)
            if name not in self.schema.primary_key
        ]
        if DELETED_AT_COLUMN in existing:  # a row merged again exists in the source again
            updates.append(sql.SQL("{} = NULL").format(sql.Identifier(DELETED_AT_COLUMN)))
        upsert = sql.SQL(
            "INSERT INTO {target} ({columns}, {synced}) SELECT {distinct}{columns}, now() FROM {stage}{order}"
            " ON CONFLICT ({key}) DO UPDATE SET {updates}"
        )
        parts = dict(
            target=self.table,
            columns=self.columns,
            synced=sql.Identifier(SYNCED_AT_COLUMN),
            key=self.key,
            stage=stage,
            updates=sql.SQL(", ").join(updates),
        )
        # A table read in one snapshot cannot repeat a key, so first try without sorting the staging
        # rows; PostgreSQL refuses an upsert touching a row twice, and only then is the staging deduped.
        try:
            with self.conn.transaction():
                return self.execute(upsert.format(distinct=sql.SQL(""), order=sql.SQL(""), **parts)).rowcount
        except psycopg.errors.CardinalityViolation:
            pass
        # A freshly COPY-filled table lists its rows in insertion order, so ctid DESC keeps the last one read.
        deduped = upsert.format(
            distinct=sql.SQL("DISTINCT ON ({}) ").format(self.key),
            order=sql.SQL(" ORDER BY {}, ctid DESC").format(self.key),
            **parts,
        )
        return self.execute(deduped).rowcount

    def replace(self, batches: Iterable[Batch]) -> int:
        new = TargetTable(self.target.schema, f"_atlas_new_{uuid.uuid4().hex[:12]}")
        new_table = sql.Identifier(new.schema, new.name)
        self.create_table(new, primary_key=False)
        rows = self.copy(new_table, batches, freeze=True)
        if self.schema.primary_key:
            rows -= self._add_primary_key(new_table)
        existing = self.existing_columns(self.target)
        views = self.dependent_views() if existing else []
        if views:
            self._refill_in_place(existing, new_table)
            return rows
        if existing:
            self.execute(sql.SQL("DROP TABLE {}").format(self.table))
        self.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(new_table, sql.Identifier(self.target.name)))
        if self.schema.primary_key:
            self.execute(
                sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
                    self.table,
                    sql.Identifier(f"{new.name}_pkey"),
                    sql.Identifier(f"{self.target.name[:58]}_pkey"),
                )
            )
        return rows

    def _add_primary_key(self, table: sql.Identifier) -> int:
        """Key the new table; when the source repeated a key, keep the last row read. Return rows dropped."""
        add = sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(table, self.key)
        try:
            with self.conn.transaction():
                self.execute(add)
            return 0
        except psycopg.errors.UniqueViolation:
            pass
        pairs = sql.SQL(" AND ").join(
            sql.SQL("a.{0} = b.{0}").format(sql.Identifier(k)) for k in self.schema.primary_key
        )
        dropped = self.execute(
            sql.SQL("DELETE FROM {t} a USING {t} b WHERE {pairs} AND a.ctid < b.ctid").format(t=table, pairs=pairs)
        ).rowcount
        self.execute(add)
        return dropped

    def _refill_in_place(self, existing: dict[str, str], new_table: sql.Identifier) -> None:
        """Full refresh of a table that views depend on: keep the table (and the views), swap its rows."""
        try:
            with self.conn.transaction():
                self.reconcile(existing)
        except psycopg.errors.FeatureNotSupported as exc:  # e.g. widening a column a view selects
            raise DestinationError(
                f"table {self.target}: {exc.diag.message_primary}; views depending on it: "
                f"{', '.join(self.dependent_views())}. Drop or adapt them, then run the full refresh again"
            ) from None
        self.execute(sql.SQL("TRUNCATE {}").format(self.table))
        self.execute(
            sql.SQL("INSERT INTO {} ({cols}, {synced}) SELECT {cols}, {synced} FROM {}").format(
                self.table, new_table, cols=self.columns, synced=sql.Identifier(SYNCED_AT_COLUMN)
            )
        )
        self.execute(sql.SQL("DROP TABLE {}").format(new_table))
